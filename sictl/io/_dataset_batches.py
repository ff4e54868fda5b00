"""Streaming reads of dataset files: batches of flattened samples and forecasting pairs.

Re-exported by :mod:`sictl.io.datasets`; see there for the layout.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import h5py
import numpy as np

from sictl.errors import ConfigError, SchemaError, SictlError
from sictl.io._h5 import check_finite, check_root, display_name, get_dataset, open_input


def _field(f: h5py.File, field: str | None, label: str) -> h5py.Dataset:
    """The validated ``t0_fields/<field>`` dataset (``field=None``: the only one)."""
    name = display_name(label)
    group = f.get("t0_fields")
    names = sorted(group) if isinstance(group, h5py.Group) else []
    if not names:
        raise SchemaError(f"{name}: no datasets under /t0_fields", hint="regenerate it with `sictl prepare`")
    if field is None and len(names) != 1:
        raise SictlError(f"{name} holds several fields {names}", hint="choose one with --field")
    if field is not None and field not in names:
        raise SictlError(f"{name} has no field {field!r}; it holds {names}", hint="choose one with --field")
    nsd = int(f.attrs.get("n_spatial_dims", -1))
    shape = f"(traj, time, {'dim' if nsd == 0 else '*spatial'})"
    return get_dataset(
        group, field or names[0], label, dtype="float32", ndim=3 if nsd == 0 else 2 + nsd, shape=shape
    )


def _blocks(ds: h5py.Dataset, batch_size: int, path: str) -> Iterator[np.ndarray]:
    """Flattened samples of a (traj, time, ...) dataset in trajectory-major order, in blocks.

    Non-finite values raise, with their (trajectory, time, ...) index in the file.
    """
    n_traj, n_time = ds.shape[:2]
    if n_time <= batch_size:
        step = max(1, batch_size // n_time)
        for i in range(0, n_traj, step):
            block = ds[i : i + step]
            check_finite(block, path, ds.name, offset=i)
            yield block.reshape(-1, *ds.shape[2:])
    else:
        for i in range(n_traj):
            for s in range(0, n_time, batch_size):
                block = ds[i, s : s + batch_size]
                check_finite(block, path, f"{ds.name}[{i}]", offset=s)
                yield block


def _rebatch(blocks: Iterator[np.ndarray], batch_size: int, channel: bool) -> Iterator[np.ndarray]:
    pending: list[np.ndarray] = []
    count = 0
    for block in blocks:
        pending.append(block)
        count += len(block)
        while count >= batch_size:
            joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
            out, rest = joined[:batch_size], joined[batch_size:]
            pending, count = ([rest] if len(rest) else []), len(rest)
            yield out[:, None] if channel else out
    if count:
        joined = np.concatenate(pending)
        yield joined[:, None] if channel else joined


def iter_dataset_batches(
    path: str | os.PathLike, field: str | None = None, batch_size: int = 256, *, name: str | None = None
) -> Iterator[np.ndarray]:
    """Stream the samples of one field, trajectory-major (all times of trajectory 0 first).

    Args:
        path: dataset file (``-`` = stdin).
        field: field name; None picks the only one.
        batch_size: samples per batch (the last batch may be smaller).
        name: name for messages (default: ``path``).

    Yields:
        float32 ``(n, 1, *spatial)`` for fields, ``(n, dim)`` for vectors.

    Raises:
        SchemaError: non-finite values (naming the HDF5 path and indices) or a bad file.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}", hint="e.g. a batch size of 256")
    label = name or str(path)
    with open_input(path) as f:
        check_root(f, label, "dataset")
        ds = _field(f, field, label)
        vector = int(f.attrs["n_spatial_dims"]) == 0
        yield from _rebatch(_blocks(ds, batch_size, label), batch_size, channel=not vector)


def iter_pair_batches(
    path: str | os.PathLike, batch_size: int = 256, *, name: str | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Stream the forecasting pairs ``(x0, x1)``, each float32 ``(n, 1, *spatial)`` or ``(n, dim)``.

    Raises:
        SchemaError: the file has no ``pairs`` group, or non-finite values.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}", hint="e.g. a batch size of 256")
    label = name or str(path)
    with open_input(path) as f:
        check_root(f, label, "dataset")
        if "pairs" not in f:
            raise SchemaError(
                f"{display_name(label)} has no forecasting pairs",
                hint="re-run `sictl prepare` with --lag to store (x0, x1) pairs",
            )
        vector = int(f.attrs.get("n_spatial_dims", -1)) == 0
        x0 = get_dataset(f, "pairs/x0", label, dtype="float32", ndim=(2, 3, 4), shape="(P, *spatial)")
        x1 = get_dataset(f, "pairs/x1", label, dtype="float32", ndim=(2, 3, 4), shape="(P, *spatial)")
        for s in range(0, x0.shape[0], batch_size):
            a, b = x0[s : s + batch_size], x1[s : s + batch_size]
            check_finite(a, label, "/pairs/x0", offset=s)
            check_finite(b, label, "/pairs/x1", offset=s)
            yield (a, b) if vector else (a[:, None], b[:, None])


def load_dataset_array(
    path: str | os.PathLike, field: str | None = None, *, name: str | None = None, max_bytes: int = 2 << 30
) -> np.ndarray:
    """Load one whole field as float32 ``(n_samples, 1, *spatial)`` or ``(n_samples, dim)``.

    Raises:
        SictlError: the array is larger than ``max_bytes`` (stream it with :func:`iter_dataset_batches`).
    """
    label = name or str(path)
    with open_input(path) as f:
        check_root(f, label, "dataset")
        ds = _field(f, field, label)
        if ds.size * 4 > max_bytes:
            raise SictlError(
                f"{display_name(label)}: {ds.name} is {ds.size * 4 / 2**30:.1f} GiB, too large to load",
                hint="process it in batches (iter_dataset_batches)",
            )
        n = ds.shape[0] * ds.shape[1]
    batches = list(iter_dataset_batches(path, field, max(n, 1), name=label))
    return batches[0] if len(batches) == 1 else np.concatenate(batches)


def iter_trajectory_blocks(
    path: str | os.PathLike,
    field: str | None = None,
    trajectories: int = 8,
    *,
    times: int | None = None,
    name: str | None = None,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[np.ndarray]:
    """Stream trajectories ``start .. stop − 1`` (default: all) of one field: float32
    ``(k, T, *sample_shape)``, k ≤ ``trajectories``.

    With ``times``, every block of trajectories comes as consecutive time slabs
    ``(k, ≤ times, *sample_shape)`` instead (``trajectories`` = all of them: the file's time slabs).

    Raises:
        SchemaError: non-finite values or a bad file.
    """
    if trajectories < 1 or (times is not None and times < 1):
        raise ConfigError(f"trajectories and times per block must be >= 1, got {trajectories}, {times}",
                          hint="e.g. trajectories=8")
    label = name or str(path)
    with open_input(path) as f:
        check_root(f, label, "dataset")
        ds = _field(f, field, label)
        step = times or max(ds.shape[1], 1)
        end = ds.shape[0] if stop is None else min(stop, ds.shape[0])
        for i in range(start, end, trajectories):
            for t in range(0, ds.shape[1], step):
                block = ds[i : min(i + trajectories, end), t : t + step]
                check_finite(block, label, ds.name if times is None else f"{ds.name} (times {t}+)", offset=i)
                yield block
