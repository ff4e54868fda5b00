"""`sictl sample --condition FILE`: probabilistic forecasts with a point-source drift (arXiv 2403.13724).

For every condition (current state) of FILE, ``members`` ensemble members each integrate the
point-source SDE dX = b^g dt + g dW from X_0 = x0 (the condition, or 0 for the zero source) over
[t_min, t_max], and the forecast is X_1 (or condition + X_1); ``rollout`` K repeats this with each
member's forecast as its own next condition (each member follows its own trajectory). The drift is a
trained model (``--model``, ``sictl train --point-source``) or the exact OU drift (``--exact``, a
``sictl prepare ou-pairs`` dataset).

* g: ``--diffusion sigma`` (the trained σ), ``follmer`` (g_F, which minimises the path KL,
  arXiv 2403.13724 §3.4), ``const:c``, ``0`` (the probability-flow ODE: it starts off the point mass
  at t_min > 0 from x0 + t_min b_0(x0) + σ(t_min)√t_min ξ), or a table FILE (``.csv``/``.json``, columns
  t and g, linear in between; :mod:`sictl.pipeline.diffusion_table`).
* Defaults: solver ``em`` (``sde-heun``: stochastic Heun, second order) and diffusion ``sigma``; t ∈ [0, 1] for an SDE (the point-source drift is
  finite at both ends), t_min = 1e-3 for the ODE, t_max = 1 − 1e-3 for solvers with more than one drift
  evaluation per step (they would evaluate the score at t = 1, where σ = 0).
* Noise: every (condition, member, rollout step) path has its own generator seeded by
  ``SeedSequence([seed, condition, member, step])``, so the forecasts do not depend on the chunking,
  the batch size or the number of torchrun processes.
* Conditions are read and forecasts written in chunks (``--batch-size`` paths at a time) into a
  forecasts file (:mod:`sictl.io.forecasts`), in data units.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sictl.core.interpolants.point_source import PointSourceSchedule, point_source_diffusion, point_source_g2
from sictl.core.sampling.grids import time_grid
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import SOLVERS, make_solver
from sictl.errors import ConfigError
from sictl.pipeline.diffusion_table import is_diffusion_table, load_diffusion_table
from sictl.train.data import numpy_generator
from sictl.train.distributed import gather_to_main, init_from_env, shutdown

__all__ = ["ForecastConfig", "run"]

ODE_T_MIN = 1e-3
_KEY = 71  # the SeedSequence key of forecast noise (distinct from training's)


@dataclass(frozen=True, kw_only=True)
class ForecastConfig:
    """The options of `sictl sample --condition` (None: the default for the drift and diffusion)."""

    condition: str
    exact: str | None = None
    model: str | None = None
    weights: str = "ema"
    schedule: str | None = None
    solver: str | None = None
    diffusion: str | None = None
    steps: int | None = None
    grid: str = "uniform"
    members: int = 1
    rollout: int = 1
    t_min: float | None = None
    t_max: float | None = None
    batch_size: int = 256
    dtype: str = "float32"
    seed: int = 0
    device: str = "cpu"


def _need(ok: bool, message: str, hint: str) -> None:
    if not ok:
        raise ConfigError(message, hint=hint)


def _plan(cfg: ForecastConfig):
    from sictl.core.interpolants.schedules import make_schedule
    from sictl.pipeline.drift_sources import open_exact_source, open_model_source

    _need(cfg.members >= 1, f"--members must be ≥ 1, got {cfg.members}", "e.g. --members 10 (ensemble members per condition)")
    _need(cfg.rollout >= 1, f"--rollout must be ≥ 1, got {cfg.rollout}", "e.g. --rollout 5 (autoregressive steps)")
    _need(cfg.batch_size >= 1, f"--batch-size must be ≥ 1, got {cfg.batch_size}", "e.g. --batch-size 256")
    _need(cfg.dtype in ("float32", "float64"), f"--dtype must be float32 or float64, got {cfg.dtype}", "e.g. --dtype float32")
    src = open_exact_source(cfg.exact, None) if cfg.exact else open_model_source(cfg.model, None, weights=cfg.weights)
    _need(src.conditional, f"{src.label} is not a forecasting drift, so --condition does not apply",
          "train with `sictl train --point-source zero` or use an `sictl prepare ou-pairs` dataset")
    if src.native_schedule is not None:
        schedule = src.native_schedule
        if cfg.schedule not in (None, "linear"):
            other = make_schedule(cfg.schedule)
            _need(other.describe() == schedule.describe(), f"--schedule {cfg.schedule}: the model was trained under "
                  f"{schedule.describe()}", "drop --schedule: a point-source model samples under its training schedule")
        source = src.info["source"]
    else:
        schedule = make_schedule("beta-t2" if cfg.schedule in (None, "linear") else cfg.schedule)
        source = "state"
    _need(isinstance(schedule, PointSourceSchedule), f"--schedule {cfg.schedule}: not a point-source schedule",
          "use lin-beta, beta-t2, beta-2t2, beta-3t2, follmer-g-1 or g-sqrt1-t (optionally :c)")
    diffusion = cfg.diffusion or "sigma"
    table = is_diffusion_table(diffusion)
    g2 = None if table else point_source_g2(diffusion, schedule)
    ode = g2 is None and not table
    solver_name = cfg.solver or "em"
    _need(solver_name in SOLVERS, f"unknown solver {solver_name!r}", f"choose one of {', '.join(SOLVERS)}")
    cls = SOLVERS[solver_name]
    _need(ode or cls.takes_diffusion, f"--solver {solver_name} is an ODE solver; --diffusion {diffusion} needs a "
          "stochastic one", "use --solver em or sde-heun, or --diffusion 0 for the probability-flow ODE")
    t_min = (ODE_T_MIN if ode else 0.0) if cfg.t_min is None else cfg.t_min
    # one-evaluation solvers (em, euler) evaluate the drift at the left end of each step only; the others
    # also at t_max, where σ = 0 and the score is singular
    t_max = (1.0 if cls.nfe_per_step == 1 else 1.0 - ODE_T_MIN) if cfg.t_max is None else cfg.t_max
    _need(0.0 <= t_min < t_max <= 1.0, f"need 0 ≤ --t-min < --t-max ≤ 1, got {t_min}, {t_max}",
          "the point-source SDE runs on [0, 1] (the defaults)")
    _need(not ode or t_min > 0, "--diffusion 0 (the probability-flow ODE) cannot start at the point mass t = 0",
          f"start off the singular point: --t-min {ODE_T_MIN}")
    steps = 100 if cfg.steps is None else cfg.steps
    ts = time_grid(cfg.grid, steps, t_min, t_max, schedule)
    table_sum = None
    if table:  # a tabulated g(t) (ε = g²/2), checked against the window
        tab, table_sum = load_diffusion_table(diffusion, t_min, t_max)
        g2 = tab.g2
    if g2 is not None:
        values = g2(ts[:-1])
        bad = ~torch.isfinite(values) | (values < 0)
        if bool(bad.any()):
            raise ConfigError(f"--diffusion {diffusion}: g² is singular or negative at t = {float(ts[:-1][bad][0]):g} "
                              f"on the grid [{t_min:g}, {t_max:g}]",
                              hint="raise --t-min (g_F is singular where β vanishes too fast), or use --diffusion sigma")
    eps = (lambda t: 0.5 * g2(t)) if table else point_source_diffusion(diffusion, schedule)
    solver = make_solver(solver_name, diffusion=eps) if cls.takes_diffusion else make_solver(solver_name)
    return src, schedule, source, diffusion, solver, ts, ode, table_sum


def _conditions(cfg: ForecastConfig, sample_shape: tuple[int, ...], constant: float):
    """(reader(start, stop) → conditions in the drift's stored units, count, description)."""
    from sictl.io import DatasetRows, PairRows, read_dataset

    ds = read_dataset(cfg.condition)
    spatial = tuple(ds.meta.sample_shape)
    _need(not ds.meta.vector and (1, *spatial) == tuple(sample_shape),
          f"--condition {cfg.condition}: fields of shape {spatial}, the drift forecasts {tuple(sample_shape[1:])}",
          "give conditions on the drift's grid (same resolution), e.g. the -test.h5 of the same `sictl prepare`")
    rows = PairRows(cfg.condition) if ds.n_pairs else DatasetRows(cfg.condition)
    scale = ds.meta.normalization.constant / constant
    read = (lambda a, b: rows.read(a, b)[:, 0] * scale) if ds.n_pairs else (lambda a, b: rows.read(a, b) * scale)
    return read, rows, rows.n_samples, {"path": cfg.condition, "from": "pairs/x0" if ds.n_pairs else "t0_fields",
                                        "field": ds.meta.field_names[0]}


def _generators(seed: int, conds: np.ndarray, members: int, step: int) -> list[torch.Generator]:
    out = []
    for i in conds:
        for m in range(members):
            g = torch.Generator()
            g.manual_seed(int(numpy_generator(seed, _KEY, int(i), m, step).integers(2**62)))
            out.append(g)
    return out


def _forecast_block(src, schedule, source, solver, ts, ode, cond: torch.Tensor, idx: np.ndarray, cfg: ForecastConfig):
    """(len(idx), members, rollout, *sample) forecasts of the conditions ``cond`` (global indices ``idx``)."""
    members, like = cfg.members, cond
    state = cond.repeat_interleave(members, dim=0)
    leads, nfe = [], 0
    for k in range(cfg.rollout):
        drift = src.drift(schedule, state, source)
        gens = _generators(cfg.seed, idx, members, k)
        one = (1, *state.shape[1:])

        def draw(_i=None, gens=gens, drift=drift, one=one):
            return torch.cat([drift.sample_noise(one, generator=g, like=like) for g in gens])

        x = drift.sample_base(tuple(state.shape), generator=None, like=like)
        t0 = float(ts[0])
        if ode:  # start off the point mass: x0 + t_min b_0(x0) + σ(t_min)√t_min ξ
            x = x + t0 * drift.drift(0.0, x) + float(schedule.noise_scale(t0)) * draw()
        result = integrate(drift, solver, x, ts, noises=None if ode else draw)
        nfe += result.nfe + (1 if ode else 0)
        state = drift.forecast(result.x)
        leads.append(state)
    out = torch.stack(leads, dim=1)  # (n·M, K, *sample)
    return out.reshape(len(idx), members, cfg.rollout, *out.shape[2:]), nfe


def run(cfg: ForecastConfig, output: str, *, progress=None, export: str | None = None) -> dict:
    """Forecast every condition of ``cfg.condition`` and write the forecasts file ``output``; the JSON summary.

    ``export``: also write them as netCDF (``.nc``) or zarr (``.zarr``) (:mod:`sictl.io.forecast_export`).
    """
    from sictl.io import ForecastsWriter, check_distinct, file_checksum
    from sictl.io.forecast_export import check_export, export_forecasts
    from sictl.io.forecasts import forecast_layout

    if export is not None:  # refused before any work: wrong suffix, no xarray, the same path twice
        _need(output != "-", "--export reads the forecasts file back: it needs -o FILE, not -o -",
              "write the forecasts to a file, e.g. -o f.h5 --export f.nc")
        check_export(export)
        check_distinct({"--condition": cfg.condition, "--exact": cfg.exact}, {"-o": output, "--export": export})
    info, device = init_from_env(cfg.device)
    try:
        src, schedule, source, diffusion, solver, ts, ode, table_sum = _plan(cfg)
        read, rows, n, cond_info = _conditions(cfg, src.sample_shape, src.normalization_constant)
        dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
        chunk = max(1, cfg.batch_size // cfg.members)
        c = src.normalization_constant
        config = {**asdict(cfg), "schedule": schedule.describe(), "diffusion": diffusion, "solver": solver.name,
                  "steps": len(ts) - 1, "t_min": float(ts[0]), "t_max": float(ts[-1]), "source": source,
                  "drift": src.info, "conditions": cond_info}
        inputs = {src.path: src.checksum, cfg.condition: file_checksum(cfg.condition)}
        if table_sum is not None:
            inputs[diffusion] = table_sum
        started, nfe, bad = time.perf_counter(), 0, 0
        writer = ForecastsWriter(output, n_conditions=n, members=cfg.members, leads=cfg.rollout,
                                 sample_shape=src.sample_shape, config=config, inputs=inputs, seed=cfg.seed,
                                 attrs={"field": cond_info["field"], "normalization_constant": c, "units": "data",
                                        "lag": src.info.get("lag")}) if info.is_main else None
        try:
            if writer is not None:
                writer.__enter__()
            for start in range(0, n, chunk):
                stop = min(n, start + chunk)
                mine = np.arange(start, stop)[info.rank :: info.world]
                cond = torch.from_numpy(np.ascontiguousarray(read(start, stop))).to(device=device, dtype=dtype)
                part = cond[mine - start]
                block, used = _forecast_block(src, schedule, source, solver, ts, ode, part, mine, cfg) if len(mine) else \
                    (torch.zeros(0), 0)
                nfe = max(nfe, used)
                pieces = gather_to_main((mine, block.cpu().numpy()), info)
                if writer is not None:
                    full = np.empty((stop - start, cfg.members, cfg.rollout, *src.sample_shape), np.float32)
                    for ids, values in pieces:
                        if len(ids):
                            full[ids - start] = values
                    bad += int((~np.isfinite(full)).sum())
                    writer.write(start, full * c, cond.cpu().numpy() * c)
                if progress is not None and info.is_main:
                    progress(stop, n)
            if writer is not None:
                writer.attrs["nfe"] = nfe
                writer.__exit__(None, None, None)
        except BaseException as exc:
            if writer is not None:
                writer.__exit__(type(exc), exc, exc.__traceback__)
            raise
        finally:
            rows.close()
        wall = time.perf_counter() - started
        exported = export_forecasts(output, export) if export is not None and info.is_main else None
        return {"forecasts": output, "export": exported, "conditions": n, "members": cfg.members, "rollout": cfg.rollout,
                "sample_shape": list(src.sample_shape), "layout": forecast_layout(len(src.sample_shape) - 1),
                "drift_source": src.label, "drift": src.info, "schedule": schedule.describe(), "source": source,
                "diffusion": diffusion, "solver": solver.name, "steps": len(ts) - 1, "t_min": float(ts[0]),
                "t_max": float(ts[-1]), "nfe_per_lead": nfe // max(cfg.rollout, 1), "seed": cfg.seed,
                "world_size": info.world, "device": device, "wall_time_s": wall, "nonfinite_values": bad}
    finally:
        shutdown(info)
