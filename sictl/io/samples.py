"""Samples files (``sictl_kind = "samples"``), written by ``sictl sample``.

One float32 dataset ``/samples`` of shape ``(n, C, *spatial)`` or ``(n, dim)``, in data units (already
de-normalised), chunked along the sample axis, with the provenance of the drift, schedule and solver.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import h5py
import numpy as np

from sictl.errors import ConfigError, SchemaError, ShapeError
from sictl.io._files import OutputGroup
from sictl.io._h5 import (
    Provenance,
    attr_str,
    attrs_to_dict,
    check_finite,
    check_root,
    display_name,
    get_dataset,
    local_input_path,
    open_input,
    read_array,
    read_provenance_attrs,
    sample_chunks,
    write_attrs,
    write_root_attrs,
)
from sictl.io._writer import AtomicH5Writer

_SHAPE = "(n, C, *spatial) or (n, dim)"
_META_ATTRS = (
    "drift_source",
    "drift_checksum",
    "schedule_checksum",
    "solver",
    "steps",
    "grid",
    "nfe",
    "wall_time_s",
    "normalization_constant",
)
_STANDARD = frozenset(
    {"sictl_kind", "schema_version", "created_by", "created_at", "config", "inputs", "seed", *_META_ATTRS}
)


@dataclass(frozen=True, eq=False)
class SamplesMeta:
    """Provenance of a set of generated samples.

    Attributes:
        drift_source: what produced the drift, e.g. ``"checkpoint:model.safetensors"``, ``"exact:data.h5"``.
        solver: solver name (``"heun"``, ``"rk4"``, ``"euler-maruyama"``, ...).
        steps: number of intervals of the time grid.
        nfe: true number of drift evaluations per sample.
        grid: ``"uniform"``, ``"logsnr"`` or ``"file:<path>"``.
        drift_checksum: ``"sha256:..."`` of the checkpoint or exact-drift file.
        schedule_checksum: ``"sha256:..."`` of the schedule file, or of a named schedule's canonical
            description (sorted JSON of ``{"family", "params"}``); "" when the attribute is absent.
        wall_time_s: wall-clock seconds spent sampling.
        normalization_constant: the dataset constant the samples were multiplied by (data units).
        grid_times: (steps + 1,) float64 time grid actually used, or None.
        attrs: further scalar/string attributes (``diffusion``, ``t_min``, ``t_max``, ...).
        config: configuration that produced the file.
        inputs: input name -> ``"sha256:..."`` checksum.
        seed: seed used.
    """

    drift_source: str
    solver: str
    steps: int
    nfe: int = 0
    grid: str = "uniform"
    drift_checksum: str = ""
    schedule_checksum: str = ""
    wall_time_s: float = 0.0
    normalization_constant: float = 1.0
    grid_times: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    seed: int | None = None


@dataclass(frozen=True, eq=False)
class SamplesFile:
    """A samples file as read by :func:`read_samples`; the array itself stays on disk.

    Attributes:
        path: the path given to the reader (``-`` for stdin).
        local_path: the file actually opened.
        meta: the provenance.
        n: number of samples.
        sample_shape: ``(C, *spatial)`` or ``(dim,)``.
        condition_index: (n,) int64 index of the conditioning pair of each sample (forecasts), or None.
        provenance: creator, creation time, kind and version.
    """

    path: str
    local_path: str
    meta: SamplesMeta
    n: int
    sample_shape: tuple[int, ...]
    condition_index: np.ndarray | None
    provenance: Provenance

    def iter_batches(self, batch_size: int = 256, *, allow_nonfinite: bool = False) -> Iterator[np.ndarray]:
        """Shortcut for :func:`iter_samples_batches` on this file."""
        return iter_samples_batches(
            self.local_path, batch_size, allow_nonfinite=allow_nonfinite, name=self.path
        )

    def load(self, *, allow_nonfinite: bool = False) -> np.ndarray:
        """Shortcut for :func:`load_samples_array` on this file."""
        return load_samples_array(self.local_path, allow_nonfinite=allow_nonfinite, name=self.path)


class SamplesWriter(AtomicH5Writer):
    """Context manager that appends samples batch by batch to a new samples file (atomic).

    Example::

        with SamplesWriter("s.h5", meta, sample_shape=(1, 64, 64)) as w:
            for x in batches:        # (b, 1, 64, 64)
                w.append(x)
            w.update(nfe=36, wall_time_s=elapsed)

    Args:
        path: output path (``-`` = stdout).
        meta: provenance (may be amended with :meth:`update` before the block ends).
        sample_shape: ``(C, *spatial)`` or ``(dim,)``.
        n: expected number of samples (sizes the chunks; checked on close), or None.
        compression: ``None``, ``"gzip"`` or ``"lzf"``.
        group: an :class:`~sictl.io._files.OutputGroup`: the file appears together with the group's
            other files, or not at all.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        meta: SamplesMeta,
        sample_shape: tuple[int, ...],
        *,
        n: int | None = None,
        compression: str | None = None,
        group: OutputGroup | None = None,
    ) -> None:
        super().__init__(path, group=group)
        self.meta = meta
        self.sample_shape = tuple(int(d) for d in sample_shape)
        if not 1 <= len(self.sample_shape) <= 4 or min(self.sample_shape) < 1:
            raise ConfigError(f"sample shape must be (C, *spatial) or (dim,), got {self.sample_shape}",
                              hint="fields are (channels, *spatial) with 1 to 3 spatial axes; vectors are (dim,)")
        self._expected, self._compression = n, compression
        self._count = 0
        self._indexed: bool | None = None

    def _layout(self, f: h5py.File) -> None:
        shape = (self._expected or 1 << 30, *self.sample_shape)
        f.create_dataset(
            "samples",
            shape=(0, *self.sample_shape),
            maxshape=(None, *self.sample_shape),
            dtype=np.float32,
            chunks=sample_chunks(shape),
            compression=self._compression,
        )

    def append(self, batch: np.ndarray, condition_index: np.ndarray | None = None) -> None:
        """Append ``(b, *sample_shape)`` samples (cast to float32; non-finite values are kept).

        Args:
            batch: the samples, in data units.
            condition_index: (b,) int index of each sample's conditioning pair (forecasts only;
                give it for every batch or for none).
        """
        f = self._require_open()
        x = np.asarray(batch, dtype=np.float32)
        if x.shape[1:] != self.sample_shape:
            raise ShapeError(
                f"samples: expected (b, {', '.join(map(str, self.sample_shape))}), got {x.shape}",
                hint="every batch must have the sample shape the writer was opened with",
            )
        if self._indexed is not None and self._indexed != (condition_index is not None):
            raise ShapeError("condition_index must be given with every batch or with none",
                             hint="forecast samples pass it with every append; unconditional ones never do")
        self._indexed = condition_index is not None
        pieces = {"samples": x}
        if self._indexed:
            pieces["condition_index"] = np.asarray(condition_index, dtype=np.int64).reshape(-1)
            if len(pieces["condition_index"]) != len(x):
                raise ShapeError(
                    f"condition_index has {len(pieces['condition_index'])} entries for {len(x)} samples",
                    hint="give one index into the dataset's pairs/ per sample of the batch",
                )
            if "condition_index" not in f:
                self._held.append(f.create_dataset(  # held open while writing (sictl.io._writer)
                    "condition_index", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(4096,)
                ))
        for key, value in pieces.items():
            ds = f[key]
            ds.resize(self._count + len(x), axis=0)
            ds[self._count :] = value
        self._count += len(x)

    def update(self, **changes) -> None:
        """Amend the metadata before the file is closed, e.g. ``update(nfe=36, wall_time_s=12.5)``."""
        self.meta = dataclasses.replace(self.meta, **changes)

    def _finish(self, f: h5py.File) -> None:
        if self._count == 0:
            raise ShapeError("no samples were appended; nothing to write", hint="append at least one batch before closing")
        if self._expected is not None and self._count != self._expected:
            raise ShapeError(f"expected {self._expected} samples, got {self._count}",
                             hint="the writer was opened with n=...; append exactly that many samples")
        m = self.meta
        write_root_attrs(f, "samples", config=m.config, inputs=m.inputs, seed=m.seed)
        write_attrs(
            f,
            {
                "drift_source": m.drift_source,
                "drift_checksum": m.drift_checksum,
                "schedule_checksum": m.schedule_checksum,
                "solver": m.solver,
                "steps": int(m.steps),
                "grid": m.grid,
                "nfe": int(m.nfe),
                "wall_time_s": float(m.wall_time_s),
                "normalization_constant": float(m.normalization_constant),
            },
        )
        write_attrs(f, m.attrs)
        if m.grid_times is not None:
            f.create_dataset("grid_times", data=np.asarray(m.grid_times, dtype=np.float64))


def write_samples(
    path: str | os.PathLike, samples: np.ndarray, meta: SamplesMeta, condition_index: np.ndarray | None = None
) -> None:
    """Write a whole ``(n, *sample_shape)`` array at once (atomic; ``-`` = stdout)."""
    samples = np.asarray(samples)
    with SamplesWriter(path, meta, samples.shape[1:], n=len(samples)) as w:
        w.append(samples, condition_index)


def read_samples(path: str | os.PathLike) -> SamplesFile:
    """Read and validate a samples file's metadata (``-`` = stdin); the array is not loaded.

    Raises:
        SchemaError: wrong kind or version, a missing or malformed ``/samples`` dataset.
    """
    name = display_name(path)
    with open_input(path) as f:
        check_root(f, path, "samples")
        prov = read_provenance_attrs(f, path)
        ds = get_dataset(f, "samples", path, dtype="float32", ndim=(2, 3, 4, 5), shape=_SHAPE)
        index = None
        if "condition_index" in f:
            index = read_array(f, "condition_index", path, dtype="int64", ndim=1, shape=f"({ds.shape[0]},)")
        grid_times = read_array(f, "grid_times", path, dtype="float64", ndim=1) if "grid_times" in f else None
        a = f.attrs
        meta = SamplesMeta(
            drift_source=attr_str(f, "drift_source"),
            solver=attr_str(f, "solver"),
            steps=int(a.get("steps", 0)),
            nfe=int(a.get("nfe", 0)),
            grid=attr_str(f, "grid"),
            drift_checksum=attr_str(f, "drift_checksum"),
            schedule_checksum=attr_str(f, "schedule_checksum"),
            wall_time_s=float(a.get("wall_time_s", 0.0)),
            normalization_constant=float(a.get("normalization_constant", 1.0)),
            grid_times=grid_times,
            attrs=attrs_to_dict(f, _STANDARD),
            config=prov.config,
            inputs=prov.inputs,
            seed=prov.seed,
        )
        if index is not None and len(index) != ds.shape[0]:
            raise SchemaError(f"{name}: /condition_index has {len(index)} entries for {ds.shape[0]} samples",
                              hint="the file is inconsistent (truncated or edited); write it again with `sictl sample`")
        return SamplesFile(
            str(path), local_input_path(path), meta, ds.shape[0], tuple(ds.shape[1:]), index, prov
        )


def iter_samples_batches(
    path: str | os.PathLike, batch_size: int = 256, *, allow_nonfinite: bool = False, name: str | None = None
) -> Iterator[np.ndarray]:
    """Stream float32 ``(b, *sample_shape)`` batches of a samples file.

    Raises:
        SchemaError: a batch holds NaN/inf and ``allow_nonfinite`` is False (use
            :func:`count_nonfinite` to count them instead).
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}", hint="e.g. batch_size=256")
    label = name or str(path)
    with open_input(path) as f:
        check_root(f, label, "samples")
        ds = get_dataset(f, "samples", label, dtype="float32", ndim=(2, 3, 4, 5), shape=_SHAPE)
        for s in range(0, ds.shape[0], batch_size):
            x = ds[s : s + batch_size]
            if not allow_nonfinite:
                check_finite(x, label, "/samples", offset=s)
            yield x


def load_samples_array(
    path: str | os.PathLike, *, allow_nonfinite: bool = False, name: str | None = None
) -> np.ndarray:
    """Load the whole ``(n, *sample_shape)`` float32 array (small files)."""
    return np.concatenate(
        list(iter_samples_batches(path, 1 << 16, allow_nonfinite=allow_nonfinite, name=name))
    )


def count_nonfinite(path: str | os.PathLike, batch_size: int = 4096) -> int:
    """Number of samples (rows) holding at least one NaN or ±inf value."""
    total = 0
    for x in iter_samples_batches(path, batch_size, allow_nonfinite=True):
        total += int((~np.isfinite(x.reshape(len(x), -1))).any(axis=1).sum())
    return total
