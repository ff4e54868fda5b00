"""Checked reads of HDF5 datasets (dtype, ndim, finiteness) with messages naming file and HDF5 path.

Re-exported by :mod:`sictl.io._h5`.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from sictl.errors import SchemaError
from sictl.io._files import display_name

#: Target size of one HDF5 chunk in bytes (chunks are whole samples along the leading axis).
CHUNK_BYTES = 1024 * 1024


_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64}


def get_dataset(
    f: h5py.File | h5py.Group,
    key: str,
    path: str | os.PathLike,
    *,
    dtype: str | None,
    ndim: int | tuple[int, ...] | None = None,
    shape: str = "",
) -> h5py.Dataset:
    """Return dataset ``key`` of ``f`` after checking that it exists, its dtype and its ndim.

    Args:
        f: open file or group.
        key: dataset name relative to ``f``.
        path: file path, for messages.
        dtype: expected dtype name (``"float32"``, ``"float64"``, ``"int64"``) or None for any.
        ndim: expected number of dimensions (one value or a tuple of allowed values).
        shape: human description of the expected shape, e.g. ``"(N, C, H, W)"``.

    Raises:
        SchemaError: ``"<file>: /samples: expected float32 (N, C, H, W), got float64 (3, 4)"``.
    """
    name = display_name(path)
    obj = f.get(key)
    full = f"{f.name.rstrip('/')}/{key}"
    expected = f"{dtype or ''} {shape}".strip()
    if not isinstance(obj, h5py.Dataset):
        raise SchemaError(
            f"{name}: missing dataset {full}" + (f" (expected {expected})" if expected else ""),
            hint="the file is incomplete or not of this kind; regenerate it",
        )
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    bad_dtype = dtype is not None and obj.dtype != np.dtype(_DTYPES[dtype])
    if bad_dtype or (allowed is not None and obj.ndim not in allowed):
        raise SchemaError(
            f"{name}: {full}: expected {expected}, got {obj.dtype} {tuple(obj.shape)}",
            hint="the file was written by another tool or edited; regenerate it with sictl",
        )
    return obj


def check_finite(array: np.ndarray, path: str | os.PathLike, where: str, *, offset: int = 0) -> None:
    """Raise if ``array`` holds NaN or ±inf; ``offset`` is the index of ``array[0]`` in the file.

    Raises:
        SchemaError: naming the file, the HDF5 path, the count and the first bad index.
    """
    bad = ~np.isfinite(array)
    if bad.any():
        first = [int(i) for i in np.unravel_index(int(np.argmax(bad)), array.shape)]
        index = (first[0] + offset, *first[1:]) if array.ndim else ()
        raise SchemaError(
            f"{display_name(path)}: {where}: {int(bad.sum())} non-finite value(s), first at index {index}",
            hint="the producing run diverged (NaN/inf); regenerate it (smaller step, other schedule)",
        )


def read_array(
    f: h5py.File | h5py.Group,
    key: str,
    path: str | os.PathLike,
    *,
    dtype: str | None,
    ndim: int | tuple[int, ...] | None = None,
    shape: str = "",
    finite: bool = True,
) -> np.ndarray:
    """Read a whole dataset with :func:`get_dataset` checks, then (optionally) a finiteness check."""
    ds = get_dataset(f, key, path, dtype=dtype, ndim=ndim, shape=shape)
    array = ds[()]
    if finite:
        check_finite(np.asarray(array), path, ds.name)
    return np.asarray(array)


def sample_chunks(shape: tuple[int, ...], itemsize: int = 4) -> tuple[int, ...]:
    """Chunk shape for an array whose leading axis indexes samples: whole rows, ≈ :data:`CHUNK_BYTES`."""
    row = int(np.prod(shape[1:], dtype=np.int64)) * itemsize
    rows = max(1, min(max(shape[0], 1), CHUNK_BYTES // max(row, 1)))
    return (rows, *shape[1:])
