"""Closed forms for Gaussian targets: per-mode drift rates, Lipschitz constant, A2, solver gains.

A Gaussian target with per-mode variances λ_k over a base with variances μ_k (same eigenbasis)
has the linear drift b_k = a_k(t) x_k with

    a_k(t) = ½ d/dt log(α² μ_k + β² λ_k) = (αα̇ + ββ̇ r_k)/(α² + β² r_k),   r_k = λ_k/μ_k.

∂a/∂r = αβW/(α² + β² r)² > 0, so at every t the extreme rates belong to the smallest and the
largest ratio: the Lipschitz constant sup_t max_k |a_k| and A2 = ∫ max_k a_k² dt depend on
(r_min, r_max) only (arXiv 2509.01629).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from sictl.core.exact.drifts import DiagonalGaussianDrift, gaussian_mode_rate
from sictl.core.interpolants.schedules import Designed, DesignedPair, Linear, Schedule, Trig, as_time
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import Solver
from sictl.errors import ConfigError

__all__ = [
    "marginal_variance",
    "flow_gain",
    "mode_rate",
    "ratio_extremes",
    "lipschitz",
    "a2",
    "lipschitz_numeric",
    "a2_numeric",
    "closed_form_lipschitz",
    "closed_form_a2",
    "generated_variance",
    "kinetic_energy",
    "graded_nodes",
]


def marginal_variance(schedule: Schedule, t: float | Tensor, target_var, base_var=1.0) -> Tensor:
    """Exact per-mode variance of x_t = α z + β x1: D_k(t) = α(t)² μ_k + β(t)² λ_k.

    Args:
        t: scalar or (T, 1) times.  target_var: (K,) λ_k.  base_var: μ_k, scalar or (K,).

    Returns:
        D broadcast over (T, K) (or (K,) for a scalar t).
    """
    t = as_time(t)
    lam = torch.as_tensor(target_var, dtype=t.dtype)
    mu = torch.as_tensor(base_var, dtype=t.dtype)
    v = schedule(t)
    return v.alpha**2 * mu + v.beta**2 * lam


def flow_gain(schedule: Schedule, s: float | Tensor, t: float | Tensor, target_var, base_var=1.0) -> Tensor:
    """Exact flow map of the probability-flow ODE between times s and t, per mode: X_t = G_k X_s.

    The drift is a_k(t) x with a_k = ½ d/dt log D_k, so G_k = exp ∫_s^t a_k = √(D_k(t)/D_k(s)); it carries
    the marginal at s onto the marginal at t (G_k² D_k(s) = D_k(t)). Shapes as :func:`marginal_variance`.
    """
    return torch.sqrt(marginal_variance(schedule, t, target_var, base_var)
                      / marginal_variance(schedule, s, target_var, base_var))


def mode_rate(schedule: Schedule, t: float | Tensor, ratio: float | Tensor) -> Tensor:
    """a(t; r) = (αα̇ + ββ̇ r)/(α² + β² r), broadcasting t against ratio."""
    t = as_time(t)
    r = torch.as_tensor(ratio, dtype=t.dtype)
    return gaussian_mode_rate(schedule, t, torch.ones_like(r), r)


def ratio_extremes(ratios) -> tuple[float, float]:
    """(r_min, r_max) of per-mode ratios, validated positive and finite."""
    r = torch.as_tensor(ratios, dtype=torch.float64).flatten()
    if r.numel() == 0 or not bool(torch.isfinite(r).all()) or not bool((r > 0).all()):
        raise ConfigError(
            "target/base ratios must be positive and finite",
            hint="a per-mode ratio λ_k = E|x̂_k|²/E|ẑ_k|² must be > 0 (drop empty modes such as the mean)",
        )
    return float(r.min()), float(r.max())


@lru_cache(maxsize=4)
def graded_nodes(per_cell: int = 24, depth: int = 52) -> tuple[Tensor, Tensor]:
    """Gauss–Legendre nodes and weights on [0, 1], cells graded geometrically towards both ends.

    Cells [2^-(j+1), 2^-j] and their mirror images resolve features whose width scales with the
    distance to an endpoint (the linear schedule's stiff peak sits at 1 − t ≈ √λ).
    """
    edges = sorted({0.0, 1.0} | {2.0**-j for j in range(1, depth)} | {1 - 2.0**-j for j in range(1, depth)})
    x, w = np.polynomial.legendre.leggauss(per_cell)
    nodes, weights = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        nodes.append(0.5 * (b - a) * x + 0.5 * (a + b))
        weights.append(0.5 * (b - a) * w)
    return torch.tensor(np.concatenate(nodes)), torch.tensor(np.concatenate(weights))


def _worst_rate_sq(schedule: Schedule, t: Tensor, r_min: float, r_max: float) -> Tensor:
    rates = mode_rate(schedule, t[:, None], torch.tensor([r_min, r_max], dtype=torch.float64))
    return (rates**2).max(dim=1).values


def a2_numeric(schedule: Schedule, ratios) -> float:
    """A2 = ∫₀¹ max_k a_k(t)² dt by graded Gauss–Legendre quadrature."""
    r_min, r_max = ratio_extremes(ratios)
    t, w = graded_nodes()
    return float((w * _worst_rate_sq(schedule, t, r_min, r_max)).sum())


def lipschitz_numeric(schedule: Schedule, ratios) -> float:
    """sup_t max_k |a_k(t)|: dense graded scan, then golden-section refinement of the best cell."""
    r_min, r_max = ratio_extremes(ratios)
    t, _ = graded_nodes()
    vals = _worst_rate_sq(schedule, t, r_min, r_max)
    i = int(torch.argmax(vals))
    lo, hi = float(t[max(i - 1, 0)]), float(t[min(i + 1, t.numel() - 1)])
    f = lambda s: float(_worst_rate_sq(schedule, torch.tensor([s], dtype=torch.float64), r_min, r_max)[0])  # noqa: E731
    g = (math.sqrt(5) - 1) / 2
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    fc, fd = f(c), f(d)
    for _ in range(200):
        if hi - lo <= 1e-15 * max(1.0, abs(hi)):
            break
        if fc > fd:
            hi, d, fd = d, c, fc
            c = hi - g * (hi - lo)
            fc = f(c)
        else:
            lo, c, fc = c, d, fd
            d = lo + g * (hi - lo)
            fd = f(d)
    return math.sqrt(max(float(vals[i]), fc, fd))


def _single_mode_linear(r: float) -> tuple[float, float]:
    s = math.sqrt(r)
    return (1 + r) / (2 * s), math.pi * (1 + r) / (4 * s) - 1


def _single_mode_trig(r: float) -> tuple[float, float]:
    s = math.sqrt(r)
    return math.pi * abs(r - 1) / (4 * s), math.pi**2 / 4 * ((1 + r) / (2 * s) - 1)


def _closed_forms(schedule: Schedule, r_min: float, r_max: float) -> tuple[float | None, float | None]:
    """(Lipschitz, A2) in closed form where one is known, None otherwise."""
    single = r_min == r_max
    if isinstance(schedule, (Linear, Trig)):
        one = _single_mode_linear if isinstance(schedule, Linear) else _single_mode_trig
        lip = max(one(r_min)[0], one(r_max)[0])  # each mode's sup is reached; the worst mode wins
        return lip, (one(r_min)[1] if single else None)
    if isinstance(schedule, Designed):
        lam = schedule.lam
        # every ratio between λ and 1 has a rate between ½ ln λ and 0, so the λ mode is the worst
        if (lam <= 1 and r_min == lam and r_max <= 1) or (lam >= 1 and r_max == lam and r_min >= 1):
            ln = abs(math.log(lam))
            return ln / 2, ln * ln / 4
    if isinstance(schedule, DesignedPair) and r_min == schedule.lam_lo and r_max == schedule.lam_hi:
        ln = max(-math.log(r_min), math.log(r_max))
        return ln / 2, ln * ln / 4
    return None, None


def closed_form_lipschitz(schedule: Schedule, ratios) -> float | None:
    return _closed_forms(schedule, *ratio_extremes(ratios))[0]


def closed_form_a2(schedule: Schedule, ratios) -> float | None:
    return _closed_forms(schedule, *ratio_extremes(ratios))[1]


def lipschitz(schedule: Schedule, ratios) -> float:
    """Lipschitz constant of the exact drift; closed form where known, numerical otherwise."""
    lip = closed_form_lipschitz(schedule, ratios)
    return lipschitz_numeric(schedule, ratios) if lip is None else lip


def a2(schedule: Schedule, ratios) -> float:
    """Averaged squared Lipschitzness A2; closed form where known, quadrature otherwise."""
    val = closed_form_a2(schedule, ratios)
    return a2_numeric(schedule, ratios) if val is None else val


def kinetic_energy(schedule: Schedule, ratios, weights=None) -> float:
    """K = ∫ E|b|² dt = Σ_k w_k ∫ a_k² (α² + β² r_k) dt (per unit base variance), by quadrature."""
    r = torch.as_tensor(ratios, dtype=torch.float64).flatten()
    w = torch.ones_like(r) if weights is None else torch.as_tensor(weights, dtype=torch.float64).flatten()
    uniq, inverse = torch.unique(r, return_inverse=True)
    mult = torch.zeros_like(uniq).index_add_(0, inverse, w)
    t, qw = graded_nodes()
    v = schedule(t)
    d = v.alpha[:, None] ** 2 + v.beta[:, None] ** 2 * uniq
    a = mode_rate(schedule, t[:, None], uniq)
    return float((qw * (mult * a * a * d).sum(1)).sum())


#: modes per batched run of a stochastic solver, times (steps + 1) rows: bounds its memory
_CHAIN_ELEMENTS = 1 << 22


def generated_variance(
    solver: Solver, schedule: Schedule, target_var: Tensor, ts: Tensor, base_var: Tensor | float = 1.0
) -> tuple[Tensor, int]:
    """Exact per-mode variance of the samples a solver produces for a Gaussian target (no sampling).

    The real step functions are run on the exact linear drift. For an ODE solver the output is
    G_k z_k, so the variance is μ_k G_k² with G_k the solver's gain (the state x = 1 is stepped).
    A stochastic solver is linear in (z, n_0, …, n_{K−1}), the base draw and the K step noises (each
    N(0, μ_k)): one batched run whose row 0 starts at √μ_k with no noise and whose row j + 1 starts at 0
    with noise √μ_k at step j only gives the coefficients, and the variance is their sum of squares.
    The rows run through the one integration loop together, so multistep memory (``sde-expint2``: the
    previous step's denoiser, evaluated at the noisy state) is carried exactly. Modes are run in
    chunks of at most ``_CHAIN_ELEMENTS / (K + 1)``.

    Args:
        target_var: (K,) λ_k.  ts: time grid.  base_var: μ_k (scalar or (K,)).

    Returns:
        ((K,) generated variances, NFE per sample path).
    """
    lam = torch.as_tensor(target_var, dtype=torch.float64)
    mu = torch.as_tensor(base_var, dtype=torch.float64).expand_as(lam)
    if not solver.needs_score:  # an ODE solver (or em without diffusion): the state is scaled by the gain
        gain, nfe = integrate(DiagonalGaussianDrift(schedule, lam, mu), solver, torch.ones_like(lam), ts)
        return mu * gain**2, nfe
    rows = len(ts)
    flat_lam, flat_mu = lam.reshape(-1), mu.reshape(-1)
    chunk = max(1, _CHAIN_ELEMENTS // rows)
    parts, nfe = [], 0
    for start in range(0, flat_lam.numel(), chunk):
        part_lam, root = flat_lam[start : start + chunk], flat_mu[start : start + chunk].sqrt()
        x = torch.zeros(rows, part_lam.numel(), dtype=torch.float64)
        x[0] = root

        def noises(i, root=root, x=x):
            z = torch.zeros_like(x)
            z[i + 1] = root
            return z

        drift = DiagonalGaussianDrift(schedule, part_lam, flat_mu[start : start + chunk])
        out, nfe = integrate(drift, solver, x, ts, noises=noises)
        parts.append((out**2).sum(0))
    return torch.cat(parts).reshape(lam.shape), nfe
