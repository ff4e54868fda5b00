"""Interpolation schedules: α(t), β(t) and their time derivatives.

Convention (docs/math.md): ``x_t = α(t) z + β(t) x1`` with α(0) = β(1) = 1, α(1) = β(0) = 0, α̇ < 0 < β̇.
Point-source schedules (forecasting) add ``σ(t) √t ξ`` with σ(1) = 0 (arXiv 2403.13724); they are defined in
:mod:`sictl.core.interpolants.point_source` and registered here. The interface (:class:`ScheduleValues`,
:class:`Schedule`, :func:`as_time`) is :mod:`sictl.core.interpolants.base`, re-exported here.

Each schedule is one small frozen dataclass whose ``__call__(t)`` returns :class:`ScheduleValues`.
``t`` may be a python float or a tensor of any shape; values are returned as float64 tensors of the
same shape unless ``t`` is already a floating tensor (its dtype and device are kept).

Adding a schedule means one class in this file and one line in :data:`SCHEDULES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from sictl.core.interpolants.base import Schedule, ScheduleValues, as_time
from sictl.core.interpolants.hermite import hermite, hermite_derivative
from sictl.core.interpolants.point_source import POINT_SOURCE_BETAS, POINT_SOURCE_FAMILIES, PointSource
from sictl.errors import ConfigError

__all__ = [
    "ScheduleValues",
    "Schedule",
    "Linear",
    "Trig",
    "Designed",
    "DesignedPair",
    "PointSource",
    "VariancePreserving",
    "Tabulated",
    "variance_preserving",
    "SCHEDULES",
    "POINT_SOURCE_BETAS",
    "make_schedule",
    "as_time",
]


@dataclass(frozen=True)
class Linear(Schedule):
    """α = 1 − t, β = t (the reference schedule of the papers)."""

    name: str = field(default="linear", init=False)

    def __call__(self, t):
        t = as_time(t)
        return ScheduleValues(1 - t, t.clone(), -torch.ones_like(t), torch.ones_like(t))

    def time_at_log_snr(self, ell):
        return torch.sigmoid(torch.as_tensor(ell, dtype=torch.float64))

    def at_log_snr(self, ell):
        ell = torch.as_tensor(ell, dtype=torch.float64)
        t = torch.sigmoid(ell)
        return t, ScheduleValues(torch.sigmoid(-ell), t, -torch.ones_like(t), torch.ones_like(t))


@dataclass(frozen=True)
class Trig(Schedule):
    """α = cos(πt/2), β = sin(πt/2) (variance preserving)."""

    name: str = field(default="trig", init=False)

    def __call__(self, t):
        t = as_time(t)
        h = 0.5 * math.pi
        return ScheduleValues(torch.cos(h * t), torch.sin(h * t), -h * torch.sin(h * t), h * torch.cos(h * t))

    def time_at_log_snr(self, ell):
        return torch.atan(torch.exp(torch.as_tensor(ell, dtype=torch.float64))) / (0.5 * math.pi)

    def at_log_snr(self, ell):
        ell = torch.as_tensor(ell, dtype=torch.float64)
        t = self.time_at_log_snr(ell)
        alpha, beta = torch.sigmoid(-2 * ell).sqrt(), torch.sigmoid(2 * ell).sqrt()
        h = 0.5 * math.pi
        return t, ScheduleValues(alpha, beta, -h * beta, h * alpha)


def _ratio_over_expm1(log_lam: float) -> float:
    """L / (e^L − 1), with its limit 1 at L = 0."""
    return 1.0 if abs(log_lam) < 1e-300 else log_lam / math.expm1(log_lam)


@dataclass(frozen=True)
class Designed(Schedule):
    """Lipschitz-optimal variance-preserving schedule for ratio λ (arXiv 2509.01629).

    α² + β² = 1 and α² + λβ² = λ^t, i.e. β² = (λ^t − 1)/(λ − 1). Written with ``expm1`` so that
    λ → 1 tends smoothly to β² = t. The drift of the Gaussian mode with ratio λ is then the
    constant ½ ln λ. Derivatives are infinite at t = 0 (β̇) and t = 1 (α̇); the products α α̇ and
    β β̇ are finite everywhere (:meth:`half_square_rates`).
    """

    lam: float
    name: str = field(default="designed", init=False)

    def __post_init__(self):
        if not (isinstance(self.lam, (int, float)) and math.isfinite(self.lam) and self.lam > 0):
            raise ConfigError(
                f"designed schedule needs a ratio λ > 0, got {self.lam!r}",
                hint="λ is the target/base per-mode variance ratio, e.g. designed:1e-4",
            )

    def _squares(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        log_lam = math.log(self.lam)
        if abs(log_lam) < 1e-12:  # λ = 1 to machine precision: the limit β² = t
            return 1 - t, t.clone(), torch.ones_like(t)
        denom = math.expm1(log_lam)
        beta2 = torch.expm1(t * log_lam) / denom
        alpha2 = torch.exp(t * log_lam) * torch.expm1((1 - t) * log_lam) / denom
        dbeta2 = torch.exp(t * log_lam) * _ratio_over_expm1(log_lam)
        return alpha2, beta2, dbeta2

    def __call__(self, t):
        t = as_time(t)
        alpha2, beta2, dbeta2 = self._squares(t)
        alpha, beta = alpha2.clamp_min(0).sqrt(), beta2.clamp_min(0).sqrt()
        return ScheduleValues(alpha, beta, -0.5 * dbeta2 / alpha, 0.5 * dbeta2 / beta)

    def half_square_rates(self, t):
        t = as_time(t)
        _, _, dbeta2 = self._squares(t)
        return -0.5 * dbeta2, 0.5 * dbeta2

    def time_at_log_snr(self, ell):
        # β²/α² = e^{2ℓ}  ⇔  λ^t = (1 + λ e^{2ℓ}) / (1 + e^{2ℓ})
        two_ell = 2 * torch.as_tensor(ell, dtype=torch.float64)
        log_lam = math.log(self.lam)
        if abs(log_lam) > 1e-4:
            zero = torch.zeros_like(two_ell)
            return (torch.logaddexp(zero, two_ell + log_lam) - torch.logaddexp(zero, two_ell)) / log_lam
        # series of the same difference quotient in ln λ (error O(ln λ³) < 1e-12)
        q = torch.sigmoid(two_ell)
        return q + q * (1 - q) * log_lam / 2 + q * (1 - q) * (1 - 2 * q) * log_lam**2 / 6

    def at_log_snr(self, ell):
        ell = torch.as_tensor(ell, dtype=torch.float64)
        t = self.time_at_log_snr(ell)
        alpha, beta = torch.sigmoid(-2 * ell).sqrt(), torch.sigmoid(2 * ell).sqrt()  # α² + β² = 1
        _, _, dbeta2 = self._squares(t)
        return t, ScheduleValues(alpha, beta, -0.5 * dbeta2 / alpha, 0.5 * dbeta2 / beta)

    def describe(self):
        return {"name": self.name, "lam": self.lam}


@dataclass(frozen=True)
class DesignedPair(Schedule):
    """Lipschitz-optimal schedule for Gaussian ratios on both sides of 1 (λ_lo ≤ 1 ≤ λ_hi).

    Both extreme modes get a log-variance linear in t: α² + β²λ_lo = λ_lo^t and α² + β²λ_hi = λ_hi^t,
    i.e. β² = (λ_hi^t − λ_lo^t)/(λ_hi − λ_lo), α² = λ_lo^t λ_hi^t (λ_hi^{1−t} − λ_lo^{1−t})/(λ_hi − λ_lo).
    Their rates are the constants ½ ln λ_lo and ½ ln λ_hi, so A2 = ¼ max(ln² λ_lo, ln² λ_hi), the lower
    bound for any schedule (docs/math.md). It is a variance-preserving clock rescaled by
    c = √(α² + β²), c(0) = c(1) = 1; with λ_hi = 1 it is :class:`Designed` (λ_lo).
    """

    lam_lo: float
    lam_hi: float
    name: str = field(default="designed", init=False)

    def __post_init__(self):
        lo, hi = self.lam_lo, self.lam_hi
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= 1 <= hi and lo < hi):
            raise ConfigError(
                f"designed:λ_lo,λ_hi needs 0 < λ_lo ≤ 1 ≤ λ_hi with λ_lo < λ_hi, got {lo}, {hi}",
                hint="for ratios on one side of 1 use designed:λ",
            )

    def _squares(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        a, b = math.log(self.lam_lo), math.log(self.lam_hi)
        delta = math.exp(a) * math.expm1(b - a)
        ea, eb = torch.exp(t * a), torch.exp(t * b)
        beta2 = ea * torch.expm1(t * (b - a)) / delta
        alpha2 = ea * eb * torch.exp((1 - t) * a) * torch.expm1((1 - t) * (b - a)) / delta
        dbeta2 = (eb * b - ea * a) / delta
        dalpha2 = (math.exp(b) * ea * a - math.exp(a) * eb * b) / delta
        return alpha2, beta2, dalpha2, dbeta2

    def __call__(self, t):
        t = as_time(t)
        alpha2, beta2, dalpha2, dbeta2 = self._squares(t)
        alpha, beta = alpha2.clamp_min(0).sqrt(), beta2.clamp_min(0).sqrt()
        return ScheduleValues(alpha, beta, 0.5 * dalpha2 / alpha, 0.5 * dbeta2 / beta)

    def half_square_rates(self, t):
        _, _, dalpha2, dbeta2 = self._squares(as_time(t))
        return 0.5 * dalpha2, 0.5 * dbeta2

    def describe(self):
        return {"name": self.name, "lam_lo": self.lam_lo, "lam_hi": self.lam_hi}


@dataclass(frozen=True)
class VariancePreserving(Schedule):
    """The variance-preserving path with the β of another schedule: α = √(1 − β²).

    Mixture targets use it: "linear" for a mixture means β = t, α = √(1 − t²) (arXiv 2509.01629). A
    schedule that is already variance preserving is unchanged by it.
    """

    inner: Schedule
    name: str = field(default="vp", init=False)

    def __call__(self, t):
        v = self.inner(t)
        alpha = (1 - v.beta**2).clamp_min(0).sqrt()
        _, bbd = self.inner.half_square_rates(t)
        return ScheduleValues(alpha, v.beta, -bbd / alpha, v.beta_dot)

    def half_square_rates(self, t):
        _, bbd = self.inner.half_square_rates(t)
        return -bbd, bbd

    def describe(self):
        return {"name": "vp", "inner": self.inner.describe()}


def variance_preserving(schedule: Schedule) -> VariancePreserving:
    """The variance-preserving path α = √(1 − β²) with the β of ``schedule`` (unchanged if it is one).

    The one place where a mixture target's path is built from a named or tabulated schedule.
    """
    return schedule if isinstance(schedule, VariancePreserving) else VariancePreserving(schedule)


class Tabulated(Schedule):
    """A schedule read from a table (a schedule file), applied verbatim.

    Between nodes α and β are cubic Hermite interpolants of the tabulated values *and* tabulated
    derivatives, so the interpolant reproduces α, β, α̇, β̇ exactly at the nodes and its derivative
    is the exact derivative of its values everywhere. An infinite derivative at t = 0 or t = 1 (the
    designed schedule's β̇(0) = ∞, α̇(1) = −∞) makes the end interval a square-root profile
    y_end ± Δ(a√u + (1 − a)u) (u the distance to that end), which is what such schedules do there,
    with a chosen to keep the tabulated derivative at the interval's other node; an infinite
    derivative elsewhere is replaced by a centred difference.

    Args:
        t, alpha, beta, alpha_dot, beta_dot: 1-D arrays of equal length P ≥ 2, ``t`` strictly
            increasing from 0 to 1, α non-increasing from 1 to 0, β non-decreasing from 0 to 1.
        label: name reported in outputs (e.g. the file name).
    """

    def __init__(self, t, alpha, beta, alpha_dot, beta_dot, *, label: str = "tabulated"):
        cols = [torch.as_tensor(c, dtype=torch.float64).flatten() for c in (t, alpha, beta, alpha_dot, beta_dot)]
        self.t, self.alpha, self.beta, da, db = cols
        self.name = label
        p = self.t.numel()
        if p < 2 or any(c.numel() != p for c in cols):
            raise ConfigError(f"tabulated schedule {label}: need ≥ 2 points and equal column lengths")
        if not bool((torch.diff(self.t) > 0).all()) or self.t[0] != 0 or self.t[-1] != 1:
            raise ConfigError(f"tabulated schedule {label}: t must increase strictly from 0 to 1")
        if bool((torch.diff(self.beta) < 0).any()) or bool((torch.diff(self.alpha) > 0).any()):
            raise ConfigError(
                f"tabulated schedule {label} is not monotone (α must decrease and β increase)",
                hint="check the table or re-create it with `sictl design-schedule`",
            )
        self.singular_ends = {
            "alpha": (not bool(torch.isfinite(da[0])), not bool(torch.isfinite(da[-1]))),
            "beta": (not bool(torch.isfinite(db[0])), not bool(torch.isfinite(db[-1]))),
        }
        self.alpha_dot = self._finite_slopes(self.alpha, da)
        self.beta_dot = self._finite_slopes(self.beta, db)

    def _finite_slopes(self, y: Tensor, dy: Tensor) -> Tensor:
        dy = dy.clone()
        bad = ~torch.isfinite(dy)
        if bad.any():
            t = self.t
            est = torch.empty_like(dy)
            est[1:-1] = (y[2:] - y[:-2]) / (t[2:] - t[:-2])
            est[0] = (y[1] - y[0]) / (t[1] - t[0])
            est[-1] = (y[-1] - y[-2]) / (t[-1] - t[-2])
            dy[bad] = est[bad]
        return dy

    def _hermite(self, t: Tensor, y: Tensor, dy: Tensor, ends: tuple[bool, bool]) -> tuple[Tensor, Tensor, Tensor]:
        """(value, derivative, value × derivative) at t; the product stays finite at a √ end."""
        nodes = self.t.to(t.device, t.dtype)
        i = torch.searchsorted(nodes, t.detach().clamp(0, 1), right=True).clamp(1, nodes.numel() - 1) - 1
        t0, h = nodes[i], nodes[i + 1] - nodes[i]
        s = (t - t0) / h
        y0, y1 = y.to(t)[i], y.to(t)[i + 1]
        m0, m1 = dy.to(t)[i] * h, dy.to(t)[i + 1] * h
        val = hermite(s, y0, m0, y1, m1)
        der = hermite_derivative(s, y0, m0, y1, m1) / h
        prod = val * der
        # √ end intervals: y = y_end ∓ Δ g(u), g(u) = a√u + (1 − a)u with u the distance to the
        # singular end; a is set so that the derivative at the other node is the tabulated one.
        for singular, u, sign, m_other, y_end in ((ends[0], s, 1.0, m1, y0), (ends[1], 1 - s, -1.0, m0, y1)):
            if not singular:
                continue
            where = i == 0 if sign > 0 else i == nodes.numel() - 2
            delta = y1 - y0
            a = torch.where(delta != 0, 2 * (1 - m_other / torch.where(delta != 0, delta, 1.0)), 1.0)
            r = u.clamp(0, 1).sqrt()
            v_end = y_end + sign * delta * (a * r + (1 - a) * r * r)
            d_end = delta * (a / (2 * r) + (1 - a)) / h
            # y_end·Δ(...)/r + Δ²(a + (1 − a)r)(a/2 + (1 − a)r)/h stays finite as r → 0 when y_end = 0
            p_end = torch.where(
                y_end == 0,
                sign * delta**2 * (a + (1 - a) * r) * (a / 2 + (1 - a) * r) / h,
                v_end * d_end,
            )
            val, der, prod = torch.where(where, v_end, val), torch.where(where, d_end, der), torch.where(where, p_end, prod)
        return val, der, prod

    def __call__(self, t):
        t = as_time(t)
        a, da, _ = self._hermite(t, self.alpha, self.alpha_dot, self.singular_ends["alpha"])
        b, db, _ = self._hermite(t, self.beta, self.beta_dot, self.singular_ends["beta"])
        return ScheduleValues(a, b, da, db)

    def half_square_rates(self, t):
        t = as_time(t)
        _, _, aad = self._hermite(t, self.alpha, self.alpha_dot, self.singular_ends["alpha"])
        _, _, bbd = self._hermite(t, self.beta, self.beta_dot, self.singular_ends["beta"])
        return aad, bbd

    def describe(self):
        return {"name": "tabulated", "label": self.name, "points": int(self.t.numel())}


SCHEDULES: dict[str, type[Schedule]] = {
    "linear": Linear,
    "trig": Trig,
    "designed": Designed,
    **{family: PointSource for family in POINT_SOURCE_FAMILIES},
}


def make_schedule(spec: str, *, default_lam: float | None = None) -> Schedule:
    """Build a named schedule from a spec string.

    ``linear``, ``trig``, ``designed:λ`` (or ``designed`` with ``default_lam``), ``designed:λ_lo:λ_hi``
    (:class:`DesignedPair`, ratios on both sides of 1), and the point-source
    families ``lin-beta``, ``beta-t2``, ``beta-2t2``, ``beta-3t2``, ``follmer-g-1``, ``g-sqrt1-t`` optionally
    with ``:c`` (σ's scale).
    Schedule *files* are opened by the io layer and wrapped in :class:`Tabulated`.
    """
    name, _, arg = spec.partition(":")
    if name not in SCHEDULES:
        raise ConfigError(
            f"unknown schedule {spec!r}",
            hint=f"use one of {', '.join(SCHEDULES)} or a schedule file made by `sictl design-schedule`",
        )
    if name == "designed" and ("," in arg or ":" in arg):
        try:
            lo, hi = (float(v) for v in arg.replace(",", ":").split(":"))
        except ValueError:
            raise ConfigError(f"schedule {spec!r}: expected designed:λ_lo:λ_hi", hint="e.g. designed:0.01:50") from None
        return DesignedPair(lo, hi)
    try:
        value = float(arg) if arg else None
    except ValueError:
        raise ConfigError(f"schedule {spec!r}: {arg!r} is not a number", hint="e.g. designed:1e-4") from None
    if name == "designed":
        lam = value if value is not None else default_lam
        if lam is None:
            raise ConfigError("the designed schedule needs a ratio λ", hint="write designed:λ, e.g. designed:1e-4")
        return Designed(lam)
    if SCHEDULES[name] is PointSource:
        return PointSource(name, 1.0 if value is None else value)
    if value is not None:
        raise ConfigError(f"schedule {name!r} takes no parameter (got {spec!r})")
    return SCHEDULES[name]()
