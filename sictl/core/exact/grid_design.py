"""Time grids designed per target and per solver: the grid (ends included) that minimises the exact
maximum shell error of what a solver generates on a Gaussian target (or on each component of a mixture).

**The error.** For a Gaussian target diagonal in a known basis, with target and base variances λ_k, μ_k,
a solver generates per-mode variances μ_k g(r_k), r_k = λ_k/μ_k, with g the square of the solver's gain
(or its chain variance for a stochastic solver) — a function of the ratio and the grid only. The shell
error is e_s = Σ_{k∈s} μ_k g(r_k) / Σ_{k∈s} λ_k − 1 (κ = 1..N/2 for fields; each mode its own shell for a
list of ratios), exactly what `gaussian-check` reports. :class:`ShellErrorModel` holds the linear map
from g at a set of ratio nodes to every e_s: the distinct ratios themselves when there are few, else a
geometric grid in r with 4-point Lagrange interpolation in log r (spacing :data:`NODE_SPACING`, far finer
than the scale on which g varies, about one grid step in log-SNR).

**The grid.** ℓ_i = ℓ_0 + (ℓ_K − ℓ_0) Σ_{j≤i} softmax(q)_j in log-SNR ℓ = log(β/α), q_K = 0: the ends
ℓ_0, ℓ_K (inside the bounds given as times) and K − 1 logits, every vector of them a strictly increasing
grid. Times are t_i = ℓ⁻¹(ℓ_i) of the schedule.

**The optimisation.** The maximum over shells is replaced by the smooth surrogate
LSE_β(±log(1 + e_s))/β (log-sum-exp of the log-ratios of generated to true shell power and their
negatives), minimised by L-BFGS-B with a forward-difference gradient, for increasing β (the
continuation sharpens towards the maximum); the best grid by the true maximum is kept. g comes from
:func:`sictl.core.exact.grid_recursion.grid_gains` (the real steps of the exponential integrators, all
finite-difference grids in one batched run) where the solver has a recursion there, else from
:func:`sictl.core.exact.gaussian.generated_variance` grid by grid (the real steps through torch; slower).
Deterministic: no random numbers, fixed starting grids. Designed grids for multistep exponential
integrators follow DPM-Solver++ (arXiv 2211.01095) and UniPC (arXiv 2302.04867) in log-SNR; the target
and its schedule come from the Lipschitz design (arXiv 2509.01629) and the scale-adaptive setting
(arXiv 2509.02971).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from scipy.optimize import minimize

from sictl.core.exact.gaussian import generated_variance
from sictl.core.exact.grid_recursion import grid_gains, recursion_spec
from sictl.core.interpolants.schedules import Schedule
from sictl.core.sampling.solvers import Solver
from sictl.errors import ConfigError

__all__ = ["NODE_SPACING", "GaussianProblem", "ShellErrorModel", "ErrorModel", "GridObjective", "DesignedGrid", "design_grid",
           "log_snr_bounds", "grid_times"]

#: spacing of the ratio nodes in ln r when a target has more distinct ratios than ``max_exact``
NODE_SPACING = 0.05
#: β·(the best maximum so far) of the smooth maximum, in turn (each run starts from the previous one's best
#: grid): the surrogate exceeds the maximum by at most log(2S)/β, a fraction log(2S)/c of it
SHARPNESS = (20.0, 200.0, 2000.0, 20000.0)


@dataclass
class GaussianProblem:
    """One Gaussian law measured by shells: λ_k, μ_k (same shape) and the shell of every mode.

    ``shells``: int tensor of the same shape, shell index ≥ 0 or −1 for modes not measured; None: each
    mode is its own shell.
    """

    target_var: torch.Tensor
    base_var: torch.Tensor
    shells: torch.Tensor | None = None


def _lagrange(u: np.ndarray, u0: float, step: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (n, 4) and weights (n, 4) of the 4-point Lagrange interpolant at u on the grid u0 + j·step."""
    p = (u - u0) / step
    first = np.clip(np.floor(p).astype(np.int64) - 1, 0, count - 4)
    idx = first[:, None] + np.arange(4)[None, :]
    x = p - first  # in [0, 3] inside the grid: the nodes sit at 0, 1, 2, 3
    w = np.stack([np.prod([(x - j) / (m - j) for j in range(4) if j != m], axis=0) for m in range(4)], -1)
    return idx, w


@dataclass
class ShellErrorModel:
    """e = matrix @ g − 1: the relative shell errors of every problem from g at the ratio nodes.

    Attributes:
        ratios: (M,) node ratios (a 0 node where some mode has no target variance).
        matrix: (S, M) rows of every problem's measured shells, stacked.
        rows: how many rows each problem has.
        exact: whether the nodes are the distinct ratios themselves (no interpolation).
    """

    ratios: np.ndarray
    matrix: np.ndarray
    rows: list[int] = field(default_factory=list)
    exact: bool = True

    @classmethod
    def build(cls, problems: Sequence[GaussianProblem], *, max_exact: int = 600,
              spacing: float = NODE_SPACING) -> ShellErrorModel:
        flat = []
        for pb in problems:
            lam = torch.as_tensor(pb.target_var, dtype=torch.float64).reshape(-1).numpy()
            mu = torch.as_tensor(pb.base_var, dtype=torch.float64).expand_as(
                torch.as_tensor(pb.target_var)).reshape(-1).numpy()
            shells = (np.arange(lam.size) if pb.shells is None
                      else torch.as_tensor(pb.shells).reshape(-1).numpy().astype(np.int64))
            keep = (shells >= 0) & (mu > 0)
            flat.append((lam, mu, shells, keep))
        positive = np.concatenate([lam[keep] / mu[keep] for lam, mu, _, keep in flat])
        has_zero = bool((positive == 0).any())
        distinct = np.unique(positive[positive > 0])
        if distinct.size == 0:
            raise ConfigError("the target has no mode with positive target and base variance",
                              hint="check the spectrum or ratios")
        exact = distinct.size <= max_exact
        if exact:
            nodes = distinct
        else:
            u0, u1 = math.log(distinct[0]), math.log(distinct[-1])
            count = max(4, math.ceil((u1 - u0) / spacing) + 1)
            step = (u1 - u0) / (count - 1)
            nodes = np.exp(u0 + step * np.arange(count))
        offset = 1 if has_zero else 0
        ratios = np.concatenate([[0.0], nodes]) if has_zero else nodes
        blocks, rows = [], []
        for lam, mu, shells, keep in flat:
            measured = shells >= 0
            n_shells = int(shells[measured].max()) + 1
            true = np.bincount(shells[measured], weights=lam[measured], minlength=n_shells)
            block = np.zeros((n_shells, ratios.size))
            r = lam[keep] / mu[keep]
            s, m = shells[keep], mu[keep]
            zero = r == 0
            np.add.at(block, (s[zero], np.zeros(int(zero.sum()), dtype=np.int64)), m[zero])
            pos = ~zero
            if exact:
                np.add.at(block, (s[pos], offset + np.searchsorted(nodes, r[pos])), m[pos])
            else:
                idx, w = _lagrange(np.log(r[pos]), u0, step, nodes.size)
                np.add.at(block, (np.repeat(s[pos], 4), offset + idx.reshape(-1)), (w * m[pos, None]).reshape(-1))
            good = true > 0
            blocks.append(block[good] / true[good, None])
            rows.append(int(good.sum()))
        return cls(ratios, np.concatenate(blocks), rows, exact)

    def errors(self, gains: np.ndarray) -> np.ndarray:
        """(G, S) relative shell errors from (G, M) gains at the nodes."""
        return gains @ self.matrix.T - 1.0

    # the error-model protocol of GridObjective
    def extreme_ratios(self) -> tuple[float, float]:
        r = self.ratios[self.ratios > 0]
        return float(r.min()), float(r.max())

    def fast_errors(self, alpha: np.ndarray, beta: np.ndarray, spec) -> np.ndarray:
        return self.errors(grid_gains(alpha, beta, self.ratios, spec))

    def solver_errors(self, solver: Solver, schedule: Schedule, ts: torch.Tensor) -> np.ndarray:
        var, _ = generated_variance(solver, schedule, torch.as_tensor(self.ratios), ts, 1.0)
        return self.errors(var.numpy()[None])[0]


class ErrorModel(Protocol):
    """What a grid is optimised against: shell errors from schedule values (fast) or from the real solver."""

    def extreme_ratios(self) -> tuple[float, float]:
        """(r_min, r_max) over the target's modes (they place the starting windows)."""

    def fast_errors(self, alpha: np.ndarray, beta: np.ndarray, spec) -> np.ndarray:
        """(G, S) errors for G grids given by their (G, K + 1) schedule values, with the recursion ``spec``."""

    def solver_errors(self, solver: Solver, schedule: Schedule, ts: torch.Tensor) -> np.ndarray:
        """(S,) errors of one grid by the real solver steps."""


def log_snr_bounds(schedule: Schedule, t_min: float, t_max: float) -> tuple[float, float]:
    """The log-SNRs of the time bounds (0 < t_min < t_max < 1)."""
    if not (0.0 < t_min < t_max < 1.0):
        raise ConfigError(f"a designed grid needs bounds 0 < t-min < t-max < 1, got {t_min}, {t_max}",
                          hint="the log-SNR is infinite at t = 0 and t = 1; e.g. --t-min 1e-4 --t-max 0.9999")
    ends = schedule.log_snr(torch.tensor([t_min, t_max], dtype=torch.float64))
    return float(ends[0]), float(ends[1])


def grid_times(schedule: Schedule, ells: np.ndarray) -> torch.Tensor:
    """Times of log-SNRs (any shape), float64."""
    return schedule.time_at_log_snr(torch.as_tensor(ells, dtype=torch.float64))


class GridObjective:
    """Grids in log-SNR → relative shell errors of what ``solver`` generates, for a :class:`ShellErrorModel`.

    Args:
        solver: the solver; ``diffusion``: the spec its diffusion was made from (picks the fast recursion).
        schedule: the sampling schedule (grids are its times).
        fast: use the batched recursion where the solver has one (False: always the real steps).
    """

    def __init__(self, solver: Solver, diffusion: str | None, schedule: Schedule, model: ErrorModel, *,
                 fast: bool = True):
        self.solver, self.schedule, self.model = solver, schedule, model
        self.spec = recursion_spec(solver, diffusion) if fast else None
        self.evaluations = 0

    @property
    def fast(self) -> bool:
        return self.spec is not None

    def errors(self, ells: np.ndarray) -> np.ndarray:
        """(G, K + 1) log-SNR grids → (G, S) relative shell errors (+inf rows where a grid is invalid)."""
        ells = np.atleast_2d(ells)
        self.evaluations += len(ells)
        ts = grid_times(self.schedule, ells)
        bad = ~(torch.diff(ts, dim=1) > 0).all(1) | (ts[:, 0] <= 0) | (ts[:, -1] >= 1)
        good = (~bad).nonzero().flatten().tolist()
        if self.fast and good:
            v = self.schedule(ts[good])
            errs = self.model.fast_errors(v.alpha.numpy(), v.beta.numpy(), self.spec)
        else:
            errs = [self.model.solver_errors(self.solver, self.schedule, ts[g]) for g in good]
        out = None
        for g, row in zip(good, errs):
            if out is None:
                out = np.full((len(ells), len(row)), np.inf)
            out[g] = row
        return np.full((len(ells), 1), np.inf) if out is None else out


@dataclass
class DesignedGrid:
    """A designed grid and how it was found.

    Attributes:
        times: (K + 1,) the grid (float64), ends included.
        log_snr: (K + 1,) its log-SNRs.
        error_max: the maximum shell error of the model at it (the exact figure is the caller's to add).
        start_error_max: the same at the best starting grid (uniform in log-SNR on a window).
        evaluations: grids evaluated; wall_time_s: seconds; fast: whether the batched recursion was used.
    """

    times: np.ndarray
    log_snr: np.ndarray
    error_max: float
    start_error_max: float
    evaluations: int
    wall_time_s: float
    fast: bool
    info: dict = field(default_factory=dict)


def _ells(params: np.ndarray, steps: int) -> np.ndarray:
    """(G, 2 + K − 1) parameters [ℓ_0, ℓ_K, q_1..q_{K−1}] → (G, K + 1) log-SNR grids."""
    params = np.atleast_2d(params)
    q = np.concatenate([params[:, 2:], np.zeros((len(params), 1))], 1)
    w = np.exp(q - q.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    frac = np.concatenate([np.zeros((len(params), 1)), np.cumsum(w, 1)], 1)
    frac[:, -1] = 1.0
    lo, hi = params[:, :1], params[:, 1:2]
    return lo + (hi - lo) * frac


def _smooth_max(err: np.ndarray, beta: float) -> np.ndarray:
    """LSE_β(±log(1 + e))/β per row; +inf where a row is invalid."""
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.log1p(err)
    x = np.where(np.isfinite(x), x, np.inf)
    both = np.concatenate([x, -x], 1) * beta
    top = both.max(1, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    val = (safe[:, 0] + np.log(np.exp(both - safe).sum(1))) / beta
    return np.where(np.isfinite(x).all(1), val, np.inf)


def design_grid(objective: GridObjective, steps: int, bounds: tuple[float, float], *,
                windows: Sequence[tuple[float, float]] | None = None, sharpness: Sequence[float] = SHARPNESS,
                max_iter: int = 150, ftol: float = 1e-10, fd_step: float = 1e-6, min_span: float = 1.0,
                progress: Callable[[str], None] | None = None) -> DesignedGrid:
    """Minimise the maximum shell error over grids of ``steps`` intervals with ends in ``bounds`` (log-SNR).

    Args:
        windows: starting windows (ℓ_0, ℓ_K) for uniform log-SNR grids; default: the bounds and nine
            windows set by the extreme ratios.
        sharpness: β·(error level) of the smooth maximum, stage by stage (the best starting grid starts).
    """
    started, cpu = time.perf_counter(), time.process_time()
    lo, hi = bounds
    if not hi - lo > min_span:
        raise ConfigError(f"the log-SNR window [{lo:.3g}, {hi:.3g}] of the time bounds is too narrow for a grid",
                          hint="widen --t-min/--t-max")
    if windows is None:
        r_min, r_max = objective.model.extreme_ratios()
        centre_lo, centre_hi = -0.5 * math.log(r_max), -0.5 * math.log(r_min)
        windows = [(lo, hi)] + [(centre_lo - a, centre_hi + b) for a in (2.0, 3.0, 4.0) for b in (2.0, 3.0, 5.0)]
    starts = []
    for a, b in windows:
        a, b = min(max(a, lo), hi - min_span), max(min(b, hi), lo + min_span)
        starts.append(np.concatenate([[a, max(b, a + min_span)], np.zeros(steps - 1)]))
    start_err = np.abs(objective.errors(_ells(np.array(starts), steps))).max(1)
    best = starts[int(np.argmin(start_err))]
    best_err = float(start_err.min())
    n_par = best.size
    box = [(lo, hi), (lo, hi)] + [(-12.0, 12.0)] * (n_par - 2)

    def value_and_grad(p: np.ndarray, beta: float):
        stencil = np.vstack([p, p + fd_step * np.eye(n_par)])
        ells = _ells(stencil, steps)
        span_ok = (ells[:, -1] - ells[:, 0]) > min_span
        err = objective.errors(ells)
        vals = np.where(span_ok, _smooth_max(err, beta), np.inf)
        nonlocal best, best_err
        true_max = np.abs(err[0]).max() if np.isfinite(vals[0]) else np.inf
        if true_max < best_err:
            best, best_err = p.copy(), float(true_max)
        if not np.isfinite(vals[0]):
            return 1e6, np.zeros(n_par)
        grad = (vals[1:] - vals[0]) / fd_step
        return float(vals[0]), np.where(np.isfinite(grad), grad, 0.0)

    def descend(x: np.ndarray, level: float, c: float, iterations: int) -> int:
        beta = c / max(level, 1e-12)
        scale = float(_smooth_max(objective.errors(_ells(x, steps)), beta)[0])

        def scaled(p):
            val, grad = value_and_grad(p, beta)
            return val / scale, grad / scale

        res = minimize(scaled, x, jac=True, method="L-BFGS-B", bounds=box,
                       options={"maxiter": iterations, "ftol": ftol, "gtol": 1e-8})
        if progress is not None:
            progress(f"β = {beta:.4g}: max shell error {best_err:.4g} after {res.nit} iterations")
        return res.nit

    for c in sharpness:  # each stage from the best grid so far, at a sharpness set by its error
        descend(best.copy(), best_err, c, max_iter)
    ells = _ells(best, steps)[0]
    times = grid_times(objective.schedule, ells).numpy()
    return DesignedGrid(times, ells, best_err, float(start_err.min()), objective.evaluations,
                        time.perf_counter() - started, objective.fast, {"cpu_time_s": time.process_time() - cpu})
