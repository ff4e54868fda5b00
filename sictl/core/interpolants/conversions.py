"""Exact conversions between the velocity, the two denoisers and the score; ε* and g_F.

Notation (docs/math.md): x_t = α z + β x1, W = α β̇ − α̇ β > 0 (the Wronskian),
η_z = E[z | x_t], η_x = E[x1 | x_t], b = α̇ η_z + β̇ η_x, and x = α η_z + β η_x.
For a base N(0, C0) the score is s = −C0⁻¹ η_z / α; with a white unit base s = −η_z / α.
Functions take the :class:`~sictl.core.interpolants.schedules.ScheduleValues` at the current time and
tensors of any shape (scalars broadcast). ``base_precision`` applies C0⁻¹ (identity if None).

The identities are those of the stochastic-interpolant framework (arXiv 2303.08797), ε* that of the
Lipschitz-schedule paper (arXiv 2509.01629), g_F and the point-source score those of the Föllmer
forecasting paper (arXiv 2403.13724); docs/math.md lists them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from sictl.core.interpolants.base import Schedule, ScheduleValues, as_time

Precision = Callable[[Tensor], Tensor] | None

__all__ = [
    "wronskian",
    "velocity_from_eta_x",
    "velocity_from_eta_z",
    "eta_x_from_velocity",
    "eta_z_from_velocity",
    "eta_x_from_eta_z",
    "eta_z_from_eta_x",
    "score_from_eta_z",
    "eta_z_from_score",
    "score_from_velocity",
    "velocity_from_score",
    "sde_drift",
    "eps_star",
    "follmer_g2",
    "point_source_score",
    "retuned_drift",
]


def wronskian(v: ScheduleValues) -> Tensor:
    """W = α β̇ − α̇ β (positive for every admissible schedule; 1 for the linear one)."""
    return v.alpha * v.beta_dot - v.alpha_dot * v.beta


def velocity_from_eta_x(v: ScheduleValues, x: Tensor, eta_x: Tensor) -> Tensor:
    """b = (α̇/α) x + (W/α) η_x."""
    return (v.alpha_dot * x + wronskian(v) * eta_x) / v.alpha


def velocity_from_eta_z(v: ScheduleValues, x: Tensor, eta_z: Tensor) -> Tensor:
    """b = (β̇/β) x − (W/β) η_z."""
    return (v.beta_dot * x - wronskian(v) * eta_z) / v.beta


def eta_x_from_velocity(v: ScheduleValues, x: Tensor, b: Tensor) -> Tensor:
    """η_x = (α b − α̇ x) / W."""
    return (v.alpha * b - v.alpha_dot * x) / wronskian(v)


def eta_z_from_velocity(v: ScheduleValues, x: Tensor, b: Tensor) -> Tensor:
    """η_z = (β̇ x − β b) / W."""
    return (v.beta_dot * x - v.beta * b) / wronskian(v)


def eta_x_from_eta_z(v: ScheduleValues, x: Tensor, eta_z: Tensor) -> Tensor:
    """η_x = (x − α η_z) / β."""
    return (x - v.alpha * eta_z) / v.beta


def eta_z_from_eta_x(v: ScheduleValues, x: Tensor, eta_x: Tensor) -> Tensor:
    """η_z = (x − β η_x) / α."""
    return (x - v.beta * eta_x) / v.alpha


def score_from_eta_z(v: ScheduleValues, eta_z: Tensor, base_precision: Precision = None) -> Tensor:
    """s = −C0⁻¹ η_z / α."""
    p = eta_z if base_precision is None else base_precision(eta_z)
    return -p / v.alpha


def eta_z_from_score(v: ScheduleValues, score: Tensor, base_cov: Precision = None) -> Tensor:
    """η_z = −α C0 s (``base_cov`` applies C0; identity if None)."""
    c = score if base_cov is None else base_cov(score)
    return -v.alpha * c


def score_from_velocity(v: ScheduleValues, x: Tensor, b: Tensor, base_precision: Precision = None) -> Tensor:
    """s = −C0⁻¹ (β̇ x − β b) / (α W)."""
    return score_from_eta_z(v, eta_z_from_velocity(v, x, b), base_precision)


def velocity_from_score(v: ScheduleValues, x: Tensor, score: Tensor, base_cov: Precision = None) -> Tensor:
    """b = (β̇/β) x + (α W/β) C0 s."""
    return velocity_from_eta_z(v, x, eta_z_from_score(v, score, base_cov))


def sde_drift(b: Tensor, score: Tensor, eps: float | Tensor) -> Tensor:
    """Drift of dX = (b + ε s) dt + √(2ε) dW, whose marginals are those of x_t for every ε ≥ 0."""
    return b + eps * score


def eps_star(v: ScheduleValues) -> Tensor:
    """Statistically optimal diffusion ε*(t) = α² β̇/β − α α̇ (arXiv 2509.01629).

    Linear: (1 − t)/t; any variance-preserving schedule: β̇/β.
    """
    return v.alpha * v.alpha * v.beta_dot / v.beta - v.alpha * v.alpha_dot


def optimal_diffusion(schedule: Schedule, t: float | Tensor) -> Tensor:
    """ε*(t) of a schedule on the closed interval [0, 1]: α²β̇/β − αα̇ with αα̇ = ½ d(α²)/dt from
    :meth:`Schedule.half_square_rates`, so it stays finite at t = 1 where α̇ may be −∞ (the designed
    schedule); the first term vanishes with α. At t = 0 (β = 0) ε* is +∞ (it grows like 1/t)."""
    t = as_time(t)
    v = schedule(t)
    aad = schedule.half_square_rates(t)[0]
    first = torch.where(v.alpha > 0, v.alpha**2 * v.beta_dot / torch.where(v.beta > 0, v.beta, 1.0), 0.0)
    return torch.where(v.beta > 0, first - aad, torch.full_like(t, math.inf))


def follmer_g2(t: Tensor, v: ScheduleValues, sigma: Tensor, sigma_dot: Tensor, *, beta_order: Tensor | None = None,
               sigma_rate: Tensor | None = None) -> Tensor:
    """Föllmer coefficient g_F²(t) = 2tσ(β̇σ − βσ̇)/β − σ² of a point-source schedule (arXiv 2403.13724, eq. 13).

    Written as σ²(2r − 1) − 2t σσ̇ with r = tβ̇/β. ``beta_order`` (r) and ``sigma_rate`` (σσ̇) may be
    given where they are known in closed form: r has a finite limit at t = 0 (where β = 0) and σσ̇ stays
    finite where σ̇ does not (σ = c√(1 − t) at t = 1), so g_F² is then exact on the closed interval.
    """
    r = t * v.beta_dot / v.beta if beta_order is None else beta_order
    rate = sigma * sigma_dot if sigma_rate is None else sigma_rate
    return sigma * sigma * (2 * r - 1) - 2 * t * rate


def point_source_score(
    t: Tensor, v: ScheduleValues, sigma: Tensor, sigma_dot: Tensor, x: Tensor, x0: Tensor, b: Tensor
) -> Tensor:
    """Score of the point-source interpolant from its drift (arXiv 2403.13724).

    ∇log ρ_t(x|x0) = A (β b − c) with A = [tσ(β̇σ − βσ̇)]⁻¹ and c = β̇ x + (β α̇ − β̇ α) x0.
    """
    a = 1.0 / (t * sigma * (v.beta_dot * sigma - v.beta * sigma_dot))
    c = v.beta_dot * x + (v.beta * v.alpha_dot - v.beta_dot * v.alpha) * x0
    return a * (v.beta * b - c)


def retuned_drift(b: Tensor, score: Tensor, g2: Tensor | float, sigma2: Tensor | float) -> Tensor:
    """b^g = b + ½(g² − σ²) s: the drift of dX = b^g dt + g dW with the marginals of dX = b dt + σ dW
    (arXiv 2403.13724, eq. 8). ``score`` is the (preconditioned) score at the same (t, x); g = 0 gives the
    probability-flow velocity b − ½σ² s."""
    return b + 0.5 * (g2 - sigma2) * score
