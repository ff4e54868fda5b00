"""Writing dataset files: a streaming :class:`DatasetWriter` and the one-shot :func:`write_dataset`.

Both write to a temporary file next to the target and rename it on success; on any exception the
temporary file is removed and an existing target is left untouched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import h5py
import numpy as np

from sictl.errors import SchemaError, ShapeError
from sictl.io._checks import CHUNK_BYTES
from sictl.io._files import OutputGroup
from sictl.io._h5 import (
    check_finite,
    write_attrs,
    write_root_attrs,
)
from sictl.io._writer import AtomicH5Writer
from sictl.io.datasets import AXES, DatasetMeta, DatasetStats, spectral_shape

_STR = h5py.string_dtype()


def field_chunks(n_times: int, sample_shape: tuple[int, ...], n_trajectories: int | None) -> tuple[int, ...]:
    """Chunk shape ``(traj, time, *spatial)`` of about :data:`CHUNK_BYTES` (1 MiB).

    Whole snapshots always; along time first (``(1, 16, 128, 128)`` for 128² fields), then, when a
    whole trajectory is smaller than the target, several trajectories per chunk (capped by the
    expected count, so tiny files stay tiny).
    """
    frame = 4 * int(np.prod(sample_shape))
    c_time = min(n_times, max(1, CHUNK_BYTES // frame))
    c_traj = 1 if c_time < n_times else max(1, CHUNK_BYTES // (frame * n_times))
    if n_trajectories:
        c_traj = min(c_traj, n_trajectories)
    return (c_traj, c_time, *sample_shape)


def slab_chunks(n_times: int, sample_shape: tuple[int, ...], n_trajectories: int | None,
                time_block: int) -> tuple[int, ...]:
    """Chunk shape for data written (and read back) in time slabs of ``time_block`` snapshots of all
    trajectories: ``(b, c, *spatial)`` with c the largest divisor of ``min(T, time_block)`` whose
    snapshots fit in :data:`CHUNK_BYTES` and b trajectories making about that size (each slab then
    fills whole chunks: no chunk is written twice, and no chunk is much larger than the budget).
    """
    frame = 4 * int(np.prod(sample_shape))
    block = max(1, min(n_times, int(time_block)))
    cap = max(1, CHUNK_BYTES // frame)
    c_time = max(d for d in range(1, min(block, cap) + 1) if block % d == 0)
    c_traj = max(1, CHUNK_BYTES // (frame * c_time))
    if n_trajectories:
        c_traj = min(c_traj, n_trajectories)
    return (c_traj, c_time, *sample_shape)


class DatasetWriter(AtomicH5Writer):
    """Context manager that writes a dataset file trajectory-block by trajectory-block.

    Example::

        with DatasetWriter("ns.h5", meta, n_trajectories=200) as w:
            for block in simulate():            # (traj_block, T, 128, 128)
                w.append(block)
            w.set_stats(stats)

    Args:
        path: output path (``-`` = stdout, copied out on success).
        meta: the metadata (field names, sample shape, times, normalisation, ...).
        stats: statistics of the stored arrays (may also be given later with :meth:`set_stats`).
        n_trajectories: expected number of trajectories; checked on close when given.
        n_pairs: expected number of forecasting pairs (only sizes their chunks), or None.
        compression: ``None`` (default), ``"gzip"`` or ``"lzf"``.
        time_block: for a writer fed by :meth:`append_times`, the snapshots per call: the fields are
            then chunked by :func:`slab_chunks`, so that every call fills whole chunks.
        group: an :class:`~sictl.io._files.OutputGroup`: the file appears together with the group's
            other files (``prepare --split``), or not at all.

    Trajectories arrive either whole (:meth:`append`: blocks of trajectories, e.g. simulations) or
    as time slabs of every trajectory (:meth:`append_times`: e.g. Markov chains, whose samples come
    out a thinning block at a time); one writer uses one of the two.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        meta: DatasetMeta,
        *,
        stats: DatasetStats | None = None,
        n_trajectories: int | None = None,
        n_pairs: int | None = None,
        compression: str | None = None,
        time_block: int | None = None,
        group: OutputGroup | None = None,
    ) -> None:
        super().__init__(path, group=group)
        self.meta, self.stats = meta, stats
        self._expected, self._expected_pairs, self._compression = n_trajectories, n_pairs, compression
        self._time_block = time_block
        self._counts = dict.fromkeys(meta.field_names, 0)
        self._times: dict[str, int] | None = None  # snapshots written per field (append_times mode)
        self._pairs = 0

    # -- public API

    def append(self, batch: np.ndarray | Mapping[str, np.ndarray]) -> None:
        """Append whole trajectories.

        Args:
            batch: ``(n, T, *sample_shape)`` array for a single-field dataset, or a mapping from each
                field name to such an array. Cast to float32; must be finite.

        Raises:
            ShapeError: wrong shape or missing field. SchemaError: non-finite values.
        """
        f = self._require_open()
        if self._times is not None:
            raise ShapeError("append() after append_times(): a writer takes whole trajectories or time slabs",
                             hint="feed one DatasetWriter through one of the two methods")
        want = (self.meta.n_times, *self.meta.sample_shape)
        for name, value in self._fields(batch, "append", want).items():
            check_finite(value, self.path, f"/t0_fields/{name} (trajectories {self._counts[name]}+)")
            ds = f["t0_fields"][name]
            start = self._counts[name]
            ds.resize(start + len(value), axis=0)
            ds[start:] = value
            self._counts[name] = start + len(value)

    def append_times(self, batch: np.ndarray | Mapping[str, np.ndarray]) -> None:
        """Append the next snapshots of every trajectory (needs ``n_trajectories``).

        Args:
            batch: ``(n_trajectories, k, *sample_shape)`` array (or a mapping field name -> array):
                snapshots ``t .. t + k − 1`` of all trajectories, following the previous call's.

        Raises:
            ShapeError: wrong shape, more than ``T`` snapshots, or mixed with :meth:`append`.
            SchemaError: non-finite values.
        """
        f = self._require_open()
        if self._expected is None:
            raise ShapeError("append_times() needs the number of trajectories",
                             hint="create the writer with DatasetWriter(..., n_trajectories=B)")
        if self._times is None:
            if any(self._counts.values()):
                raise ShapeError("append_times() after append(): a writer takes whole trajectories or time slabs",
                                 hint="feed one DatasetWriter through one of the two methods")
            self._times = dict.fromkeys(self.meta.field_names, 0)
        arrays = self._fields(batch, "append_times", (None, *self.meta.sample_shape), self._expected)
        for name, value in arrays.items():
            t0, t1 = self._times[name], self._times[name] + value.shape[1]
            if t1 > self.meta.n_times:
                raise ShapeError(f"field {name!r}: snapshots {t0}..{t1 - 1} exceed the {self.meta.n_times} times",
                                 hint="the time axis (DatasetMeta.time) fixes how many snapshots a trajectory has")
            check_finite(np.moveaxis(value, 1, 0), self.path, f"/t0_fields/{name} (time, trajectory; times {t0}+)",
                         offset=t0)
            ds = f["t0_fields"][name]
            if ds.shape[0] != self._expected:
                ds.resize(self._expected, axis=0)
            ds[:, t0:t1] = value
            self._times[name] = t1
            self._counts[name] = self._expected

    def _fields(self, batch, method: str, want: tuple, n: int | None = None) -> dict[str, np.ndarray]:
        """The batch as {field: float32 array}, each checked against ``(n, *want)`` (None = any length)."""
        arrays = batch if isinstance(batch, Mapping) else {self.meta.field_names[0]: batch}
        if set(arrays) != set(self.meta.field_names):
            raise ShapeError(f"{method}() needs the fields {list(self.meta.field_names)}, got {sorted(arrays)}",
                             hint="pass one array per field, keyed by its name")
        out = {}
        for name, value in arrays.items():
            value = np.asarray(value, dtype=np.float32)
            ok = value.ndim == len(want) + 1 and (n is None or value.shape[0] == n) and all(
                w is None or w == v for w, v in zip(want, value.shape[1:], strict=False))
            if not ok:
                dims = ", ".join("k" if w is None else str(w) for w in want)
                lead = "n" if n is None else str(n)
                raise ShapeError(f"field {name!r}: expected ({lead}, {dims}), got {value.shape}",
                                 hint="blocks are (trajectories, times, *sample_shape) float arrays")
            out[name] = value
        return out

    def append_pairs(self, x0: np.ndarray, x1: np.ndarray) -> None:
        """Append forecasting pairs, each ``(n, *sample_shape)`` (needs ``meta.pairs_lag``)."""
        f = self._require_open()
        if self.meta.pairs_lag is None:
            raise ShapeError("append_pairs() needs DatasetMeta.pairs_lag",
                             hint="set DatasetMeta(pairs_lag=K) to store forecasting pairs")
        want = self.meta.sample_shape
        a, b = np.asarray(x0, dtype=np.float32), np.asarray(x1, dtype=np.float32)
        if a.shape != b.shape or a.shape[1:] != want:
            raise ShapeError(
                f"pairs: expected x0 and x1 of shape (n, {', '.join(map(str, want))}), "
                f"got {a.shape} and {b.shape}",
                hint="x0[i] and x1[i] are the same trajectory at times t and t + lag",
            )
        for key, value in (("x0", a), ("x1", b)):
            check_finite(value, self.path, f"/pairs/{key}")
            ds = f["pairs"][key]
            ds.resize(self._pairs + len(value), axis=0)
            ds[self._pairs :] = value
        self._pairs += len(a)

    def set_stats(self, stats: DatasetStats) -> None:
        """Give (or replace) the statistics written on close."""
        self.stats = stats

    # -- internals

    def _layout(self, f: h5py.File) -> None:
        meta = self.meta
        write_root_attrs(
            f,
            "dataset",
            config=meta.config,
            inputs=meta.inputs,
            seed=meta.seed,
            dataset_name=meta.dataset_name,
            grid_type="cartesian",
            n_spatial_dims=meta.n_spatial_dims,
            n_trajectories=0,
            source=meta.source,
            boundary=meta.boundary,
            simulation_parameters=np.array(sorted(meta.attrs), dtype=_STR),
        )
        write_attrs(f, meta.attrs)
        norm = f.create_group("normalization")
        write_attrs(norm, {"scheme": meta.normalization.scheme, "constant": meta.normalization.constant})
        dims = f.create_group("dimensions")
        axes = AXES[: meta.n_spatial_dims]
        dims.attrs["spatial_dims"] = np.array(axes, dtype=_STR)
        dims.create_dataset("time", data=meta.time)
        write_attrs(dims["time"], {"sample_varying": False, "time_varying": True})
        for axis in axes:
            dims.create_dataset(axis, data=meta.coords[axis])
            write_attrs(dims[axis], {"sample_varying": False, "time_varying": False})
        for group in ("scalars", "t1_fields", "t2_fields"):
            f.create_group(group).attrs["field_names"] = np.array([], dtype=_STR)
        self._boundaries(f.create_group("boundary_conditions"), axes)
        fields = f.create_group("t0_fields")
        fields.attrs["field_names"] = np.array(meta.field_names, dtype=_STR)
        if self._time_block:
            chunks = slab_chunks(meta.n_times, meta.sample_shape, self._expected, self._time_block)
        else:
            chunks = field_chunks(meta.n_times, meta.sample_shape, self._expected)
        for name in meta.field_names:
            ds = fields.create_dataset(
                name,
                shape=(0, meta.n_times, *meta.sample_shape),
                maxshape=(None, meta.n_times, *meta.sample_shape),
                dtype=np.float32,
                chunks=chunks,
                compression=self._compression,
            )
            write_attrs(ds, {"sample_varying": True, "time_varying": True})
            ds.attrs["dim_varying"] = np.ones(len(axes), dtype=bool)
        if meta.pairs_lag is not None:
            pairs = f.create_group("pairs")
            write_attrs(pairs, {"lag": int(meta.pairs_lag), "field": meta.field_names[0]})
            rows = max(1, CHUNK_BYTES // (4 * int(np.prod(meta.sample_shape))))
            rows = min(rows, self._expected_pairs or rows)
            for key in ("x0", "x1"):
                pairs.create_dataset(
                    key,
                    shape=(0, *meta.sample_shape),
                    maxshape=(None, *meta.sample_shape),
                    dtype=np.float32,
                    chunks=(rows, *meta.sample_shape),
                    compression=self._compression,
                )

    def _boundaries(self, group: h5py.Group, axes: tuple[str, ...]) -> None:
        for axis, n in zip(axes, self.meta.sample_shape, strict=False):
            bc = group.create_group(f"{axis}_{self.meta.boundary}")
            write_attrs(bc, {"bc_type": self.meta.boundary, "sample_varying": False, "time_varying": False})
            bc.attrs["associated_dims"] = np.array([axis], dtype=_STR)
            bc.attrs["associated_fields"] = np.array([], dtype=_STR)
            mask = np.zeros(n, dtype=bool)
            mask[[0, -1]] = True
            bc.create_dataset("mask", data=mask)
            bc.create_dataset("values", data=np.zeros(int(mask.sum()), np.float32))

    def _finish(self, f: h5py.File) -> None:
        counts = set(self._counts.values())
        (n,) = counts if len(counts) == 1 else (None,)
        if n is None:
            raise ShapeError(f"fields received different numbers of trajectories: {self._counts}",
                             hint="append every field for the same trajectories")
        if n == 0:
            raise ShapeError("no trajectories were appended; nothing to write",
                             hint="the source produced no data; check its sizes")
        if self._expected is not None and n != self._expected:
            raise ShapeError(f"expected {self._expected} trajectories, got {n}",
                             hint="the source stopped early or produced too much; check its sizes")
        if self._times is not None and set(self._times.values()) != {self.meta.n_times}:
            raise ShapeError(f"expected {self.meta.n_times} snapshots per trajectory, got {self._times}",
                             hint="the source stopped early; check its sizes")
        f.attrs["n_trajectories"] = n
        if self.stats is not None:
            self._write_stats(f.create_group("stats"), self.stats)

    def _write_stats(self, group: h5py.Group, stats: DatasetStats) -> None:
        write_attrs(
            group,
            {
                "pixel_rms": float(stats.pixel_rms),
                "pixel_mean": float(stats.pixel_mean),
                "field": stats.field,
            },
        )
        for key, value in (("mode_power", stats.mode_power), ("shell_spectrum", stats.shell_spectrum)):
            if value is None:
                continue
            value = np.asarray(value, dtype=np.float64)
            check_finite(value, self.path, f"/stats/{key}")
            want = spectral_shape(self.meta.sample_shape, self.meta.attrs)
            if key == "mode_power" and value.shape != want:
                raise ShapeError(f"stats.mode_power must have the shape {want}, got {value.shape}",
                                 hint="E|x̂_k|² on the full FFT grid of one sample")
            group.create_dataset(key, data=value)
        if not (np.isfinite(stats.pixel_rms) and np.isfinite(stats.pixel_mean)):
            raise SchemaError(
                f"stats: pixel_rms/pixel_mean must be finite, got {stats.pixel_rms}, {stats.pixel_mean}",
                hint="the data were not finite; regenerate them",
            )


def write_dataset(
    path: str | os.PathLike,
    arrays: np.ndarray | Mapping[str, np.ndarray],
    meta: DatasetMeta,
    stats: DatasetStats | None = None,
    *,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
    compression: str | None = None,
) -> None:
    """Write a whole dataset at once (atomic).

    Args:
        path: output path (``-`` = stdout).
        arrays: ``(traj, T, *sample_shape)`` array, or a mapping field name -> such an array.
        meta: metadata; ``meta.pairs_lag`` must be set when ``pairs`` is given.
        stats: statistics of the stored arrays, or None.
        pairs: optional forecasting pairs ``(x0, x1)``, each ``(n_pairs, *sample_shape)``.
        compression: ``None``, ``"gzip"`` or ``"lzf"``.
    """
    first = next(iter(arrays.values())) if isinstance(arrays, Mapping) else arrays
    n_pairs = None if pairs is None else len(pairs[0])
    kwargs = {"stats": stats, "n_trajectories": len(first), "n_pairs": n_pairs, "compression": compression}
    with DatasetWriter(path, meta, **kwargs) as w:
        w.append(arrays)
        if pairs is not None:
            w.append_pairs(*pairs)
