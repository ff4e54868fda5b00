"""Schedule design: the optimal clock of a variance-preserving path (arXiv 2509.01629; docs/math.md,
"Schedule design").

On α = √(1 − β²) the drift of every target considered here is β̇ times a function of (β, x), so
the criteria are

    A2 = ∫ β̇² G(β) dt,   G(β) = E‖∇_x f(β, ·)‖₂²      (averaged squared Lipschitzness)
    K  = ∫ β̇² G(β) dt,   G(β) = E‖f(β, ·)‖²           (kinetic energy)

and by Cauchy–Schwarz the optimum over clocks is t = H(β)/H(1), H(β) = ∫₀^β √G, with optimal value
H(1)². :func:`optimal_vp_clock` turns any G into a tabulated schedule; the ``*_profile`` functions
give G for Gaussians (any mix of ratios) and the two-mode mixture; general mixtures get theirs by
Monte Carlo in :mod:`sictl.core.exact.mixture_profile` (re-exported here). Which of them a target uses,
and when a closed form replaces the clock, is the target's business (:mod:`sictl.core.exact.targets`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from sictl.core.exact import two_mode
from sictl.core.exact.mixture_profile import (
    MixtureProfile,
    mixture_profile,
    mixture_profile_table,
    mixture_vp_norms,
)
from sictl.core.interpolants.conversions import optimal_diffusion
from sictl.core.interpolants.hermite import hermite
from sictl.core.interpolants.schedules import Designed, Schedule, Tabulated
from sictl.errors import ConfigError, ConvergenceError

Profile = Callable[[Tensor], Tensor]

__all__ = [
    "table_times",
    "gaussian_profile",
    "two_mode_profile",
    "mixture_profile",
    "mixture_vp_norms",
    "mixture_profile_table",
    "MixtureProfile",
    "two_mode_lipschitz_ratio",
    "gaussian_lipschitz_ratio",
    "designed_closed_form",
    "optimal_vp_clock",
    "ClockDesign",
    "tabulate",
    "eps_star_column",
]


@lru_cache(maxsize=4)
def table_times(points: int = 2001, end_levels: int = 14) -> Tensor:
    """Time nodes of a schedule table: ``points`` uniform nodes plus geometric refinement near
    both ends (down to 10^-end_levels from 0 and from 1), where designed schedules behave like √t."""
    uniform = np.linspace(0.0, 1.0, points)
    near = np.logspace(-end_levels, math.log10(1.0 / (points - 1)), 25 * end_levels)
    t = np.unique(np.concatenate([uniform, near, 1.0 - near]))
    t = t[(t >= 0) & (t <= 1)]
    return torch.tensor(t, dtype=torch.float64)


def tabulate(schedule: Schedule, t: Tensor | None = None) -> dict[str, Tensor]:
    """α, β, α̇, β̇ of a schedule on the table times (inf where a derivative is singular)."""
    t = table_times() if t is None else t
    v = schedule(t)
    return {"t": t, "alpha": v.alpha, "beta": v.beta, "alpha_dot": v.alpha_dot, "beta_dot": v.beta_dot}


def eps_star_column(schedule: Schedule, t: Tensor, *, vp_clock: bool) -> Tensor:
    """ε* = α²β̇/β − αα̇ on the table (∞ at t = 0, where β = 0).

    αα̇ comes from :meth:`Schedule.half_square_rates`, finite at t = 1 where α = 0 and α̇ = −∞; on a
    variance-preserving clock it is −ββ̇ exactly, so there ε* = β̇/β (β̇(1) at t = 1).
    """
    if not vp_clock:
        return optimal_diffusion(schedule, t)
    v = schedule(t)
    beta = torch.where(v.beta > 0, v.beta, 1.0)
    return torch.where(v.beta > 0, v.beta_dot / beta, torch.full_like(t, math.inf))


# ----------------------------------------------------------------------------------------- profiles


def gaussian_profile(ratios: Tensor, criterion: str = "a2", weights: Tensor | None = None) -> Profile:
    """G(β) for a Gaussian with per-mode ratios λ_k on the VP path.

    The rate of mode k is β̇ f_k(β), f_k = β(λ_k − 1)/(1 + β²(λ_k − 1)). A2 needs max_k f_k², which
    is attained at the smallest or largest ratio; the kinetic energy needs Σ_k f_k² D_k with
    D_k = 1 + β²(λ_k − 1) (``weights`` count repeated modes).
    """
    lam = torch.as_tensor(ratios, dtype=torch.float64).flatten()
    if criterion == "a2":
        ext = torch.stack([lam.min(), lam.max()])

        def g(beta: Tensor) -> Tensor:
            b = beta[..., None]
            f = b * (ext - 1) / (1 + b * b * (ext - 1))
            return (f * f).max(-1).values

        return g
    w = torch.ones_like(lam) if weights is None else torch.as_tensor(weights, dtype=torch.float64).flatten()
    uniq, inverse = torch.unique(lam, return_inverse=True)
    mult = torch.zeros_like(uniq).index_add_(0, inverse, w)

    def g_kin(beta: Tensor) -> Tensor:
        b = beta[..., None]
        d = 1 + b * b * (uniq - 1)
        return (mult * (b * (uniq - 1)) ** 2 / d).sum(-1)

    return g_kin


def two_mode_profile(M: float, p: float = 0.5, criterion: str = "a2") -> Profile:
    """G(β) for p N(r, I) + (1 − p) N(−r, I): β² M⁴ E sech⁴(h + βMu) (A2) or M² E tanh² (kinetic)."""
    two_mode.check_two_mode(M, p)
    if criterion == "a2":
        return lambda beta: beta**2 * M**4 * two_mode.sech4_expectation(beta, M, p)
    return lambda beta: M**2 * (1 - two_mode.sech2_expectation(beta, M, p))


def two_mode_lipschitz_ratio(M: float, p: float = 0.5, criterion: str = "a2") -> Profile:
    """β ↦ L(β)/√G(β) for the two-mode mixture, L = βM² = sup_x ‖∇f‖ (sup sech² = 1).

    For A2 it is 1/√C(β), C = E sech⁴: the designed clock's Lipschitz constant is H(1)/√C(1), set at
    t = 1 where the clock jumps (C(1) ~ e^{−M²/2}); it exceeds float64 (∞) beyond M ≈ 37.
    """
    root = two_mode_profile(M, p, criterion)

    def ratio(beta: Tensor) -> Tensor:
        num, den = beta * M * M, root(beta).clamp_min(0).sqrt()
        return torch.where(den > 0, num / den.clamp_min(1e-300), torch.full_like(num, math.inf))

    return ratio


def gaussian_lipschitz_ratio(ratios: Tensor, criterion: str = "a2") -> Profile:
    """β ↦ L(β)/√G(β) for a Gaussian: the worst rate max_k |f_k| over the criterion's √G (1 for A2)."""
    if criterion == "a2":
        return lambda beta: torch.ones_like(beta)
    worst, kin = gaussian_profile(ratios, "a2"), gaussian_profile(ratios, "kinetic")
    return lambda beta: (worst(beta) / kin(beta).clamp_min(1e-300)).sqrt()


# ------------------------------------------------------------------------------------- the clock


@dataclass
class ClockDesign:
    """Result of :func:`optimal_vp_clock`.

    Attributes:
        schedule: the designed schedule, tabulated on :func:`table_times` (cubic Hermite between).
        value: the optimal criterion H(1)² (A2 or kinetic energy).
        beta_grid: the β values of the fine grids the clock was integrated on (both halves, sorted).
        root_profile: β ↦ √G(β), the profile the clock was designed for.
    """

    schedule: Tabulated
    value: float
    beta_grid: Tensor
    root_profile: Profile

    def lipschitz(self, ratio: Profile) -> float:
        """Lipschitz constant of the drift along the exact clock, sup_t β̇ L(β) = H(1) sup_β L(β)/√G(β).

        ``ratio`` is β ↦ L(β)/√G(β), with L(β) = sup_x ‖∇f(β, x)‖₂ (the drift's Lipschitz constant per
        unit β̇). The sup is taken on :attr:`beta_grid` (β > 0), so no time table is involved: the
        clock's β̇ = H(1)/√G(β) holds exactly even where it is too fast for any table in t.
        """
        b = self.beta_grid[self.beta_grid > 0]
        return math.sqrt(self.value) * float(ratio(b).max())


# √G below this fraction of its maximum counts as 0: β̇ would exceed 1e14 × its typical value, a
# change of β within less than the table's finest time step (1e-14), i.e. a jump (β̇ = ∞ in the table)
_REL_FLOOR = 1e-14


def _half_nodes(cells: int) -> Tensor:
    """Nodes on [0, 1/√2], uniform plus geometric refinement towards 0."""
    top = 1 / math.sqrt(2)
    mid = np.linspace(0.0, top, cells + 1)
    ends = np.logspace(-13, math.log10(top / cells), 150)
    return torch.tensor(np.unique(np.concatenate([mid, ends])), dtype=torch.float64)


class _HalfClock:
    """∫₀^u φ over [0, 1/√2] on a fine grid, with a cubic Hermite interpolant (φ at the nodes)."""

    def __init__(self, phi: Profile, cells: int):
        self.nodes = _half_nodes(cells)
        x, w = (torch.tensor(a) for a in np.polynomial.legendre.leggauss(8))
        a, b = self.nodes[:-1], self.nodes[1:]
        q = 0.5 * (b - a)[:, None] * x + 0.5 * (a + b)[:, None]
        cell = (0.5 * (b - a)[:, None] * w * phi(q)).sum(-1)
        self.values = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(cell, 0)])
        self.slopes = phi(self.nodes)

    @property
    def total(self) -> float:
        return float(self.values[-1])

    def __call__(self, u: Tensor) -> Tensor:
        n = self.nodes
        i = torch.searchsorted(n, u, right=True).clamp(1, n.numel() - 1) - 1
        hh = n[i + 1] - n[i]
        s = (u - n[i]) / hh
        return hermite(s, self.values[i], hh * self.slopes[i], self.values[i + 1], hh * self.slopes[i + 1])

    def inverse(self, target: Tensor) -> Tensor:
        """The smallest u with H(u) ≥ target: the cell by one search, then bisection inside it."""
        n = self.nodes
        i = (torch.searchsorted(self.values, target) - 1).clamp(0, n.numel() - 2)
        hh, v0, v1 = n[i + 1] - n[i], self.values[i], self.values[i + 1]
        m0, m1 = hh * self.slopes[i], hh * self.slopes[i + 1]
        lo, hi = torch.zeros_like(target), torch.ones_like(target)
        for _ in range(60):
            s = 0.5 * (lo + hi)
            below = hermite(s, v0, m0, v1, m1) < target
            lo, hi = torch.where(below, s, lo), torch.where(below, hi, s)
        return n[i] + 0.5 * (lo + hi) * hh


def optimal_vp_clock(profile: Profile, *, cells: int = 2000, label: str = "designed") -> ClockDesign:
    """Optimal clock t = H(β)/H(1), H = ∫₀^β √G, tabulated with exact derivatives.

    To stay accurate at both ends, H is accumulated in β on β ≤ 1/√2 and in α (β = √(1 − α²)) on
    the other half: 1 − t = ∫₀^α √G(β(a)) a/β(a) da / H(1). Each half is integrated cell by cell with
    8-point Gauss–Legendre on a fine graded grid and inverted by bisection on its cubic Hermite
    interpolant; then β̇ = H(1)/√G(β) exactly, α̇ = −ββ̇/α.
    """
    root_g = lambda beta: profile(beta).clamp_min(0).sqrt()  # noqa: E731

    def upper(a: Tensor) -> Tensor:
        b = (1 - a * a).sqrt()
        return root_g(b) * a / b

    low, high = _HalfClock(root_g, cells), _HalfClock(upper, cells)
    total = low.total + high.total
    if not (math.isfinite(total) and total > 0):
        raise ConvergenceError(
            "the target's drift vanishes on the variance-preserving path: nothing to design",
            hint="a target equal to the base needs no schedule; any variance-preserving schedule is exact",
        )
    t = table_times()
    in_low = t * total <= low.total
    beta, alpha = torch.empty_like(t), torch.empty_like(t)
    b_low = low.inverse(t[in_low] * total)
    a_high = high.inverse((1 - t[~in_low]) * total)
    beta[in_low], alpha[in_low] = b_low, (1 - b_low**2).sqrt()
    alpha[~in_low], beta[~in_low] = a_high, (1 - a_high**2).sqrt()
    beta[0], alpha[0], beta[-1], alpha[-1] = 0.0, 1.0, 1.0, 0.0
    grid = torch.cat([low.nodes, (1 - high.nodes**2).sqrt()]).sort().values
    root = root_g(beta)
    floor = _REL_FLOOR * max(float(root.max()), float(low.slopes.max()))
    # β̇ = H(1)/√G(β) exactly; ∞ where √G is (relatively) zero: at β = 0 (the integrable β ~ √t start
    # of every A2 design) and wherever the clock jumps (a mixture's last instant)
    beta_dot = torch.where(root > floor, total / root, torch.full_like(root, math.inf))
    # the reader interpolates the last interval by a cubic (β̇(1) finite): where the clock outruns the
    # table there (a final jump, √G(1) ≈ 0), store the steepest slope that keeps that cubic monotone
    h_last, d_last = float(t[-1] - t[-2]), float(beta[-1] - beta[-2])
    if not float(beta_dot[-1]) * h_last <= 2 * d_last:
        beta_dot[-1] = 2 * d_last / h_last
    alpha_dot = -beta * beta_dot / alpha  # −∞ at t = 1 (α = 0)
    if math.isfinite(float(beta_dot[0])):
        alpha_dot[0] = 0.0
    else:
        # α̇(0) = −lim ββ̇ = −H(1) lim β/√G(β): √G ∝ β at 0 for A2 designs, so the limit is finite
        tiny = torch.tensor([1e-8], dtype=torch.float64)
        r = float(root_g(tiny)[0])
        alpha_dot[0] = -total * 1e-8 / r if r > floor * 1e-8 else -math.inf
    if bool((torch.diff(beta) < 0).any()) or bool((torch.diff(alpha) > 0).any()):
        raise ConvergenceError("designed schedule is not monotone",
                               hint="report the target that caused it; a smoother profile (more --mc-samples) may help")
    sched = Tabulated(t, alpha, beta, alpha_dot, beta_dot, label=label)
    return ClockDesign(sched, total * total, grid, root_g)


def designed_closed_form(ratios: Tensor) -> Designed | None:
    """The closed-form designed schedule when every ratio lies on one side of 1 (λ_min or λ_max rule)."""
    lam = torch.as_tensor(ratios, dtype=torch.float64)
    lo, hi = float(lam.min()), float(lam.max())
    if hi <= 1.0:
        return Designed(lo)
    if lo >= 1.0:
        return Designed(hi)
    return None


def check_ratios(ratios: Tensor) -> Tensor:
    lam = torch.as_tensor(ratios, dtype=torch.float64).flatten()
    if lam.numel() == 0 or not bool(torch.isfinite(lam).all()) or not bool((lam > 0).all()):
        raise ConfigError("ratios must be positive and finite", hint="e.g. --ratio 1e-4 --ratio 50")
    return lam
