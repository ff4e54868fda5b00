"""Dataset files (``sictl_kind = "dataset"``), written by ``sictl prepare``, in The Well's layout.

Arrays are float32 ``(trajectory, time, *spatial)`` (fields) or ``(trajectory, time, dim)`` (vectors,
e.g. GMM targets, with ``@n_spatial_dims = 0``) under ``t0_fields/``. The file also carries the
per-mode Fourier statistics (``stats/``) and the normalisation constant. Readers return metadata only;
arrays are streamed in batches of flattened samples with :func:`iter_dataset_batches`.
See ``docs/file-formats.md`` for the full tree.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import h5py
import numpy as np

from sictl.errors import ConfigError, SchemaError
from sictl.io._dataset_batches import (
    iter_dataset_batches,
    iter_pair_batches,
    iter_trajectory_blocks,
    load_dataset_array,
)
from sictl.io._h5 import (
    Provenance,
    attr_str,
    attrs_to_dict,
    check_root,
    display_name,
    get_dataset,
    local_input_path,
    open_input,
    read_array,
    read_provenance_attrs,
)

#: Allowed values of ``@source``.
SOURCES = ("gaussian-field", "allen-cahn", "navier-stokes", "gmm", "import", "ou-pairs", "field-mixture")
#: Allowed normalisation schemes (stored = raw / constant).
NORMALIZATION_SCHEMES = ("none", "rms")
#: Default names of the spatial axes.
AXES = ("x", "y", "z")
_HINT = "regenerate it with `sictl prepare`"


@dataclass(frozen=True)
class Normalization:
    """How stored arrays relate to data units: ``stored = raw / constant``.

    Attributes:
        scheme: ``"none"`` (constant 1) or ``"rms"`` (constant = RMS pixel value of the raw data).
        constant: positive finite float; multiply stored values by it to de-normalise.
    """

    scheme: str = "none"
    constant: float = 1.0

    def __post_init__(self) -> None:
        if self.scheme not in NORMALIZATION_SCHEMES:
            raise ConfigError(
                f"normalization scheme must be one of {NORMALIZATION_SCHEMES}, got {self.scheme!r}"
            )
        if not (np.isfinite(self.constant) and self.constant > 0):
            raise ConfigError(f"normalization constant must be positive and finite, got {self.constant!r}")
        object.__setattr__(self, "constant", float(self.constant))


@dataclass(frozen=True, eq=False)
class DatasetStats:
    """Statistics of the stored (normalised) arrays of one field, for schedules, noise and evaluation.

    Attributes:
        mode_power: float64 ``(*spatial)``: mean ``|x̂_k|²`` over samples on the full FFT grid
            (``norm="forward"``), or None (vectors).
        shell_spectrum: float64 ``(N//2,)`` shell-binned energy for 2-D (κ = 1..N/2), ``(N,)`` per-mode
            power for 1-D, or None.
        pixel_rms: RMS over all stored values.
        pixel_mean: mean over all stored values.
        field: name of the field the statistics describe.
    """

    mode_power: np.ndarray | None
    shell_spectrum: np.ndarray | None
    pixel_rms: float
    pixel_mean: float
    field: str = "u"


@dataclass(frozen=True, eq=False)
class DatasetMeta:
    """Everything about a dataset except its arrays and statistics.

    Attributes:
        dataset_name: e.g. ``"stochastic_ns_2d"``, ``"grf_powerlaw"``.
        source: one of :data:`SOURCES`.
        sample_shape: spatial shape ``(N,)``/``(H, W)``, or ``(dim,)`` for vectors.
        time: (T,) snapshot times (MCMC sample index for Allen–Cahn; ``[0.]`` for i.i.d. samples);
            stored as float32.
        field_names: names of the ``t0_fields`` datasets (``("u",)``, ``("vorticity",)``, ...).
        vector: True for vector targets ``(traj, time, dim)``; then ``n_spatial_dims == 0``.
        coords: axis name -> (N_axis,) float32 coordinates; default ``arange(N)/N`` per axis.
        boundary: ``"periodic"``, ``"open"`` or ``"wall"`` (The Well's ``bc_type``), all axes.
        normalization: see :class:`Normalization`.
        attrs: simulation parameters (scalars or strings) written as root attributes.
        pairs_lag: lag (in snapshots) of the optional forecasting pairs, None if there are none.
        config: configuration that produced the file.
        inputs: input name -> ``"sha256:..."`` checksum.
        seed: seed used, if any.
    """

    dataset_name: str
    source: str
    sample_shape: tuple[int, ...]
    time: np.ndarray = field(default_factory=lambda: np.zeros(1, np.float32))
    field_names: tuple[str, ...] = ("u",)
    vector: bool = False
    coords: dict[str, np.ndarray] = field(default_factory=dict)
    boundary: str = "periodic"
    normalization: Normalization = field(default_factory=Normalization)
    attrs: dict = field(default_factory=dict)
    pairs_lag: int | None = None
    config: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    seed: int | None = None

    def __post_init__(self) -> None:
        shape = tuple(int(n) for n in self.sample_shape)
        if self.source not in SOURCES:
            raise ConfigError(f"dataset source must be one of {SOURCES}, got {self.source!r}")
        if not shape or min(shape) < 1 or (self.vector and len(shape) != 1) or len(shape) > 3:
            raise ConfigError(f"invalid sample shape {shape} (fields: 1 to 3 axes; vectors: (dim,))")
        if not self.field_names or any(not n or "/" in n for n in self.field_names):
            raise ConfigError(f"invalid field names {self.field_names!r}")
        time = np.asarray(self.time, dtype=np.float32)
        if time.ndim != 1 or len(time) < 1:
            raise ConfigError(f"time must be a 1-D array with at least one entry, got shape {time.shape}")
        coords = {k: np.asarray(v, dtype=np.float32) for k, v in self.coords.items()}
        if self.vector and coords:
            raise ConfigError("vector datasets have no spatial coordinates; leave coords empty")
        if not self.vector:
            for axis, n in zip(AXES, shape, strict=False):
                coords.setdefault(axis, np.arange(n, dtype=np.float32) / n)
            axes = AXES[: len(shape)]
            if set(coords) != set(axes) or tuple(len(coords[a]) for a in axes) != shape:
                raise ConfigError(f"coords must be {AXES[: len(shape)]} with lengths {shape}")
        object.__setattr__(self, "sample_shape", shape)
        object.__setattr__(self, "field_names", tuple(self.field_names))
        object.__setattr__(self, "time", time)
        object.__setattr__(self, "coords", {a: coords[a] for a in AXES if a in coords})

    @property
    def n_spatial_dims(self) -> int:
        """0 for vectors, else the number of spatial axes."""
        return 0 if self.vector else len(self.sample_shape)

    @property
    def n_times(self) -> int:
        """T, the number of snapshots per trajectory."""
        return len(self.time)


@dataclass(frozen=True, eq=False)
class DatasetFile:
    """A dataset file's metadata and statistics, as read by :func:`read_dataset` (arrays stay on disk).

    Attributes:
        path: the path given to the reader (``-`` for stdin).
        local_path: the file actually opened (a temporary copy for stdin).
        meta: the metadata.
        stats: the statistics, or None if the file has none.
        n_trajectories: number of trajectories (leading axis of every field).
        n_pairs: number of forecasting pairs (0 if none).
        provenance: creator, creation time, kind and version.
    """

    path: str
    local_path: str
    meta: DatasetMeta
    stats: DatasetStats | None
    n_trajectories: int
    n_pairs: int
    provenance: Provenance

    @property
    def n_samples(self) -> int:
        """Number of samples, ``n_trajectories * n_times``."""
        return self.n_trajectories * self.meta.n_times

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Shape of one sample as yielded by the batch iterators: ``(1, *spatial)`` or ``(dim,)``."""
        return self.meta.sample_shape if self.meta.vector else (1, *self.meta.sample_shape)

    def iter_batches(self, field: str | None = None, batch_size: int = 256) -> Iterator[np.ndarray]:
        """Shortcut for :func:`iter_dataset_batches` on this file."""
        return iter_dataset_batches(self.local_path, field, batch_size, name=self.path)

    def iter_pairs(self, batch_size: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Shortcut for :func:`iter_pair_batches` on this file."""
        return iter_pair_batches(self.local_path, batch_size, name=self.path)

    def load(self, field: str | None = None) -> np.ndarray:
        """Shortcut for :func:`load_dataset_array` on this file."""
        return load_dataset_array(self.local_path, field, name=self.path)


# ------------------------------------------------------------------------------------------- reading


def _fail(name: str, message: str) -> SchemaError:
    return SchemaError(f"{name}: {message}", hint=_HINT)


def read_dataset(path: str | os.PathLike) -> DatasetFile:
    """Read and validate a dataset file's metadata and statistics (``-`` = stdin).

    Shapes, dtypes and the finiteness of statistics are checked here; the finiteness of the arrays
    is checked batch by batch while streaming them.

    Raises:
        SchemaError: wrong kind or version, missing groups, inconsistent shapes, non-finite stats.
    """
    name = display_name(path)
    with open_input(path) as f:
        check_root(f, path, "dataset")
        prov = read_provenance_attrs(f, path)
        nsd = int(f.attrs.get("n_spatial_dims", -1))
        if not 0 <= nsd <= 3:
            raise _fail(name, f"@n_spatial_dims must be 0 (vectors) to 3, got {nsd}")
        fields = f.get("t0_fields")
        if not isinstance(fields, h5py.Group) or not len(fields):
            raise _fail(name, "no datasets under /t0_fields")
        listed = [n.decode() if isinstance(n, bytes) else str(n) for n in fields.attrs.get("field_names", [])]
        names = tuple(listed) if sorted(listed) == sorted(fields) else tuple(sorted(fields))
        want = f"(traj, time, {'dim' if nsd == 0 else ', '.join(AXES[:nsd])})"
        shapes = {
            get_dataset(fields, n, path, dtype="float32", ndim=3 if nsd == 0 else 2 + nsd, shape=want).shape
            for n in names
        }
        if len(shapes) != 1:
            raise _fail(name, f"fields under /t0_fields have different shapes {sorted(shapes)}")
        (shape,) = shapes
        time = read_array(f, "dimensions/time", path, dtype=None, ndim=1, shape="(T,)")
        if len(time) != shape[1]:
            raise _fail(
                name, f"/dimensions/time has {len(time)} entries but the fields have {shape[1]} times"
            )
        coords = {}
        if nsd > 0:
            for axis, n in zip(AXES, shape[2:], strict=False):
                coords[axis] = read_array(f, f"dimensions/{axis}", path, dtype=None, ndim=1, shape=f"({n},)")
        n_traj = int(f.attrs.get("n_trajectories", -1))
        if n_traj != shape[0]:
            raise _fail(name, f"@n_trajectories = {n_traj} but /t0_fields hold {shape[0]} trajectories")
        stats = _read_stats(f, path, shape[2:]) if "stats" in f else None
        n_pairs, lag = 0, None
        if "pairs" in f:
            want_p = f"(n_pairs, {', '.join(str(n) for n in shape[2:])})"
            x0 = get_dataset(f, "pairs/x0", path, dtype="float32", ndim=len(shape) - 1, shape=want_p)
            x1 = get_dataset(f, "pairs/x1", path, dtype="float32", ndim=len(shape) - 1, shape=want_p)
            if x0.shape != x1.shape or x0.shape[1:] != shape[2:]:
                raise _fail(name, f"/pairs/x0 {x0.shape} and /pairs/x1 {x1.shape} must both be {want_p}")
            n_pairs, lag = x0.shape[0], int(f["pairs"].attrs.get("lag", 0))
        source = attr_str(f, "source")
        if source not in SOURCES:
            raise _fail(name, f"@source = {source!r} is not one of {SOURCES}")
        try:
            meta = DatasetMeta(
                dataset_name=attr_str(f, "dataset_name"),
                source=source,
                sample_shape=shape[2:],
                time=time,
                field_names=names,
                vector=nsd == 0,
                coords=coords,
                boundary=attr_str(f, "boundary", "periodic"),
                normalization=_read_normalization(f),
                attrs=attrs_to_dict(f, _STANDARD_ATTRS),
                pairs_lag=lag,
                config=prov.config,
                inputs=prov.inputs,
                seed=prov.seed,
            )
        except ConfigError as exc:
            raise _fail(name, exc.message) from None
    return DatasetFile(str(path), local_input_path(path), meta, stats, n_traj, n_pairs, prov)


_STANDARD_ATTRS = frozenset(
    "sictl_kind schema_version created_by created_at config inputs seed dataset_name grid_type "
    "n_spatial_dims n_trajectories source simulation_parameters boundary".split()
)


def _read_normalization(f: h5py.File) -> Normalization:
    group = f.get("normalization")
    if group is None:
        return Normalization()
    return Normalization(attr_str(group, "scheme", "none"), float(group.attrs.get("constant", 1.0)))


def spectral_shape(sample_shape: tuple[int, ...], attrs) -> tuple[int, ...]:
    """Shape of ``stats/mode_power``: the sample shape, except that a root attribute ``fft_nodes``
    says the periodic FFT grid is the first ``fft_nodes`` points of the last axis (Allen–Cahn
    files store N + 1 nodes; their spectrum is that of the first N, as the authors computed it)."""
    nodes = attrs.get("fft_nodes") if hasattr(attrs, "get") else None
    return tuple(sample_shape) if nodes is None else (*sample_shape[:-1], int(nodes))


def _read_stats(f: h5py.File, path: str | os.PathLike, sample_shape: tuple[int, ...]) -> DatasetStats:
    group = f["stats"]
    mode_power = shell = None
    sample_shape = spectral_shape(sample_shape, f.attrs)
    if "mode_power" in group:
        want = f"({', '.join(map(str, sample_shape))})"
        mode_power = read_array(
            group, "mode_power", path, dtype="float64", ndim=len(sample_shape), shape=want
        )
        if mode_power.shape != sample_shape:
            raise _fail(
                display_name(path), f"/stats/mode_power: expected float64 {want}, got {mode_power.shape}"
            )
    if "shell_spectrum" in group:
        shell = read_array(group, "shell_spectrum", path, dtype="float64", ndim=1, shape="(K,)")
    scalars = {k: float(group.attrs.get(k, np.nan)) for k in ("pixel_rms", "pixel_mean")}
    for key, value in scalars.items():
        if not np.isfinite(value):
            raise _fail(display_name(path), f"/stats@{key} is missing or not finite ({value})")
    return DatasetStats(
        mode_power, shell, scalars["pixel_rms"], scalars["pixel_mean"], attr_str(group, "field", "u")
    )


__all__ = [
    "AXES",
    "NORMALIZATION_SCHEMES",
    "SOURCES",
    "DatasetFile",
    "DatasetMeta",
    "DatasetStats",
    "Normalization",
    "iter_dataset_batches",
    "iter_pair_batches",
    "load_dataset_array",
    "read_dataset",
]
