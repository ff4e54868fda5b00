"""`design-schedule --grid-for SOLVER --nfe K`: a time grid designed for one solver and budget on the
command's target, and `sample`'s check that a stored designed grid is used as designed.

The design (:mod:`sictl.core.exact.grid_design`) minimises the maximum shell error of what the solver
generates: on a Gaussian target the exact one (:func:`sictl.core.exact.gaussian.generated_variance`); on a
field mixture the path-wise shell error against the reference run of the laboratory, on base draws held
apart from the ones that judge it (:mod:`sictl.core.exact.field_mixture_lab`; the spectral error of a few
dozen draws alone can be tuned to them, the path-wise one cannot). The grid's ends are free within
[--t-min, --t-max]. The summary reports the exact error reached, the uniform log-SNR grid's on the same
window for comparison, and the time taken.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from sictl.core.exact.field_mixture_lab import FieldMixtureTarget
from sictl.core.exact.grid_design import (
    GaussianProblem,
    GridObjective,
    ShellErrorModel,
    design_grid,
    log_snr_bounds,
)
from sictl.core.exact.targets import GaussianTarget
from sictl.core.interpolants.schedules import Schedule
from sictl.core.sampling.diffusion import make_diffusion
from sictl.core.sampling.grids import GRIDS, time_grid
from sictl.core.sampling.solvers import make_solver, solver_class
from sictl.errors import ConfigError

__all__ = ["check_options", "designed_grid", "check_designed_grid", "designed_label", "lab_grid"]

#: how far the log-SNR of the sampling schedule at a designed grid's times may be from the design's
LOG_SNR_TOLERANCE = 1e-6


def check_options(grid_for: str | None, nfe: int | None, vector_mixture: bool = False) -> None:
    """``--grid-for`` and ``--nfe`` go together; the budget must be whole steps of the solver; the target must
    be one a grid can be designed on (not a vector mixture, ``--gmm``/``--gmm-file``)."""
    if grid_for is not None and vector_mixture:
        raise ConfigError("--grid-for designs grids on Gaussian targets and field mixtures, not on --gmm/--gmm-file",
                          hint="use --matern, --ratio, --data/--spectrum (a Gaussian spectrum) or --field-mixture")
    if (grid_for is None) != (nfe is None):
        raise ConfigError("--grid-for SOLVER and --nfe K go together",
                          hint="e.g. --grid-for unipc3 --nfe 20 designs a 20-evaluation grid for unipc3")
    if grid_for is None:
        return
    per_step = solver_class(grid_for).nfe_per_step
    if nfe < 1 or nfe % per_step:
        raise ConfigError(f"--nfe {nfe}: {grid_for} evaluates the drift {per_step} time(s) per step, so the budget "
                          f"must be a positive multiple of {per_step}",
                          hint=f"e.g. --nfe {max(per_step, nfe - nfe % per_step)}")


def _error_model(target, solver, schedule: Schedule):
    """(the error model, what it measures) for the target."""
    if isinstance(target, GaussianTarget):
        shells = None if target.dim is None else target.shells - 1  # κ = 1..N/2 → rows 0..N/2 − 1
        model = ShellErrorModel.build([GaussianProblem(target.target_var, target.base_var, shells)])
        return model, "exact shell error of the Gaussian target"
    if isinstance(target, FieldMixtureTarget):
        if solver.stochastic:
            note = ("exact shell errors of the mixture's Gaussian components (a stochastic solver has no ODE path "
                    "to compare with the reference run)")
            return ShellErrorModel.build(target.problems()), note
        note = ("path-wise shell error against the laboratory's reference run, on base draws held apart from "
                "those that judge the grid")
        return target.grid_model(schedule), note
    raise ConfigError("--grid-for designs grids on Gaussian targets and field mixtures",
                      hint="use --matern, --ratio, --data/--spectrum (a Gaussian spectrum) or --field-mixture")


def _errors(run: dict) -> dict:
    keys = ("spectral_error_max", "spectral_error_mean", "component_error_max", "path_error_max", "sample_error_max")
    return {k: run[k] for k in keys if k in run}


def designed_grid(cfg, target, schedule: Schedule, progress=None) -> tuple[list[float], dict]:
    """Design the grid for ``cfg.grid_for`` at ``cfg.nfe`` drift evaluations on ``target`` under ``schedule``.

    Returns:
        (the grid's times, what the schedule file stores about it and the summary reports).
    """
    started = time.perf_counter()
    path = target.path(schedule)
    cls = solver_class(cfg.grid_for)
    diffusion = cfg.diffusion if cls.takes_diffusion else None
    solver = make_solver(cfg.grid_for, diffusion=make_diffusion(diffusion, path) if diffusion else None)
    steps = cfg.nfe // cls.nfe_per_step
    model, measured = _error_model(target, solver, path)
    objective = GridObjective(solver, diffusion, path, model)
    found = design_grid(objective, steps, log_snr_bounds(path, cfg.t_min, cfg.t_max), progress=progress)
    ts = torch.as_tensor(found.times)
    designed_run, _ = target.exact_run(solver, schedule, ts)
    uniform_run, _ = target.exact_run(solver, schedule, time_grid("logsnr", steps, cfg.t_min, cfg.t_max, path))
    if designed_run.get("nfe") != cfg.nfe:  # pragma: no cover - the solvers count exactly
        raise ConfigError(f"the designed grid used {designed_run.get('nfe')} drift evaluations, not {cfg.nfe}")
    info = {
        "solver": cfg.grid_for, "nfe": cfg.nfe, "steps": steps, "diffusion": diffusion,
        "log_snr": [float(v) for v in found.log_snr],
        "bounds": {"t_min": cfg.t_min, "t_max": cfg.t_max},
        "objective": measured,
        "error_max": designed_run["spectral_error_max"], "error_mean": designed_run["spectral_error_mean"],
        "designed": _errors(designed_run), "uniform_logsnr": _errors(uniform_run),
        "objective_error_max": found.error_max, "start_error_max": found.start_error_max,
        "evaluations": found.evaluations, "fast_recursion": found.fast,
        "design_time_s": found.wall_time_s, "design_cpu_s": found.info.get("cpu_time_s"),
        "wall_time_s": time.perf_counter() - started,
    }
    return [float(t) for t in found.times], {k: v for k, v in info.items() if v is not None}


def check_designed_grid(design: dict, path: str, solver: str, diffusion: str, schedule: Schedule, ts: torch.Tensor) -> None:
    """Refuse to sample a designed grid with another solver, budget, diffusion or schedule than its own.

    The budget is the grid's steps times the solver's evaluations per step; the schedule is checked by
    its log-SNR at the grid's times (what the grid was optimised in).
    """
    hint = (f"sample with --solver {design['solver']}" + (f" --diffusion {design['diffusion']}" if design.get("diffusion") else "")
            + f", or design a grid for yours: sictl design-schedule ... --grid-for {solver} --nfe K")
    if solver != design["solver"]:
        raise ConfigError(f"{path}: its grid was designed for --solver {design['solver']} at {design['nfe']} NFE, "
                          f"not for --solver {solver}", hint=hint)
    nfe = (len(ts) - 1) * solver_class(solver).nfe_per_step
    if nfe != design["nfe"]:
        raise ConfigError(f"{path}: its grid gives {nfe} NFE with {solver}, but it was designed for {design['nfe']}",
                          hint="the file is inconsistent; regenerate it with `sictl design-schedule --grid-for`")
    if design.get("diffusion") and diffusion != design["diffusion"]:
        raise ConfigError(f"{path}: its grid was designed for --diffusion {design['diffusion']}, not {diffusion}",
                          hint=hint)
    stored = design.get("log_snr")
    if stored is not None and len(stored) == len(ts):
        ell = schedule.log_snr(ts.to(torch.float64)).numpy()
        if not np.allclose(ell, stored, rtol=0, atol=LOG_SNR_TOLERANCE * max(1.0, float(np.abs(stored).max()))):
            raise ConfigError(f"{path}: its grid was designed for another schedule (log-SNR at its times differs "
                              f"by up to {float(np.abs(ell - np.asarray(stored)).max()):.3g})",
                              hint=f"sample with --schedule {path} (the schedule the grid was designed with)")


def designed_label(path: str, design: dict) -> str:
    """The ``@grid`` of samples on a designed grid: the file, and what it was designed for."""
    return f"file:{path} (designed for {design['solver']} at {design['nfe']} NFE)"


def lab_grid(grid: str, steps: int, t_min: float, t_max: float, schedule: Schedule) -> tuple[torch.Tensor, dict | None]:
    """The times of a named grid (``uniform``, ``logsnr``: ``steps`` intervals on [t_min, t_max]) or of a
    grid file (a schedule file's grid, ``.npy`` or text: its own times), and what a designed grid was
    designed for (None otherwise)."""
    if grid in GRIDS:
        return time_grid(grid, steps, t_min, t_max, schedule), None
    from sictl.io import read_grid_design, read_time_grid

    ts = torch.as_tensor(read_time_grid(grid), dtype=torch.float64)
    if ts.numel() < 2 or not bool(torch.isfinite(ts).all()) or not bool((torch.diff(ts) > 0).all()) \
            or float(ts[0]) < 0 or float(ts[-1]) > 1:
        raise ConfigError(f"{grid}: a time grid must hold ≥ 2 strictly increasing times in [0, 1]",
                          hint="write the times in increasing order, or design one with `sictl design-schedule --grid-for`")
    return ts, read_grid_design(grid)
