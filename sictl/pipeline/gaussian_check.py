"""`gaussian-check`: the exact laboratory (SPEC §2.6).

For a Gaussian target (ratios, a Matérn field or a dataset's stored spectrum) or a two-mode
mixture, and for every schedule, solver, grid and step count asked for, compute with no sampling:
the drift's Lipschitz constant and A2, and the exact error of what the pipeline would generate.
Optionally sample to confirm (Monte Carlo) and verify the transfer formula and ε*/g_F identities.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

import torch

from sictl.core.exact import gaussian, two_mode
from sictl.core.exact.drifts import DiagonalGaussianDrift, FourierGaussianDrift
from sictl.core.fields import spectra
from sictl.core.interpolants.schedules import Schedule, VariancePreserving, make_schedule
from sictl.core.sampling.diffusion import make_diffusion
from sictl.core.sampling.grids import time_grid
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import make_solver
from sictl.errors import ConfigError
from sictl.pipeline import checks
from sictl.pipeline.targets import GaussianTarget, GeneralMixtureTarget, MixtureTarget, build_target


@dataclass(frozen=True, kw_only=True)
class GaussianCheckConfig:
    """Everything `gaussian-check` needs; serialised into every output."""

    ratios: tuple[float, ...] = ()
    matern: str | None = None
    dim: int = 2
    spectrum: str | None = None
    gmm: str | None = None
    base: str = "white"
    schedules: tuple[str, ...] = ("linear", "designed")
    solvers: tuple[str, ...] = ("rk4-38",)
    steps: tuple[int, ...] = (9, 19, 39)
    grids: tuple[str, ...] = ("uniform",)
    t_min: float = 1e-4
    t_max: float = 1 - 1e-4
    diffusion: str = "optimal"
    monte_carlo: int = 0
    transfer: bool = False
    seed: int = 0
    device: str = "cpu"

    def validate(self) -> None:
        for n in self.steps:
            if n < 1:
                raise ConfigError(f"--steps must be positive integers, got {n}", hint="steps counts intervals, e.g. 9,19,39")
        if not (0.0 <= self.t_min < self.t_max <= 1.0):
            raise ConfigError(f"need 0 ≤ t-min < t-max ≤ 1, got t-min={self.t_min}, t-max={self.t_max}",
                              hint="the defaults are --t-min 1e-4 --t-max 0.9999")
        if self.monte_carlo < 0:
            raise ConfigError(f"--monte-carlo must be ≥ 0, got {self.monte_carlo}",
                              hint="give the number of samples, e.g. --monte-carlo 2000, or 0 to skip sampling")
        if not self.schedules or not self.solvers or not self.steps or not self.grids:
            raise ConfigError("need at least one schedule, solver, step count and grid",
                              hint="e.g. --schedules linear,designed --solvers rk4-38 --steps 19 --grid uniform")


@dataclass
class NamedSchedule:
    label: str
    schedule: Schedule
    checksum: str | None = None
    info: dict = field(default_factory=dict)


def _is_file_spec(spec: str) -> bool:
    return os.sep in spec or spec.endswith((".h5", ".hdf5")) or os.path.exists(spec)


def resolve_schedule(spec: str, target: GaussianTarget | MixtureTarget) -> NamedSchedule:
    """A schedule by name (``designed`` takes the target's λ_min) or from a schedule file."""
    if _is_file_spec(spec):
        from sictl.pipeline.schedule_files import load_schedule

        sched, checksum, info = load_schedule(spec)
        return NamedSchedule(spec, sched, checksum, info)
    if spec == "designed" and isinstance(target, MixtureTarget):
        raise ConfigError(
            "`designed` for a mixture is the mixture-optimal schedule, which comes from a schedule file",
            hint="pass a file made by `sictl design-schedule --gmm M`, or designed:λ for a Gaussian design",
        )
    default_lam = target.ratio_min if isinstance(target, GaussianTarget) else None
    return NamedSchedule(spec, make_schedule(spec, default_lam=default_lam))


def _schedule_metrics(ns: NamedSchedule, target) -> dict:
    if isinstance(target, MixtureTarget):
        vp = VariancePreserving(ns.schedule)
        return {"lipschitz": two_mode.two_mode_lipschitz(vp, target.M), "a2": two_mode.two_mode_a2(vp, target.M, target.p)}
    ratios = (target.ratio_min, target.ratio_max)
    lip_cf = gaussian.closed_form_lipschitz(ns.schedule, ratios)
    a2_cf = gaussian.closed_form_a2(ns.schedule, ratios)
    out = {
        "lipschitz": lip_cf if lip_cf is not None else gaussian.lipschitz_numeric(ns.schedule, ratios),
        "a2": a2_cf if a2_cf is not None else gaussian.a2_numeric(ns.schedule, ratios),
        "closed_form": {"lipschitz": lip_cf is not None, "a2": a2_cf is not None},
        "description": ns.schedule.describe(),
    }
    if ns.checksum:
        out["checksum"] = ns.checksum
    return out


def _gaussian_run(ns: NamedSchedule, solver, ts, target: GaussianTarget) -> tuple[dict, torch.Tensor]:
    var, nfe = gaussian.generated_variance(solver, ns.schedule, target.target_var, ts, target.base_var)
    errors = target.relative_errors(var)
    run = {
        "nfe": nfe,
        "spectral_error_mean": float(errors.mean()),
        "spectral_error_max": float(errors.max()),
    }
    if target.shells is None and target.target_var.numel() <= 16:
        run["std_ratio"] = (var / target.target_var).sqrt().tolist()
    return run, errors


def _monte_carlo(ns: NamedSchedule, solver, ts, target: GaussianTarget, cfg: GaussianCheckConfig) -> dict:
    gen = torch.Generator(device=cfg.device).manual_seed(cfg.seed)
    lam = target.target_var.to(cfg.device)
    mu = target.base_var.expand_as(target.target_var).to(cfg.device)
    if target.shells is None:
        drift = DiagonalGaussianDrift(ns.schedule, lam, mu)
    else:
        drift = FourierGaussianDrift(ns.schedule, lam, mu)
    like = torch.empty(0, dtype=torch.float64, device=cfg.device)
    total, done, batch = torch.zeros_like(lam), 0, 500
    while done < cfg.monte_carlo:
        n = min(batch, cfg.monte_carlo - done)
        z = drift.sample_base((n, *lam.shape), generator=gen, like=like)
        x = integrate(drift, solver, z, ts, generator=gen).x
        if target.shells is None:
            total += (x * x).sum(0)
        else:
            total += spectra.mode_power(x, target.dim) * n
        done += n
    errors = target.relative_errors(total / done)
    return {
        "mc_samples": done,
        "mc_spectral_error_mean": float(errors.mean()),
        "mc_spectral_error_max": float(errors.max()),
    }


def _mixture_run(ns: NamedSchedule, solver, ts, target: MixtureTarget) -> dict:
    weight = two_mode.minority_weight(solver, ns.schedule, ts, target.M, target.p)
    return {
        "nfe": len(ts[1:]) * solver.nfe_per_step,
        "mode_weight_plus": weight,
        "mode_weight_error": abs(weight - target.p),
    }


def run(cfg: GaussianCheckConfig, progress=None) -> tuple[dict, dict]:
    """Run the check. Returns (summary JSON, arrays for the HDF5 report)."""
    cfg.validate()
    started = time.perf_counter()
    target = build_target(cfg)
    if isinstance(target, GeneralMixtureTarget):
        raise ConfigError("gaussian-check handles Gaussian targets and the two-mode mixture (--gmm M,p)",
                          hint="design a schedule for a general mixture with `sictl design-schedule --gmm-file`")
    named = [resolve_schedule(spec, target) for spec in cfg.schedules]
    labels = [ns.label for ns in named]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"schedule names repeat in --schedules: {', '.join(labels)}",
                              hint="name each schedule once; designed:λ variants with different λ are distinct")

    summary: dict = {"target": target.describe(), "schedules": {}, "runs": []}
    arrays: dict = {}
    for ns in named:
        summary["schedules"][ns.label] = _schedule_metrics(ns, target)

    combos = [(ns, sv, g, n) for ns in named for sv in cfg.solvers for g in cfg.grids for n in cfg.steps]
    for i, (ns, solver_name, grid, steps) in enumerate(combos):
        sched_for_grid = VariancePreserving(ns.schedule) if isinstance(target, MixtureTarget) else ns.schedule
        diffusion = make_diffusion(cfg.diffusion, sched_for_grid) if solver_name == "em" else None
        solver = make_solver(solver_name, diffusion=diffusion)
        ts = time_grid(grid, steps, cfg.t_min, cfg.t_max, sched_for_grid)
        run_info = {"schedule": ns.label, "solver": solver_name, "steps": steps, "grid": grid}
        if solver_name == "em":
            run_info["diffusion"] = cfg.diffusion
        if isinstance(target, MixtureTarget):
            run_info.update(_mixture_run(ns, solver, ts, target))
        else:
            result, errors = _gaussian_run(ns, solver, ts, target)
            run_info.update(result)
            arrays[f"runs/{i:03d}/relative_error"] = errors.numpy()
            if cfg.monte_carlo:
                run_info.update(_monte_carlo(ns, solver, ts, target, cfg))
        summary["runs"].append(run_info)
        if progress is not None:
            progress(i + 1, len(combos))

    if cfg.transfer:
        summary["transfer"] = checks.transfer_checks(named, target, cfg.t_min, cfg.t_max)
        summary["identities"] = checks.identity_checks(named)
    if isinstance(target, GaussianTarget):
        arrays["target/target_var"] = target.target_var.numpy()
    summary["config"] = asdict(cfg)
    summary["wall_time_s"] = time.perf_counter() - started
    summary["inputs"] = {ns.label: ns.checksum for ns in named if ns.checksum}
    if target.checksum:
        summary["inputs"]["spectrum"] = target.checksum
    return summary, arrays


__all__ = ["GaussianCheckConfig", "run", "resolve_schedule"]
