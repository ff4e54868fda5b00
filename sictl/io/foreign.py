"""Reading somebody else's arrays: ``.npy``, ``.npz``, ``.pt`` (tensors only) and ``.h5``.

:func:`open_foreign` (a context manager) gives a :class:`ForeignArray` whose ``data`` is an
:class:`ArraySource`: the array with the axes it has in the file, read in slices along any axis
(``sictl prepare import`` streams it that way), plus what the file says about its axes (a time axis, a
known layout, a normalisation constant). :func:`read_foreign` is the same with the whole array loaded
(``sictl evaluate``). Turning it into samples or trajectories is the job of
:mod:`sictl.pipeline.layout`, which understands ``--layout`` strings. Supported inputs (docs/cli.md,
``prepare import`` and ``evaluate``):

* ``.npy``: one array, memory-mapped (``mmap_mode="r"``; ``allow_pickle=False``: object arrays are
  refused). Arrays numpy cannot map (empty ones) are read whole.
* ``.npz``: the array named by ``key``, or the only array; ``{data, time}`` pairs are recognised. A zip
  member cannot be memory-mapped, so the chosen array is held in memory (convert big ones to .npy/.h5).
* ``.pt``: ``torch.load(weights_only=True, mmap=True)`` (files of the legacy, non-zip format are read
  whole, still with ``weights_only=True``): a tensor, a dict of tensors (``key``), or a tuple/list
  (``key`` = index). The authors' Navier–Stokes files are the tuple ``(data, time)`` with data
  ``(traj, time, H, W)``; it is recognised and ``time`` is exposed.
* ``.h5``: ``key`` is the HDF5 dataset path, or the only dataset, read by hyperslabs. A sictl
  ``samples`` file gives its ``/samples`` (data units); a sictl ``dataset`` file gives
  ``t0_fields/<key or only field>`` multiplied by its normalisation constant (data units), cut to its
  periodic ``@fft_nodes`` points when it has them, with its times, its per-mode power and its
  ``@mixture`` (both in data units).

Values are checked batch by batch as they are read: non-finite values raise
:class:`~sictl.errors.SchemaError` naming the first bad index, unless the check is switched off
(``allow_nonfinite=True``: the caller then counts them; ``sictl evaluate`` reports them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from sictl.errors import SchemaError
from sictl.io._files import check_input_file, display_name
from sictl.io._h5 import SCHEMA_VERSION, attr_str, check_root, open_input

__all__ = ["ArraySource", "ForeignArray", "open_foreign", "read_foreign", "load_foreign_array", "FOREIGN_SUFFIXES"]

#: File suffixes read by :func:`read_foreign` (anything else is sniffed: HDF5, zip, npy magic).
FOREIGN_SUFFIXES = (".npy", ".npz", ".pt", ".pth", ".h5", ".hdf5")
#: Default size of the slices :meth:`ArraySource.blocks` reads.
BLOCK_BYTES = 32 << 20


@dataclass(frozen=True, eq=False)
class ForeignArray:
    """An array read from a file, with what the file says about its axes.

    Attributes:
        data: the array as stored (float32 or float64; integers are converted to float64): an
            :class:`ArraySource` from :func:`open_foreign`, a loaded ``np.ndarray`` from :func:`read_foreign`.
        path: the path given to the reader.
        kind: ``"npy"``, ``"npz"``, ``"pt"``, ``"h5"``, ``"sictl-samples"``, ``"sictl-dataset"``, ``"sictl-forecasts"``,
            ``"xarray-nc"`` or ``"xarray-zarr"`` (:mod:`sictl.io.forecast_export`).
        key: the key / HDF5 path / index the array was taken from ("" if the file holds one array).
        time: (T,) snapshot times when the file provides them (Navier–Stokes ``.pt``, sictl datasets).
        layout: the layout string when the file defines it (sictl files, the authors' ``.pt``), else None.
        attrs: extra facts: ``normalization_constant``, ``mode_power`` (data units), ``mixture`` (JSON
            dict), ``field``, ``sictl_kind``.
    """

    data: np.ndarray | ArraySource
    path: str
    kind: str
    key: str = ""
    time: np.ndarray | None = None
    layout: str | None = None
    attrs: dict = field(default_factory=dict)


def _fail(path, message: str, hint: str | None = None) -> SchemaError:
    return SchemaError(f"{display_name(path)}: {message}", hint=hint)


def _float_dtype(path, dtype: Any, where: str) -> np.dtype:
    """The float dtype an array of ``dtype`` (numpy or torch) is read as; refuses non-numbers."""
    torch = sys.modules.get("torch")  # a torch dtype exists only once torch is loaded: no import for numpy/HDF5
    if torch is not None and isinstance(dtype, torch.dtype):
        if dtype == torch.bool:
            dtype = np.dtype(bool)
        elif dtype.is_complex:
            dtype = np.dtype(complex)
        elif dtype in (torch.float16, torch.bfloat16, torch.float32):
            return np.dtype(np.float32)
        else:
            dtype = np.dtype(np.float64) if dtype.is_floating_point else np.dtype(np.int64)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        raise _fail(path, f"{where} is a boolean array, not numbers", hint="save the values as a float array")
    if dtype.kind in "iu":
        return np.dtype(np.float64)
    if dtype.kind == "c":
        raise _fail(path, f"{where} holds complex numbers", hint="store the real field (or real and imaginary parts)")
    if dtype.kind != "f":
        raise _fail(path, f"{where} has dtype {dtype}, not a numeric array", hint="save a float array")
    return np.dtype(np.float32 if dtype.itemsize <= 4 else np.float64)


def _check_finite(path, a: np.ndarray, where: str, axis: int = 0, offset: int = 0) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        first = [int(i) for i in np.unravel_index(int(np.argmax(bad)), a.shape)]
        if first:
            first[axis] += offset
        raise _fail(path, f"{where}: {int(bad.sum())} non-finite value(s) (NaN/inf) in a block, first at index "
                    f"{tuple(first)}", hint="the run that wrote it diverged or the file is damaged; regenerate it")


class ArraySource:
    """A numeric array in a file, read in slices: nothing is loaded until asked.

    Backed by a read-only ``np.memmap`` (``.npy``), an array in memory (``.npz``), a memory-mapped
    tensor (``.pt``) or an ``h5py.Dataset`` (``.h5``, valid while :func:`open_foreign`'s block runs).
    Every slice read is converted to float32/float64 (``dtype``), scaled and, unless asked not to,
    checked for NaN/inf (the error names the index in the whole array).

    Attributes:
        shape, dtype: of the array as read (``last`` cuts the last axis to its first points).
        where: how messages name it (e.g. ``array 'u'``).
    """

    def __init__(self, path, base: Any, where: str, *, last: int | None = None, scale: float = 1.0):
        self.path, self.where, self._base, self._scale = path, where, base, float(scale)
        shape = tuple(int(n) for n in base.shape)
        if last is not None and shape:
            shape = (*shape[:-1], min(int(last), shape[-1]))
        self.shape: tuple[int, ...] = shape
        self.dtype = _float_dtype(path, base.dtype, where)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def rows_for(self, axis: int = 0, budget: int | None = None) -> int:
        """How many indices along ``axis`` make a slice of about ``budget`` bytes (default
        :data:`BLOCK_BYTES`), at least 1."""
        row = self.nbytes // max(self.shape[axis], 1)
        return max(1, (BLOCK_BYTES if budget is None else budget) // max(row, 1))

    def read(self, axis: int = 0, start: int = 0, stop: int | None = None, *, check: bool = True) -> np.ndarray:
        """``array[..., start:stop, ...]`` along ``axis`` (everything for a 0-d array), as a new float array."""
        import torch

        index = tuple(slice(0, n) for n in self.shape)
        if self.ndim:
            stop = self.shape[axis] if stop is None else min(stop, self.shape[axis])
            index = (*index[:axis], slice(start, stop), *index[axis + 1 :])
        part = self._base[index]
        if isinstance(part, torch.Tensor):
            part = part.float() if part.dtype in (torch.float16, torch.bfloat16) else part
            part = part.numpy()
        if isinstance(self._base, h5py.Dataset):  # h5py hands over a fresh array
            block = np.asarray(part, dtype=self.dtype)
        else:  # a copy: never a view into a mapped file or into the array held in memory
            block = np.array(part, dtype=self.dtype)
        if self._scale != 1.0:
            block *= block.dtype.type(self._scale)
        if check:
            _check_finite(self.path, block, self.where, axis, start)
        return block

    def blocks(self, axis: int = 0, rows: int | None = None, *,
               check: bool = True) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, slice)`` pairs covering the array along ``axis``, ``rows`` indices each (default:
        :meth:`rows_for`, about :data:`BLOCK_BYTES`)."""
        rows = rows or self.rows_for(axis)
        for start in range(0, self.shape[axis], rows):
            yield start, self.read(axis, start, start + rows, check=check)

    def load(self, *, check: bool = True) -> np.ndarray:
        """The whole array (read, and checked, block by block along the first axis)."""
        if not self.ndim:
            return self.read(check=check)
        out = np.empty(self.shape, self.dtype)
        for start, block in self.blocks(0, check=check):
            out[start : start + len(block)] = block
        return out


def _sniff(local: str) -> str:
    with open(local, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\x93NUMPY"):
        return ".npy"
    if head.startswith(b"\x89HDF"):
        return ".h5"
    if head.startswith(b"PK"):  # zip: .npz or a torch archive
        return ".zip"
    return ""


@contextlib.contextmanager
def open_foreign(path: str | os.PathLike, key: str | None = None) -> Iterator[ForeignArray]:
    """Open one array of a ``.npy``, ``.npz``, ``.pt`` or ``.h5`` file without loading it.

    Yields a :class:`ForeignArray` whose ``data`` is an :class:`ArraySource` (read it in slices,
    inside the ``with`` block). Values are checked as they are read (see :meth:`ArraySource.read`).

    Args:
        path: the file (``-`` = stdin).
        key: array name (``.npz``), dict key or tuple index (``.pt``), or HDF5 dataset path / field name.

    Raises:
        SchemaError: unreadable or pickled files, missing keys, several arrays and no key,
            non-numeric arrays.
    """
    from sictl.io.forecast_export import export_kind, open_exported

    if export_kind(path) is not None:  # netCDF / zarr through xarray (a zarr store is a folder)
        with open_exported(path, key) as out:
            yield out
        return
    local = check_input_file(path)
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix not in FOREIGN_SUFFIXES:
        suffix = _sniff(local)
    if suffix == ".zip":
        suffix = ".npz" if _is_npz(local) else ".pt"
    with contextlib.ExitStack() as stack:
        if suffix == ".npy":
            out = _read_npy(path, local)
        elif suffix == ".npz":
            out = _read_npz(path, local, key)
        elif suffix in (".pt", ".pth"):
            out = _read_pt(path, local, key)
        elif suffix in (".h5", ".hdf5"):
            out = _read_h5(path, stack.enter_context(open_input(path)), key)
        else:
            raise _fail(path, "unknown file type", hint="sictl reads .npy, .npz, .pt (tensors only) and .h5 files")
        yield out


def read_foreign(path: str | os.PathLike, key: str | None = None, *, allow_nonfinite: bool = False) -> ForeignArray:
    """Read one whole array from a ``.npy``, ``.npz``, ``.pt`` or ``.h5`` file (see the module docstring).

    Args:
        path: the file (``-`` = stdin for HDF5 inputs).
        key: array name (``.npz``), dict key or tuple index (``.pt``), or HDF5 dataset path / field name.
        allow_nonfinite: keep NaN/inf values instead of raising.

    Returns:
        A :class:`ForeignArray` whose ``data`` is a ``np.ndarray`` (the whole array in memory; use
        :func:`open_foreign` to read it in slices).

    Raises:
        SchemaError: unreadable or pickled files, missing keys, several arrays and no key, non-numeric
            arrays, non-finite values.
    """
    with open_foreign(path, key) as fa:
        return dataclasses.replace(fa, data=fa.data.load(check=not allow_nonfinite))


def load_foreign_array(path: str | os.PathLike, key: str | None = None, *, allow_nonfinite: bool = False) -> np.ndarray:
    """The array of :func:`read_foreign` only."""
    return read_foreign(path, key, allow_nonfinite=allow_nonfinite).data


def _where(key: str | None) -> str:
    return f"array {key!r}" if key else "the array"


def _is_npz(local: str) -> bool:
    try:
        with zipfile.ZipFile(local) as z:
            return all(n.endswith(".npy") for n in z.namelist())
    except zipfile.BadZipFile:
        return False


def _read_npy(path, local: str) -> ForeignArray:
    try:
        a = np.load(local, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError):  # object arrays, truncated files, ...: the plain reader says why
        a = _load_npy(path, local)
    return ForeignArray(ArraySource(path, a, _where(None)), str(path), "npy")


def _load_npy(path, local: str) -> np.ndarray:
    try:
        return np.load(local, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise _fail(path, "holds pickled Python objects, not a numeric array",
                        hint="re-save it with numpy as a float array") from None
        raise _fail(path, f"is not a readable .npy file ({exc})", hint="the file is truncated or corrupt") from None
    except (OSError, EOFError) as exc:
        raise _fail(path, f"is not a readable .npy file ({exc})", hint="the file is truncated or corrupt") from None


def _read_npz(path, local: str, key: str | None) -> ForeignArray:
    try:
        with np.load(local, allow_pickle=False) as z:
            names = list(z.files)
            if key is None:
                data_names = [n for n in names if n != "time"]
                if len(data_names) != 1:
                    raise _fail(path, f"holds several arrays {names}", hint="choose one with --key")
                key = data_names[0]
            if key not in names:
                raise _fail(path, f"has no array {key!r}; it holds {names}", hint="choose one with --key")
            data = ArraySource(path, z[key], _where(key))
            time = None
            if "time" in names and key != "time":
                time = ArraySource(path, z["time"], "array 'time'").load().reshape(-1)
    except ValueError as exc:
        pickled = "pickle" in str(exc).lower()
        raise _fail(path, "holds pickled Python objects, not numeric arrays" if pickled
                    else f"is not a readable .npz file ({exc})",
                    hint="re-save it with numpy.savez as float arrays") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _fail(path, f"is not a readable .npz file ({exc})", hint="the file is truncated or corrupt") from None
    if time is not None and (data.ndim < 2 or len(time) != data.shape[1]):
        time = None
    return ForeignArray(data, str(path), "npz", key, time)


def _tensor(path, value: Any, where: str) -> ArraySource:
    import torch

    if not isinstance(value, torch.Tensor):
        raise _fail(path, f"{where} is a {type(value).__name__}, not a tensor", hint="choose a tensor with --key")
    return ArraySource(path, value.detach().cpu(), where)


def _load_pt(path, local: str) -> Any:
    """The file's tensors, memory-mapped when its format allows; never unpickles anything but tensors."""
    import torch

    from sictl.io.checkpoints import load_torch_tensors

    try:
        return torch.load(local, map_location="cpu", weights_only=True, mmap=True)
    except MemoryError:
        raise
    except Exception:  # legacy (non-zip) format, pickled objects, damage: the plain reader says why
        return load_torch_tensors(path)


def _read_pt(path, local: str, key: str | None) -> ForeignArray:
    import torch

    obj = _load_pt(path, local)
    if isinstance(obj, torch.Tensor):
        return ForeignArray(_tensor(path, obj, "the tensor"), str(path), "pt")
    if isinstance(obj, dict):
        if key is None:
            if len(obj) != 1:
                raise _fail(path, f"holds a dict with keys {sorted(map(str, obj))}", hint="choose one with --key")
            key = str(next(iter(obj)))
        matches = [k for k in obj if str(k) == key]
        if not matches:
            raise _fail(path, f"has no entry {key!r}; keys are {sorted(map(str, obj))}", hint="choose one with --key")
        return ForeignArray(_tensor(path, obj[matches[0]], f"entry {key!r}"), str(path), "pt", key)
    if isinstance(obj, (tuple, list)):
        if key is not None:
            try:
                value = obj[int(key)]
            except (ValueError, IndexError):
                raise _fail(path, f"holds a sequence of {len(obj)} items; --key must be an index 0..{len(obj) - 1}",
                            hint="e.g. --key 0 for the first item") from None
            return ForeignArray(_tensor(path, value, f"item {key}"), str(path), "pt", key)
        if len(obj) == 2 and all(isinstance(v, torch.Tensor) for v in obj):
            data, time = _tensor(path, obj[0], "item 0"), _tensor(path, obj[1], "item 1").load().reshape(-1)
            if data.ndim == 4 and len(time) == data.shape[1]:  # the authors' (data, time), data (traj, time, H, W)
                return ForeignArray(data, str(path), "pt", "0", time, "traj time x y")
        raise _fail(path, f"holds a sequence of {len(obj)} items", hint="choose one with --key (an index)")
    raise _fail(path, f"holds a {type(obj).__name__}, not tensors", hint="save a tensor or a dict/tuple of tensors")


def _datasets(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


def _read_h5(path, f: h5py.File, key: str | None) -> ForeignArray:
    kind = attr_str(f, "sictl_kind") if "sictl_kind" in f.attrs else ""
    if kind in SCHEMA_VERSION:
        check_root(f, path, kind)  # a newer schema is refused here as by every sictl reader
    if kind == "samples" and key in (None, "samples"):
        return _sictl_samples(path, f)
    if kind == "dataset":
        return _sictl_dataset(path, f, key)
    if kind == "forecasts" and key in (None, "forecasts"):
        return _sictl_forecasts(path, f)
    if kind:
        raise _fail(path, f"is a sictl '{kind}' file, which holds no samples",
                    hint="give a samples file (sictl sample) or a dataset file (sictl prepare)")
    names = _datasets(f)
    if key is None:
        if len(names) != 1:
            raise _fail(path, f"holds {len(names)} datasets {names[:12]}",
                        hint="choose one with --key (its HDF5 path)")
        key = names[0]
    obj = f.get(key)
    if not isinstance(obj, h5py.Dataset):
        raise _fail(path, f"has no dataset {key!r}; datasets are {names[:12]}", hint="choose one with --key")
    if obj.shape is None:
        raise _fail(path, f"dataset /{key.lstrip('/')} is empty (no dataspace)", hint="choose another with --key")
    return ForeignArray(ArraySource(path, obj, _where(key)), str(path), "h5", key)


def _sictl_samples(path, f: h5py.File) -> ForeignArray:
    from sictl.io._checks import get_dataset

    ds = get_dataset(f, "samples", path, dtype="float32", ndim=(2, 3, 4, 5), shape="(n, C, *spatial) or (n, dim)")
    layout = "sample dim" if ds.ndim == 2 else "sample channel " + " ".join("xyz"[: ds.ndim - 2])
    attrs = {"sictl_kind": "samples", "normalization_constant": float(f.attrs.get("normalization_constant", 1.0))}
    return ForeignArray(ArraySource(path, ds, _where("samples")), str(path), "sictl-samples", "samples", None,
                        layout, attrs)


def _sictl_forecasts(path, f: h5py.File) -> ForeignArray:
    """A forecasts file (:mod:`sictl.io.forecasts`): data units, layout ``condition member lead channel x[ y]``."""
    from sictl.io._checks import get_dataset

    ds = get_dataset(f, "forecasts", path, dtype="float32", ndim=(5, 6), shape="(condition, member, lead, C, *spatial)")
    attrs = {"sictl_kind": "forecasts", "normalization_constant": float(f.attrs.get("normalization_constant", 1.0)),
             "field": attr_str(f, "field", "u")}
    lead = f["lead"][()].astype(np.float64) if "lead" in f else None
    return ForeignArray(ArraySource(path, ds, _where("forecasts")), str(path), "sictl-forecasts", "forecasts", lead,
                        attr_str(f, "layout") or "condition member lead channel " + " ".join("xyz"[: ds.ndim - 4]), attrs)


def _sictl_dataset(path, f: h5py.File, key: str | None) -> ForeignArray:
    from sictl.io._dataset_batches import _field
    from sictl.io.datasets import _read_normalization

    ds = _field(f, key, str(path))
    constant = _read_normalization(f).constant
    nsd = int(f.attrs.get("n_spatial_dims", -1))
    nodes = f.attrs.get("fft_nodes")
    # grid-node data (Allen–Cahn, N + 1 nodes) keep their periodic grid; data units (× constant)
    last = int(nodes) if nodes is not None and nsd > 0 else None
    data = ArraySource(path, ds, _where(ds.name), last=last, scale=constant)
    layout = "traj time dim" if nsd == 0 else "traj time " + " ".join("xyz"[:nsd])
    time = f["dimensions/time"][()] if "dimensions/time" in f else None
    attrs: dict = {"sictl_kind": "dataset", "normalization_constant": constant, "field": ds.name.rsplit("/", 1)[-1]}
    stats = f.get("stats")
    if stats is not None and "mode_power" in stats and attr_str(stats, "field", attrs["field"]) == attrs["field"]:
        attrs["mode_power"] = f["stats/mode_power"][()].astype(np.float64) * constant**2
    if "mixture" in f.attrs:  # stored units in the file; data units here, like the data
        try:
            mix = json.loads(attr_str(f, "mixture"))
            mix["means"] = (np.asarray(mix["means"], dtype=np.float64) * constant).tolist()
            if "covs" in mix:
                mix["covs"] = (np.asarray(mix["covs"], dtype=np.float64) * constant**2).tolist()
        except (ValueError, TypeError, KeyError) as exc:
            raise _fail(path, f"@mixture is not a valid mixture JSON ({exc})", hint="regenerate it with `sictl prepare gmm`") from None
        attrs["mixture"] = mix
    return ForeignArray(data, str(path), "sictl-dataset", ds.name, time, layout, attrs)
