"""`prepare`: turn a source of trajectories into dataset files (docs/cli.md, "sictl prepare SOURCE").

Every source (:mod:`sictl.pipeline.sources`: simulators, samplers, imports) hands over a
:class:`SourceData`: metadata and an iterator of blocks in data units — whole trajectories
``(k, T, *shape)`` (simulations, imports), or time slabs ``(B, k, *shape)`` of all B trajectories
(Markov chains, whose samples come out a thinning block at a time: ``SourceData.time_block``).
:func:`write_prepared` then applies the options every source shares, streaming — nothing holds the
whole set in memory:

1. resolution change per block (spectral truncation/padding or (bi)linear), written to a temporary
   raw file while the statistics of the train and test parts are accumulated;
2. the normalisation constant (RMS pixel value of the *train* part, so the test part does not
   leak into it), the split by trajectory, forecasting pairs at a lag within trajectories, and the
   final files with their statistics (per-mode power on the full FFT grid, shell spectrum, pixel
   RMS and mean), all in stored (normalised) units. The raw file is read back within a memory
   budget (:func:`readback_plan`): up to 16 whole trajectories at a time while they fit, otherwise
   time slabs of the part's trajectories (always for a time-slab source).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from sictl.core.fields import spectra
from sictl.errors import ConfigError

Progress = Callable[[str, float, float], None]
RAW_TRAJECTORIES = 16  # at most this many whole trajectories per block when the raw file is read back (pass 2)
READ_BUDGET_BYTES = 256 << 20  # float32 bytes per block read back in pass 2
STATS_CHUNK_BYTES = 32 << 20  # complex128 bytes of one chunk of snapshots transformed for the statistics


@dataclass(frozen=True, kw_only=True)
class PrepareOptions:
    """Options shared by every source."""

    normalize: str = "none"
    resolution: int | None = None
    resample: str = "spectral"
    split: float | None = None
    lag: int | None = None
    seed: int = 0

    def validate(self) -> None:
        if self.normalize not in ("none", "rms"):
            raise ConfigError(f"--normalize must be none or rms, got {self.normalize!r}",
                              hint="--normalize rms divides by the RMS pixel value of the train part")
        if self.resample not in ("spectral", "bilinear"):
            raise ConfigError(f"--resample must be spectral or bilinear, got {self.resample!r}",
                              hint="spectral (Fourier truncation/padding) keeps the large scales exactly")
        if self.resolution is not None and (self.resolution < 4 or self.resolution % 2):
            raise ConfigError(f"--resolution must be an even number ≥ 4 (periodic FFT grids have an even side), "
                              f"got {self.resolution}", hint="give the stored grid points per side, e.g. --resolution 64")
        if self.split is not None and not (0.0 < self.split < 1.0):
            raise ConfigError(f"--split is the train fraction, strictly between 0 and 1; got {self.split}",
                              hint="e.g. --split 0.9 keeps 90% of the trajectories for training")
        if self.lag is not None and self.lag < 1:
            raise ConfigError(f"--lag must be a positive number of snapshots, got {self.lag}",
                              hint="e.g. --lag 2 pairs each snapshot with the one two snapshots later")


@dataclass
class SourceData:
    """What a source hands to the writer.

    Attributes:
        blocks: iterator of float arrays (data units): whole trajectories ``(k, T, *sample_shape)`` in
            order, or, when ``time_block`` is set, time slabs ``(n_trajectories, k, *sample_shape)``
            (k ≤ time_block) of every trajectory, consecutive in time.
        n_trajectories: how many trajectories there are in total.
        diagnostics: filled by the source while iterating (acceptance rates, budgets, ...).
        time_block: None (blocks of whole trajectories) or the number of snapshots per time slab.
    """

    dataset_name: str
    source: str
    sample_shape: tuple[int, ...]
    time: np.ndarray
    blocks: Iterator[np.ndarray]
    n_trajectories: int
    vector: bool = False
    boundary: str = "periodic"
    field_name: str = "u"
    attrs: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)
    mixture: dict | None = None  # data-unit mixture of a gmm source, rescaled with the normalisation
    fft_nodes: int | None = None  # spectra use the first fft_nodes points of the last axis (Allen–Cahn)
    time_block: int | None = None


class _Stats:
    """Running sums for the statistics of stored arrays (float64)."""

    def __init__(self, shape: tuple[int, ...], vector: bool, fft_nodes: int | None = None, device: str = "cpu"):
        self.fft_nodes, self.device = fft_nodes, device
        if fft_nodes is not None:
            shape = (*shape[:-1], fft_nodes)
        self.power = None if vector else np.zeros(shape, np.float64)
        self.sq = self.total = 0.0
        self.count = 0  # samples
        self.values = 0  # scalar entries

    def add(self, block: np.ndarray) -> None:
        """Add a block ``(k, T, *shape)``, a bounded number of snapshots at a time (float64 copies and
        their complex transforms of a long trajectory would otherwise take many times its size)."""
        samples = block.reshape(-1, *block.shape[2:])
        step = max(1, STATS_CHUNK_BYTES // max(16 * math.prod(samples.shape[1:]), 1))
        for i in range(0, len(samples), step):
            flat = samples[i : i + step].astype(np.float64)
            if self.power is not None:
                periodic = flat if self.fft_nodes is None else flat[..., : self.fft_nodes]
                self.power += spectra.mode_power(torch.from_numpy(periodic), flat.ndim - 1, total=True,
                                                 device=self.device).cpu().numpy()
            self.sq += float((flat * flat).sum())
            self.total += float(flat.sum())
            self.count += len(flat)
            self.values += flat.size

    @property
    def rms(self) -> float:
        return math.sqrt(self.sq / max(self.values, 1))

    def finish(self, scale: float):
        """DatasetStats of the stored values (raw / scale)."""
        from sictl.io import DatasetStats

        if self.power is None:
            return DatasetStats(None, None, self.rms / scale, self.total / max(self.values, 1) / scale)
        power = self.power / max(self.count, 1) / scale**2
        shape = power.shape
        if power.ndim == 1:
            shell = power.copy()
        elif len(set(shape)) == 1 and shape[0] % 2 == 0:
            shell = spectra.shell_spectrum(torch.from_numpy(power), shape[0], power.ndim).numpy()
        else:
            shell = None
        return DatasetStats(power, shell, self.rms / scale, self.total / max(self.values, 1) / scale)


def _resample(block: np.ndarray, opts: PrepareOptions, vector: bool, device: str = "cpu") -> np.ndarray:
    if opts.resolution is None or vector:
        return block
    shape = block.shape[2:]
    if len(set(shape)) != 1:
        raise ConfigError(f"--resolution needs a square grid, got {shape}",
                          hint="store non-square grids at their own resolution (drop --resolution)")
    if shape[0] == opts.resolution:
        return block
    x = torch.from_numpy(np.ascontiguousarray(block, dtype=np.float64)).to(device)
    fn = spectra.spectral_resample if opts.resample == "spectral" else spectra.bilinear_resample
    return fn(x, opts.resolution, len(shape)).cpu().numpy()


def output_paths(output: str, split: float | None) -> list[str]:
    """``-o data.h5 --split f`` writes ``data-train.h5`` and ``data-test.h5``."""
    if split is None:
        return [output]
    if output == "-":
        raise ConfigError("--split writes two files and cannot write to stdout", hint="give -o data.h5")
    stem, ext = os.path.splitext(output)
    return [f"{stem}-train{ext or '.h5'}", f"{stem}-test{ext or '.h5'}"]


def write_prepared(src: SourceData, opts: PrepareOptions, output: str, progress: Progress | None = None,
                   device: str = "cpu", *, size_check: bool = True) -> dict:
    """Write the dataset file(s) of a source. Returns the JSON summary.

    ``device`` is where the statistics' Fourier transforms and the resolution change run (the
    source's own computation runs where the source was built for). The files of ``--split`` appear
    together or not at all (:class:`~sictl.io.OutputGroup`). ``size_check`` refuses, before any work,
    files larger than the free disk space (:mod:`sictl.pipeline.budget`; ``--no-size-check``).
    """
    from sictl.io import DatasetMeta, DatasetWriter, Normalization, output_group
    from sictl.io.scratch import scratch_path

    opts.validate()
    started = time.perf_counter()
    paths = output_paths(output, opts.split)
    n_train = src.n_trajectories if opts.split is None else int(round(opts.split * src.n_trajectories))
    if opts.split is not None and not (0 < n_train < src.n_trajectories):
        raise ConfigError(
            f"--split {opts.split} of {src.n_trajectories} trajectories leaves one part empty",
            hint="split by trajectory needs at least one trajectory on each side",
        )
    n_times = len(src.time)
    if opts.lag is not None and opts.lag >= n_times:
        raise ConfigError(f"--lag {opts.lag} needs more than {opts.lag} snapshots per trajectory, got {n_times}",
                          hint="lower --lag, or store more snapshots per trajectory")
    shape = src.sample_shape
    if opts.resolution is not None and not src.vector:
        shape = (opts.resolution,) * len(shape)

    def meta(normalization, pairs_lag=None, extra=None):
        attrs = dict(src.attrs)
        if src.fft_nodes is not None:
            attrs["fft_nodes"] = int(src.fft_nodes)
        attrs.update(extra or {})
        return DatasetMeta(
            dataset_name=src.dataset_name, source=src.source, sample_shape=shape, time=src.time,
            field_names=(src.field_name,), vector=src.vector, boundary=src.boundary, normalization=normalization,
            attrs=attrs, pairs_lag=pairs_lag, config={**src.config, "prepare": asdict(opts)},
            inputs=src.inputs, seed=opts.seed,
        )

    if src.fft_nodes is not None and opts.resolution is not None:
        raise ConfigError("--resolution applies to periodic fields; this source stores grid nodes",
                          hint="simulate at the resolution you need (e.g. --res)")
    if size_check:
        from sictl.pipeline.budget import check_disk, prepare_disk_needs

        check_disk(prepare_disk_needs(output, paths, src.n_trajectories, n_times, shape, opts.lag),
                   f"prepare {src.source} ({src.n_trajectories} trajectories × {n_times} snapshots of shape "
                   f"{tuple(shape)}, float32, and a scratch copy)",
                   "store fewer trajectories or snapshots, or write to another disk (-o)")
    stats = [_Stats(shape, src.vector, src.fft_nodes, device) for _ in paths]
    ranges = _ranges(n_train, src.n_trajectories, len(paths))
    with scratch_path(output, ".raw.h5") as raw, output_group() as group:  # all files appear at the end, or none
        _write_raw(src, opts, raw, meta(Normalization()), shape, stats, ranges, progress, device)
        constant = stats[0].rms if opts.normalize == "rms" else 1.0
        if not (math.isfinite(constant) and constant > 0):
            raise ConfigError("cannot normalise: the data are identically zero", hint="use --normalize none")
        norm = Normalization(opts.normalize, constant)
        extra = {"mixture": _scaled_mixture(src.mixture, constant)} if src.mixture else None
        outputs = []
        for j, (path, (lo, hi)) in enumerate(zip(paths, ranges)):
            n_pairs = (hi - lo) * (n_times - opts.lag) if opts.lag else None
            per_block, slab = readback_plan(hi - lo, n_times, shape, src.time_block)
            with DatasetWriter(path, meta(norm, opts.lag, extra), stats=stats[j].finish(constant),
                               n_trajectories=hi - lo, n_pairs=n_pairs, time_block=slab, group=group) as writer:
                _write_part(writer, raw, lo, hi, constant, opts.lag, per_block, slab)
            st = stats[j].finish(constant)
            outputs.append({
                "path": path, "n_trajectories": hi - lo, "n_samples": (hi - lo) * n_times,
                "n_pairs": n_pairs or 0, "pixel_rms": st.pixel_rms, "pixel_mean": st.pixel_mean,
                "shell_spectrum_head": None if st.shell_spectrum is None else st.shell_spectrum[:8].tolist(),
            })
    return {
        "outputs": outputs,
        "source": src.source,
        "dataset_name": src.dataset_name,
        "sample_shape": list(shape),
        "n_times": n_times,
        "normalization": {"scheme": norm.scheme, "constant": norm.constant},
        "diagnostics": src.diagnostics,
        "seed": opts.seed,
        "config": {**src.config, "prepare": asdict(opts)},
        "wall_time_s": time.perf_counter() - started,
    }


def _write_raw(src: SourceData, opts: PrepareOptions, raw: str, meta, shape, stats, ranges, progress,
               device: str = "cpu") -> None:
    """Pass 1: the source's blocks, resampled, into the raw file; statistics of each part (train/test)."""
    from sictl.io import DatasetWriter

    n_total, n_times, by_time = src.n_trajectories, len(src.time), src.time_block is not None
    done = 0
    with DatasetWriter(raw, meta, n_trajectories=n_total, time_block=src.time_block) as writer:
        for block in src.blocks:
            with np.errstate(over="ignore", invalid="ignore"):  # checked just below, with a better message
                block = _resample(np.asarray(block), opts, src.vector, device).astype(np.float32)
            if not np.isfinite(block).all():
                raise ConfigError(f"prepare {src.source}: the source produced NaN/inf values or values beyond "
                                  f"float32 ({'snapshots' if by_time else 'trajectories'} {done}+)",
                                  hint=f"check the options of `sictl prepare {src.source}` (a step too large, "
                                       "a parameter out of range) or the values of the file imported")
            if by_time:
                writer.append_times(block)
                parts = [block[lo:hi] for lo, hi in ranges]
                done += block.shape[1] if block.ndim > 1 else 0
            else:
                writer.append(block)
                parts = [block[max(lo - done, 0) : max(hi - done, 0)] for lo, hi in ranges]
                done += len(block)
            for st, part in zip(stats, parts):
                if len(part):
                    st.add(part)
            if progress:
                progress("write (snapshots)" if by_time else "write (trajectories)", done,
                         n_times if by_time else n_total)


def readback_plan(n_trajectories: int, n_times: int, sample_shape: tuple[int, ...],
                  time_block: int | None) -> tuple[int, int | None]:
    """How pass 2 reads a part of ``n_trajectories`` back: (trajectories per block, snapshots per block).

    Snapshots None means whole trajectories, at most :data:`RAW_TRAJECTORIES` of them and within
    :data:`READ_BUDGET_BYTES`. When one trajectory alone exceeds the budget and the part has more
    snapshots than trajectories (a few long imported runs), or the source came in time slabs, every
    trajectory of the part is read in time slabs instead, as many snapshots as the budget allows (a
    time-slab source's own slab at most). Either way a block is the smaller of the two units.
    """
    snapshot = 4 * math.prod(sample_shape)
    whole = min(RAW_TRAJECTORIES, n_trajectories, READ_BUDGET_BYTES // max(snapshot * n_times, 1))
    if time_block is None and (whole >= 1 or n_trajectories >= n_times):
        return max(whole, 1), None
    slab = max(1, READ_BUDGET_BYTES // max(snapshot * n_trajectories, 1))
    return n_trajectories, min(slab, time_block or n_times, n_times)


def _write_part(writer, raw: str, lo: int, hi: int, constant: float, lag: int | None,
                per_block: int, slab: int | None) -> None:
    """Pass 2: trajectories lo..hi of the raw file, divided by the constant, and their pairs at ``lag``.

    Read as :func:`readback_plan` says: whole trajectories, or time slabs of all of them; in slabs the
    last ``lag`` snapshots of each slab are kept so that pairs spanning two slabs are not lost (pairs
    never cross a trajectory boundary).
    """
    from sictl.io import iter_trajectory_blocks

    tail = None
    for block in iter_trajectory_blocks(raw, trajectories=per_block, times=slab, start=lo, stop=hi):
        part = block / np.float32(constant)
        if slab is not None:
            writer.append_times(part)
            window = part if tail is None else np.concatenate([tail, part], axis=1)
            tail = window[:, -lag:] if lag else None
        else:
            writer.append(part)
            window = part
        if lag and window.shape[1] > lag:
            shape = window.shape[2:]
            writer.append_pairs(window[:, :-lag].reshape(-1, *shape), window[:, lag:].reshape(-1, *shape))


def _ranges(n_train: int, n_total: int, parts: int) -> list[tuple[int, int]]:
    return [(0, n_total)] if parts == 1 else [(0, n_train), (n_train, n_total)]


def _scaled_mixture(mixture: dict, constant: float) -> str:
    """The mixture in stored units (means / c, covariances / c²), as JSON."""
    import json

    return json.dumps({
        "weights": mixture["weights"],
        "means": (np.asarray(mixture["means"]) / constant).tolist(),
        "covs": (np.asarray(mixture["covs"]) / constant**2).tolist(),
    })
