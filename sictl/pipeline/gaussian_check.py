"""`gaussian-check`: the exact laboratory (arXiv 2509.01629, arXiv 2509.02971).

For a Gaussian target (ratios, a Matérn field or a dataset's stored spectrum) or a two-mode
mixture, and for every schedule, solver, grid and step count asked for, compute with no sampling:
the drift's Lipschitz constant and A2, and the exact error of what the pipeline would generate.
Optionally sample to confirm (Monte Carlo) and verify the transfer formula and ε*/g_F identities.
The target answers each question itself (:class:`sictl.core.exact.targets.LabTarget`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from sictl.core.exact.targets import LabTarget
from sictl.core.interpolants.schedules import Schedule
from sictl.core.sampling.diffusion import make_diffusion
from sictl.core.sampling.grids import GRIDS
from sictl.core.sampling.solvers import make_solver, solver_class
from sictl.errors import ConfigError
from sictl.pipeline import checks
from sictl.pipeline.grid_design import lab_grid
from sictl.pipeline.targets import build_target


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
    field_mixture: str | None = None  # the field-mixture laboratory (errors against a reference run)
    lab_samples: int = 64
    model: str | None = None  # --model RUN: the network's drift against the exact one of --spectrum, per shell and t
    model_times: int = 11
    model_samples: int = 256
    plot: str | None = None  # --plot: heat map shell × t of the model's errors

    def validate(self) -> None:
        from sictl.pipeline.gaussian_check_model import check_model_options

        check_model_options(self)
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


def resolve_schedule(spec: str, target: LabTarget) -> NamedSchedule:
    """A schedule by name (``designed`` takes a Gaussian target's λ_min) or from a schedule file
    (``-`` = stdin)."""
    from sictl.pipeline.schedule_files import is_schedule_file

    if is_schedule_file(spec):
        from sictl.pipeline.schedule_files import load_schedule

        sched, checksum, info = load_schedule(spec)
        return NamedSchedule(spec, sched, checksum, info)
    return NamedSchedule(spec, target.named_schedule(spec))


def run(cfg: GaussianCheckConfig, output: str | None = None, progress=None) -> dict:
    """Run the check and write the report to ``output`` (``-`` = stdout) if given. Returns the summary."""
    from sictl.io import check_distinct
    from sictl.pipeline.inputs import gaussian_check_inputs

    check_distinct(gaussian_check_inputs(cfg), {"-o": output, "--plot": cfg.plot})
    summary, arrays = check(cfg, progress)
    if output is not None:
        from sictl.io import write_report

        write_report(output, summary, arrays, config=summary["config"], inputs=summary["inputs"], seed=cfg.seed)
        summary["report"] = output
    return summary


def check(cfg: GaussianCheckConfig, progress=None) -> tuple[dict, dict]:
    """Run the check. Returns (summary JSON, arrays for the HDF5 report)."""
    cfg.validate()
    if cfg.model is not None:
        from sictl.pipeline.gaussian_check_model import model_check

        return model_check(cfg)
    started = time.perf_counter()
    target = build_target(cfg)
    if not isinstance(target, LabTarget):
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
        summary["schedules"][ns.label] = target.schedule_report(ns.schedule, ns.checksum)

    combos = [(ns, sv, g, n) for ns in named for sv in cfg.solvers for g in cfg.grids
              for n in (cfg.steps if g in GRIDS else (0,))]  # a grid file has its own steps
    if progress is not None:
        progress(0, len(combos))  # the bar shows at once, even when one run (a Monte Carlo one) is long
    for i, (ns, solver_name, grid, steps) in enumerate(combos):
        path = target.path(ns.schedule)
        stochastic = solver_class(solver_name).takes_diffusion
        solver = make_solver(solver_name, diffusion=make_diffusion(cfg.diffusion, path) if stochastic else None)
        ts, grid_design = lab_grid(grid, steps, cfg.t_min, cfg.t_max, path)
        run_info = {"schedule": ns.label, "solver": solver_name, "steps": len(ts) - 1, "grid": grid}
        if grid_design is not None:
            run_info["grid_designed_for"] = {"solver": grid_design["solver"], "nfe": grid_design["nfe"]}
        if stochastic:
            run_info["diffusion"] = cfg.diffusion
        result, errors = target.exact_run(solver, ns.schedule, ts)
        run_info.update(result)
        if errors is not None:
            arrays[f"runs/{i:03d}/relative_error"] = errors.numpy()
        if cfg.monte_carlo:
            run_info.update(target.monte_carlo(solver, ns.schedule, ts, samples=cfg.monte_carlo, seed=cfg.seed,
                                               device=cfg.device))
        summary["runs"].append(run_info)
        if progress is not None:
            progress(i + 1, len(combos))

    if cfg.transfer:
        summary["transfer"] = checks.transfer_checks(named, target, cfg.t_min, cfg.t_max)
        summary["identities"] = checks.identity_checks(named)
    arrays.update(target.report_arrays())
    summary["config"] = asdict(cfg)
    summary["wall_time_s"] = time.perf_counter() - started
    summary["inputs"] = {ns.label: ns.checksum for ns in named if ns.checksum}
    if target.checksum:
        summary["inputs"]["spectrum"] = target.checksum
    return summary, arrays


__all__ = ["GaussianCheckConfig", "run", "check", "resolve_schedule"]
