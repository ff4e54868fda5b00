"""`sictl sample`: integrate a drift from base noise to samples, batch by batch (docs/cli.md, "sictl sample").

The pieces meet in a :class:`Plan`, resolved before any sampling (so bad input fails at once):

* a **drift source** (:class:`DriftSource`) builds the drift under any schedule. Exact sources:
  a Gaussian field dataset (its stored per-mode power → the Fourier-multiplier drift) and a Gaussian
  mixture (a dataset's ``@mixture`` attribute or a mixture JSON file → the closed-form drift). A
  trained checkpoint will be one more source whose ``native_schedule`` is its training schedule;
  nothing else changes;
* the sampling schedule; when the drift is defined under another one (``--drift-schedule``, or a
  checkpoint's training schedule) it is re-timed by the transfer formula (:class:`TransferredDrift`);
* a solver, a time grid and, for ``em``, the diffusion coefficient ε(t).

Randomness (docs/cli.md, "sample"): samples are grouped in blocks of :data:`NOISE_BLOCK`; block b
draws its base noise and then its per-step SDE noise from its own generator seeded with
``SeedSequence([seed, b])``, on the CPU in float32. The same seed therefore gives the same noise for
any ``--batch-size``, ``--dtype`` and device (hence the same samples up to arithmetic; identical ones
for the same dtype and device), and a larger ``--n`` extends a smaller run. Samples are computed in
the dataset's normalised units and written in data units (× the normalisation constant).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sictl.core.interpolants.schedules import Schedule, make_schedule, variance_preserving
from sictl.core.sampling.diffusion import make_diffusion
from sictl.core.sampling.drift import Drift, TransferredDrift
from sictl.core.sampling.grids import GRIDS, time_grid
from sictl.core.sampling.integrate import check_compatible, integrate
from sictl.core.sampling.solvers import make_solver, solver_class, stochastic_solvers
from sictl.errors import ConfigError, SchemaError
from sictl.pipeline.diffusion_table import is_diffusion_table, load_diffusion_table
from sictl.pipeline.drift_sources import DriftSource, open_drift_source

__all__ = ["SampleConfig", "Plan", "plan", "sample_batch", "run", "NOISE_BLOCK"]

#: Samples per noise block (the unit of seeding; see the module docstring).
NOISE_BLOCK = 64


@dataclass(frozen=True, kw_only=True)
class SampleConfig:
    """Everything `sample` needs; serialised into the samples file."""

    exact: str | None = None
    model: str | None = None
    weights: str = "ema"
    schedule: str = "linear"
    drift_schedule: str | None = None
    solver: str = "rk4-38"
    steps: int = 19
    grid: str = "uniform"
    diffusion: str = "0"
    base: str | None = None  # white for exact drifts; a model's own base
    n: int = 256
    batch_size: int = 256
    noise: str | None = None
    save_noise: str | None = None
    t_min: float = 1e-4
    t_max: float = 1 - 1e-4
    dtype: str = "float32"
    seed: int = 0
    device: str = "cpu"

    def validate(self) -> None:
        if self.n < 1 or self.batch_size < 1:
            raise ConfigError(f"--n and --batch-size must be ≥ 1, got {self.n} and {self.batch_size}",
                              hint="e.g. --n 2000 --batch-size 256 (the batch size does not change the samples)")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"--dtype must be float32 or float64, got {self.dtype!r}",
                              hint="float32 is the default; float64 for comparisons at integrator tolerance")
        if self.diffusion not in ("0", "none") and not solver_class(self.solver).takes_diffusion:
            raise ConfigError(f"--diffusion {self.diffusion} needs --solver {'|'.join(stochastic_solvers())} (a stochastic solver)",
                              hint="ODE solvers ignore diffusion")


def _is_file(spec: str) -> bool:
    from sictl.pipeline.schedule_files import is_schedule_file

    return is_schedule_file(spec)


def _schedule(spec: str, source: DriftSource) -> tuple[Schedule, str, dict, bool]:
    """(schedule, checksum, description {"family", "params"}, whether it is a file).

    A schedule file's checksum is that of its bytes; a named (closed-form) schedule's is the sha256 of
    its canonical description, family and resolved parameters as sorted JSON (the λ that ``designed``
    takes from the data included), as design-schedule does for targets that are not files.
    """
    from sictl.io import description_checksum

    if _is_file(spec):
        from sictl.pipeline.schedule_files import load_schedule

        sched, checksum, described = load_schedule(spec)
        return sched, checksum or description_checksum(described), described, True
    if spec.partition(":")[0] == "designed" and source.vp_path and ":" not in spec:
        raise ConfigError("`designed` for a mixture is the mixture-optimal schedule, which comes from a file",
                          hint="pass a file made by `sictl design-schedule --gmm M,p` (or `sictl design-schedule --gmm-file F`)")
    sched = make_schedule(spec, default_lam=source.default_lam)
    params = sched.describe()
    described = {"family": params.pop("name"), "params": params}
    return sched, description_checksum(described), described, False


def _grid(cfg: SampleConfig, schedule: Schedule) -> tuple[torch.Tensor, str, str | None]:
    """(times, label recorded as @grid, checksum of a grid file or None)."""
    if cfg.grid in GRIDS:
        return time_grid(cfg.grid, cfg.steps, cfg.t_min, cfg.t_max, schedule), cfg.grid, None
    from sictl.io import file_checksum, read_time_grid

    path = cfg.grid
    ts = torch.as_tensor(read_time_grid(path))
    if ts.numel() < 2 or not bool(torch.isfinite(ts).all()) or not bool((torch.diff(ts) > 0).all()) \
            or float(ts[0]) < 0 or float(ts[-1]) > 1:
        raise ConfigError(f"{path}: a time grid must hold ≥ 2 strictly increasing times in [0, 1]",
                          hint="write the times in increasing order, e.g. numpy.save(path, numpy.linspace(1e-4, 1 - 1e-4, 20))")
    from sictl.io import read_grid_design

    design = read_grid_design(path)
    if design is not None:  # a grid designed for one solver and budget: used only as designed
        from sictl.pipeline.grid_design import check_designed_grid, designed_label

        check_designed_grid(design, path, cfg.solver, cfg.diffusion, schedule, ts)
        return ts, designed_label(path, design), file_checksum(path)
    return ts, f"file:{path}", file_checksum(path)


@dataclass
class Plan:
    """Everything resolved before sampling: drift (already transferred), solver, grid, provenance."""

    cfg: SampleConfig
    source: DriftSource
    drift: Drift
    solver: object
    ts: torch.Tensor
    grid_label: str
    schedule_checksum: str
    schedule_description: dict
    drift_schedule: str  # what the drift is defined under: --drift-schedule, a native schedule, or --schedule
    transfer: bool
    inputs: dict
    dtype: torch.dtype
    noise_file: object = None  # a SamplesFile of base draws, or None


def plan(cfg: SampleConfig, source: DriftSource | None = None) -> Plan:
    """Resolve the configuration (files, schedules, grid, solver) without sampling."""
    cfg.validate()
    if source is None:
        if (cfg.exact is None) == (cfg.model is None):
            raise ConfigError("give the drift: exactly one of --exact FILE and --model RUN",
                              hint="--exact takes a dataset or mixture JSON file; --model a run folder of `sictl train`")
        if cfg.model is not None:
            source = open_drift_source("model", cfg.model, cfg.base, weights=cfg.weights, device=cfg.device)
        else:
            source = open_drift_source("exact", cfg.exact, cfg.base)
    sched, sched_sum, described, sched_file = _schedule(cfg.schedule, source)
    transfer = cfg.drift_schedule is not None and cfg.drift_schedule != cfg.schedule
    drift_sum, drift_label = None, cfg.drift_schedule or cfg.schedule
    if transfer:
        drift_sched, checksum, _, drift_file = _schedule(cfg.drift_schedule, source)
        drift_sum = checksum if drift_file else None
    else:
        drift_sched = source.native_schedule or sched
        transfer = source.native_schedule is not None and source.native_schedule.describe() != sched.describe()
        if transfer:
            drift_label = _schedule_label(source.native_schedule)
    wrap = variance_preserving if source.vp_path else (lambda s: s)
    drift = source.drift(drift_sched)
    if transfer:
        drift = TransferredDrift(drift, wrap(sched))
    ts, grid_label, grid_sum = _grid(cfg, wrap(sched))
    table_sum = None
    if is_diffusion_table(cfg.diffusion):  # a tabulated g(t): ε = g²/2
        table, table_sum = load_diffusion_table(cfg.diffusion, float(ts[0]), float(ts[-1]))
        solver = make_solver(cfg.solver, diffusion=table.epsilon)
    else:
        solver = make_solver(cfg.solver, diffusion=make_diffusion(cfg.diffusion, wrap(sched)))
    check_compatible(drift, solver)
    inputs = {source.path: source.checksum}
    if table_sum is not None:
        inputs[cfg.diffusion] = table_sum
    for spec, checksum in ((cfg.schedule, sched_sum if sched_file else None), (cfg.drift_schedule, drift_sum),
                           (cfg.grid, grid_sum)):
        if checksum:
            inputs[spec] = checksum
    noise_file = None
    if cfg.noise is not None:
        from sictl.io import file_checksum, read_samples

        noise_file = read_samples(cfg.noise)
        if noise_file.meta.drift_source != "base-noise":
            raise SchemaError(f"{cfg.noise} is a samples file, not a base-noise file",
                              hint="write one with `sictl sample ... --save-noise FILE`")
        if noise_file.sample_shape != source.sample_shape or noise_file.n < cfg.n:
            raise ConfigError(f"{cfg.noise} holds {noise_file.n} draws of shape {noise_file.sample_shape}; "
                              f"need {cfg.n} of shape {source.sample_shape}", hint="save the noise with a run of this size")
        inputs[cfg.noise] = file_checksum(cfg.noise)
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    return Plan(cfg, source, drift, solver, ts, grid_label, sched_sum, described, drift_label, transfer, inputs, dtype,
                noise_file)


def _schedule_label(schedule: Schedule) -> str:
    """A native schedule as text: its name, or its JSON description when it has parameters."""
    described = schedule.describe()
    return described["name"] if len(described) == 1 else json.dumps(described, sort_keys=True)


def _generator(seed: int, block: int) -> torch.Generator:
    state = np.random.SeedSequence([int(seed) & (2**63 - 1), block]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


class _Noise:
    """Base draws and per-step SDE noise of samples [start, stop), the same for any batching."""

    def __init__(self, drift: Drift, seed: int, shape: tuple[int, ...], start: int, stop: int):
        self.drift, self.shape, self.start, self.stop = drift, shape, start, stop
        self.blocks = range(start // NOISE_BLOCK, (stop - 1) // NOISE_BLOCK + 1)
        self.gens = [_generator(seed, b) for b in self.blocks]
        self.like = torch.empty(0, dtype=torch.float32)

    def draw(self) -> torch.Tensor:
        parts = [self.drift.sample_base((NOISE_BLOCK, *self.shape), generator=g, like=self.like) for g in self.gens]
        full = parts[0] if len(parts) == 1 else torch.cat(parts)
        offset = self.blocks[0] * NOISE_BLOCK
        return full[self.start - offset : self.stop - offset]


def sample_batch(p: Plan, start: int, stop: int, *, callback=None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Samples [start, stop) in normalised units: (final states, base draws, NFE per sample).

    The solvers never write into their inputs, so the state starts as the base draws themselves
    (no copy when dtype and device already match) and the draws returned are untouched.
    """
    noise = _Noise(p.drift, p.cfg.seed, p.source.sample_shape, start, stop)
    stochastic = p.solver.stochastic
    if p.noise_file is None:
        z = noise.draw()  # float32, what a noise file stores: a run reading its --save-noise file repeats itself
    else:
        if stochastic:  # drawn and dropped, so that the SDE noise stream does not depend on --noise
            noise.draw()
        z = torch.from_numpy(_noise_rows(p.noise_file, start, stop))
    x = z.to(device=p.cfg.device, dtype=p.dtype)
    tick = None if callback is None else (lambda i, t1, x: callback(i))
    x, nfe = integrate(p.drift, p.solver, x, p.ts, noises=lambda i: noise.draw(), callback=tick)
    return x, z, nfe


def to_data_units(x: torch.Tensor, constant: float) -> tuple[np.ndarray, int]:
    """(float32 samples × the normalisation constant on the CPU, number of samples holding NaN/inf).

    One pass each for the scaling (skipped when the constant is 1) and the finiteness count, done in
    the sampling precision; the file stores float32.
    """
    out = x if constant == 1 else x * constant
    out = out.to("cpu", torch.float32)
    bad = int((~torch.isfinite(out.reshape(len(out), -1)).all(dim=1)).sum())
    return out.numpy(), bad


def _noise_rows(noise_file, start: int, stop: int) -> np.ndarray:
    from sictl.io import iter_samples_batches

    rows, seen = [], 0
    for batch in iter_samples_batches(noise_file.local_path, 4096, name=noise_file.path):
        lo, hi = max(start - seen, 0), min(stop - seen, len(batch))
        if lo < hi:
            rows.append(batch[lo:hi])
        seen += len(batch)
        if seen >= stop:
            break
    return np.concatenate(rows)


def _base_label(cfg: SampleConfig, source: DriftSource) -> str:
    """The base noise as given, or the model's own (``white`` for exact drifts by default)."""
    if cfg.base:
        return cfg.base
    base = source.info.get("base")
    return base.get("spec", "white") if isinstance(base, dict) else "white"


def run(cfg: SampleConfig, output: str, *, progress=None, source: DriftSource | None = None,
        size_check: bool = True) -> dict:
    """Sample and write ``output`` (and ``cfg.save_noise``). Returns the JSON summary (on every rank).

    ``source`` replaces the drift source that ``cfg.exact`` names (a checkpoint, a test's drift).
    ``size_check`` refuses, before sampling, files larger than the free disk space and batches larger
    than the available memory (:mod:`sictl.pipeline.budget`; ``--no-size-check`` turns it off).
    Under ``torchrun`` the batches are shared out by rank (batch i on rank i mod world) and rank 0
    gathers them in order and alone writes: the file equals a one-process run's, since every
    sample's noise depends only on the seed and its index.
    """
    from sictl.train.distributed import init_from_env, shutdown

    info, device = init_from_env(cfg.device)
    try:
        return _run(dataclasses.replace(cfg, device=device) if info.active else cfg, output, info, progress, source,
                    size_check)
    finally:
        shutdown(info)


def _run(cfg: SampleConfig, output: str, info, progress, source: DriftSource | None, size_check: bool = True) -> dict:
    from sictl.io import SamplesMeta, SamplesWriter, check_distinct, check_writable, output_group
    from sictl.pipeline.budget import check_sample_size
    from sictl.pipeline.inputs import sample_inputs
    from sictl.train.distributed import gather_to_main

    main = info.is_main
    for path in (output, cfg.save_noise):
        if path is not None and main:
            check_writable(path)
    check_distinct(sample_inputs(cfg), {"-o": output, "--save-noise": cfg.save_noise})
    p = plan(cfg, source)
    if size_check and main:
        check_sample_size(cfg, p.source.sample_shape, p.solver.nfe_per_step, output)
    c = p.source.normalization_constant
    attrs = {"diffusion": cfg.diffusion, "t_min": float(p.ts[0]), "t_max": float(p.ts[-1]), "base": _base_label(cfg, p.source),
             "schedule": cfg.schedule, "drift_schedule": p.drift_schedule, "transfer": p.transfer,
             "dtype": cfg.dtype, "noise_block": NOISE_BLOCK, "exact": json.dumps(p.source.info),
             "schedule_description": json.dumps(p.schedule_description, sort_keys=True)}
    if cfg.noise:
        attrs["noise_file"] = cfg.noise
    meta = SamplesMeta(drift_source=p.source.label, solver=cfg.solver, steps=len(p.ts) - 1, grid=p.grid_label,
                       drift_checksum=p.source.checksum, schedule_checksum=p.schedule_checksum,
                       normalization_constant=c, grid_times=p.ts.numpy(), attrs=attrs, config=asdict(cfg),
                       inputs=p.inputs, seed=cfg.seed)
    steps = len(p.ts) - 1
    batches = [(start, min(start + cfg.batch_size, cfg.n)) for start in range(0, cfg.n, cfg.batch_size)]
    total, done, nfe, bad = steps * len(batches), 0, 0, 0
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:  # both files are renamed into place together, only if all went well
        group = stack.enter_context(output_group())
        writer = stack.enter_context(SamplesWriter(output, meta, p.source.sample_shape, n=cfg.n, group=group)) if main else None
        noise_writer = None
        if cfg.save_noise and main:
            nmeta = SamplesMeta(drift_source="base-noise", solver="none", steps=0, attrs={
                "base": _base_label(cfg, p.source), "noise_block": NOISE_BLOCK, "exact": p.source.label}, config=asdict(cfg), seed=cfg.seed)
            noise_writer = stack.enter_context(SamplesWriter(cfg.save_noise, nmeta, p.source.sample_shape, n=cfg.n,
                                                             group=group))
        for first in range(0, len(batches), info.world):  # one batch per rank per round
            mine, result = first + info.rank, None
            if mine < len(batches):
                tick = None if progress is None or not main else (lambda i, d=done: progress(d + i + 1, total))
                x, z, nfe_batch = sample_batch(p, *batches[mine], callback=tick)
                result = (*to_data_units(x, c), z.numpy() if cfg.save_noise else None, nfe_batch)
            for got in gather_to_main(result, info) or []:
                if got is None:
                    continue
                out, nonfinite, z_rows, nfe = got
                done, bad = done + steps, bad + nonfinite
                writer.append(out)
                if noise_writer is not None:
                    noise_writer.append(z_rows)
            if main and progress is not None:
                progress(done, total)
        wall = time.perf_counter() - started
        if main:
            writer.update(nfe=nfe, wall_time_s=wall, attrs={**attrs, "nonfinite_samples": bad})
    return {
        "samples": output, "n": cfg.n, "sample_shape": list(p.source.sample_shape), "drift_source": p.source.label,
        "drift_checksum": p.source.checksum, "exact": p.source.info, "schedule": cfg.schedule,
        "schedule_checksum": p.schedule_checksum, "schedule_description": p.schedule_description,
        "drift_schedule": p.drift_schedule,
        "transfer": p.transfer, "solver": cfg.solver, "steps": steps, "grid": p.grid_label, "nfe": nfe,
        "diffusion": cfg.diffusion, "seed": cfg.seed, "dtype": cfg.dtype, "device": cfg.device,
        "wall_time_s": wall, "normalization_constant": c, "nonfinite_samples": bad, "noise": cfg.noise,
        "saved_noise": cfg.save_noise, "config": asdict(cfg), "inputs": p.inputs,
    }
