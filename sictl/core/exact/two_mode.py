"""The symmetric-covariance two-mode mixture p N(r, I) + (1 − p) N(−r, I) on a variance-preserving path.

On α = √(1 − β²) the exact drift is b = β̇ tanh(h + β⟨r, x⟩) r with h = ½ ln(p/(1 − p)), so

    ‖∇b‖₂ = ββ̇ M² sech²(h + β⟨r, x⟩),  M = |r|,
    Lipschitz = M² sup_t ββ̇,   A2 = ∫ (ββ̇)² M⁴ C(β) dt,   C(β) = E sech⁴(h + βM u),

with u = ⟨r, x_t⟩/M ~ p N(βM, 1) + (1 − p) N(−βM, 1) (arXiv 2509.01629; docs/math.md, "Two-mode
mixtures"). Directions orthogonal to r keep their base law, so the problem is one-dimensional along r
for any dimension.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from sictl.core.exact.gaussian import graded_nodes
from sictl.core.exact.gmm import two_mode_tanh_velocity
from sictl.core.interpolants.schedules import Schedule, as_time, variance_preserving
from sictl.core.sampling.drift import Drift
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import Solver
from sictl.errors import ConfigError

__all__ = ["check_two_mode", "sech4_expectation", "sech2_expectation", "two_mode_kinetic", "two_mode_lipschitz", "two_mode_a2", "TwoModeDrift", "minority_weight"]


def check_two_mode(M: float, p: float) -> None:
    if not (math.isfinite(M) and M > 0):
        raise ConfigError(f"mixture separation M must be > 0, got {M}", hint="e.g. --gmm 100,0.3 (modes at ±M)")
    if not (0 < p < 1):
        raise ConfigError(f"mixture weight p must lie in (0, 1), got {p}", hint="e.g. --gmm 100,0.3")


@lru_cache(maxsize=2)
def _rules(n_hermite: int = 96, cells: int = 60, per_cell: int = 8, half_width: float = 30.0):
    """Gauss–Hermite (probabilists') nodes, and composite Gauss–Legendre nodes on [−w, w]."""
    gh_x, gh_w = np.polynomial.hermite_e.hermegauss(n_hermite)
    x, w = np.polynomial.legendre.leggauss(per_cell)
    edges = np.linspace(-half_width, half_width, cells + 1)
    mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * (edges[1:] - edges[:-1])
    gl_x = (mid[:, None] + half[:, None] * x).ravel()
    gl_w = (half[:, None] * w).ravel()
    return (torch.tensor(gh_x), torch.tensor(gh_w / math.sqrt(2 * math.pi)), torch.tensor(gl_x), torch.tensor(gl_w))


def _sech(w: Tensor) -> Tensor:
    # sech(w) = 2 e^{-|w|} / (1 + e^{-2|w|}), stable for any |w|
    e = torch.exp(-w.abs())
    return 2 * e / (1 + e * e)


def _gauss_sech_power(shift: Tensor, scale: Tensor, power: int) -> Tensor:
    """E sech^power(shift + scale·v), v ~ N(0, 1), elementwise over (shift, scale).

    Gauss–Hermite in v when the integrand is wide (scale ≤ 1); otherwise in w = shift + scale·v with
    composite Gauss–Legendre over |w| ≤ 30 (sech⁴ < 1e-50 outside), where the density is smooth.
    """
    gh_x, gh_w, gl_x, gl_w = _rules()
    shift, scale = torch.broadcast_tensors(shift, scale)
    out = torch.empty_like(shift)
    narrow = scale <= 1
    c, s = shift[narrow][:, None], scale[narrow][:, None]
    out[narrow] = (gh_w * _sech(c + s * gh_x) ** power).sum(-1)
    c, s = shift[~narrow][:, None], scale[~narrow][:, None]
    dens = torch.exp(-0.5 * ((gl_x - c) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    out[~narrow] = (dens * (gl_w * _sech(gl_x) ** power)).sum(-1)
    return out


def _mixture_sech_power(beta, M: float, p: float, power: int) -> Tensor:
    beta = torch.as_tensor(beta, dtype=torch.float64)
    h = 0.5 * math.log(p / (1 - p))
    a = beta * M
    return p * _gauss_sech_power(h + a * a, a, power) + (1 - p) * _gauss_sech_power(h - a * a, a, power)


def sech4_expectation(beta: Tensor, M: float, p: float = 0.5) -> Tensor:
    """C(β) = E sech⁴(h + βM u) for u ~ p N(βM, 1) + (1 − p) N(−βM, 1)."""
    return _mixture_sech_power(beta, M, p, 4)


def sech2_expectation(beta: Tensor, M: float, p: float = 0.5) -> Tensor:
    """E sech²(h + βM u), same law of u (1 − E tanh²: the kinetic-energy profile)."""
    return _mixture_sech_power(beta, M, p, 2)


def two_mode_lipschitz(schedule: Schedule, M: float) -> float:
    """M² sup_t β(t)β̇(t) on the variance-preserving path with the schedule's β."""
    t, _ = graded_nodes()
    _, bbd = schedule.half_square_rates(t)
    return float(M * M * bbd.abs().max())


def two_mode_a2(schedule: Schedule, M: float, p: float = 0.5) -> float:
    """A2 = ∫ (ββ̇)² M⁴ C(β) dt by graded Gauss–Legendre quadrature in t."""
    check_two_mode(M, p)
    t, w = graded_nodes()
    beta = schedule(t).beta
    _, bbd = schedule.half_square_rates(t)
    c = sech4_expectation(beta, M, p)
    # where C underflows to 0 (a designed clock's final jump) the integrand is 0, not inf·0
    integrand = torch.where(c > 0, (bbd * M * M) ** 2 * c, torch.zeros_like(c))
    return float((w * integrand).sum())


def two_mode_kinetic(schedule: Schedule, M: float, p: float = 0.5) -> float:
    """K = ∫ E|b|² dt = ∫ β̇² M² E tanh²(h + βMu) dt on the variance-preserving path."""
    check_two_mode(M, p)
    t, w = graded_nodes()
    vp = variance_preserving(schedule)(t)
    return float((w * vp.beta_dot**2 * M**2 * (1 - sech2_expectation(vp.beta, M, p))).sum())


class TwoModeDrift(Drift):
    """Exact drift of the two-mode mixture along r̂ (1-D coordinate u, shape (batch,)):
    b(t, u) = β̇ M tanh(h + βM u), the tanh form of :func:`sictl.core.exact.gmm.two_mode_tanh_velocity`."""

    def __init__(self, schedule: Schedule, M: float, p: float = 0.5):
        check_two_mode(M, p)
        self.schedule = variance_preserving(schedule)
        self.r, self.p = torch.tensor([float(M)], dtype=torch.float64), p

    def velocity(self, t, x):
        v = self.schedule(as_time(t).to(x))
        return two_mode_tanh_velocity(self.r, self.p, v.beta, v.beta_dot, x[:, None])[:, 0]


def minority_weight(solver: Solver, schedule: Schedule, ts: Tensor, M: float, p: float, *, points: int = 40001) -> float:
    """Exact fraction of samples that a solver sends to the +r mode (weight p), without sampling.

    The discrete flow map Φ of the real solver on the exact drift is evaluated on a fine grid of base
    values z ∈ [−9, 9]; the answer is the standard-normal mass of {z : Φ(z) > 0}, with every sign
    change located by bisection on Φ, so it does not assume Φ monotone.
    """
    drift = TwoModeDrift(schedule, M, p)

    def flow(z: Tensor) -> Tensor:
        return integrate(drift, solver, z, ts).x

    z = torch.linspace(-9.0, 9.0, points, dtype=torch.float64)
    pos = flow(z) > 0
    change = torch.nonzero(pos[1:] != pos[:-1]).flatten()
    lo, hi = z[change].clone(), z[change + 1].clone()
    pos_lo = pos[change]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        same = (flow(mid) > 0) == pos_lo
        lo, hi = torch.where(same, mid, lo), torch.where(same, hi, mid)
    roots = (0.5 * (lo + hi)).tolist()
    cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))  # noqa: E731
    edges = [-math.inf, *roots, math.inf]
    inside = bool(pos[0])
    mass = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        if inside:
            mass += cdf(b) - cdf(a)
        inside = not inside
    return mass
