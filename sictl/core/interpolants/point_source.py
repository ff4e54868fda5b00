"""Point-source interpolants for probabilistic forecasting (arXiv 2403.13724, arXiv 2602.10989).

A forecaster samples x1 ~ ρ(x1 | x0) from the point x0 along

    x_t = α(t) x0 + β(t) x1 + σ(t) √t ξ,    ξ ~ N(0, I),  t ∈ [0, 1],

with α = 1 − t, β(0) = 0, β(1) = 1, σ(1) = 0 (so x_0 = x0 and x_1 = x1). The drift
b_t(x, x0) = E[R_t | x_t = x] of the regression target R_t = α̇ x0 + β̇ x1 + σ̇ √t ξ makes
dX = b dt + σ dW, X_0 = x0, reach X_1 ~ ρ(· | x0); for any admissible g the retuned drift
b^g = b + ½(g² − σ²) ∇log ρ_t does the same with dX = b^g dt + g dW (arXiv 2403.13724, Thm 3.2), and
g = g_F, the Föllmer coefficient, minimises the path KL of an estimated drift (arXiv 2403.13724 §3.4;
arXiv 2602.10989). The score, g_F and the retuning are formulas of
:mod:`sictl.core.interpolants.conversions`; this module holds the schedules, the interpolant, its
regression targets and the two sources:

* ``state`` (last-state source): x0 = the current state, x1 = the next state;
* ``zero`` (zero source): x0 = 0, x1 = next − current (the increment); the current state is only a
  conditioning input, and the forecast is current + X_1.

Schedules: the families of :data:`POINT_SOURCE_FAMILIES` (σ = c s(t) with c set by the user) and
:class:`TabulatedPointSource` (β from any schedule, e.g. a table read from a schedule file, with
σ = c(1 − t)). All take t as a float or a tensor of any shape, like every schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from sictl.core.interpolants.base import Schedule, ScheduleValues, as_time
from sictl.core.interpolants.conversions import follmer_g2
from sictl.errors import ConfigError

__all__ = [
    "POINT_SOURCE_BETAS",
    "POINT_SOURCE_DIFFUSIONS",
    "POINT_SOURCE_FAMILIES",
    "SOURCES",
    "PointSource",
    "PointSourceFamily",
    "PointSourceSchedule",
    "TabulatedPointSource",
    "forecast_from_endpoint",
    "interpolant",
    "point_source_diffusion",
    "point_source_g2",
    "regression_target",
    "retuned_target",
    "source_endpoints",
]

Fn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class PointSourceFamily:
    """One named point-source schedule: β, β̇, the noise shape s(t) = σ/c and what follows from them.

    Attributes:
        beta, beta_dot: β(t), β̇(t).
        order: t β̇/β, with its finite limit at t = 0 (1 where β̇(0) > 0, 2 where β ~ t²).
        shape, shape_dot: s(t) = σ(t)/c and ṡ(t).
        shape_rate: s ṡ = ½ d(s²)/dt, finite where ṡ is not (s = √(1 − t) at t = 1).
        coded_g: g(t)/c the family was built to be sampled with (its own g_F), or None.
    """

    beta: Fn
    beta_dot: Fn
    order: Fn
    shape: Fn
    shape_dot: Fn
    shape_rate: Fn
    coded_g: Fn | None = None


def _linear_sigma(beta: Fn, beta_dot: Fn, order: Fn) -> PointSourceFamily:
    """A family with σ = c(1 − t)."""
    return PointSourceFamily(beta, beta_dot, order, lambda t: 1 - t, lambda t: -torch.ones_like(t), lambda t: t - 1)


def _sqrt_half(t: Tensor) -> Tensor:
    return torch.sqrt((2 - t) / 2)


#: The point-source schedules by name (arXiv 2403.13724 and its authors' forecasting code). The first
#: four use σ = c(1 − t); ``follmer-g-1`` (β = t, σ = c√(1 − t)) and ``g-sqrt1-t`` (β = 2t − t²,
#: σ = c(1 − t)√((2 − t)/2)) are the interpolants whose Föllmer coefficient is g = c and g = c√(1 − t).
POINT_SOURCE_FAMILIES: dict[str, PointSourceFamily] = {
    "lin-beta": _linear_sigma(lambda t: t.clone(), lambda t: torch.ones_like(t), lambda t: torch.ones_like(t)),
    "beta-t2": _linear_sigma(lambda t: t * t, lambda t: 2 * t, lambda t: torch.full_like(t, 2.0)),
    "beta-2t2": _linear_sigma(lambda t: 2 * t * t / (t + 1), lambda t: (2 * t * t + 4 * t) / (t + 1) ** 2,
                              lambda t: (t + 2) / (t + 1)),
    "beta-3t2": _linear_sigma(lambda t: 3 * t * t / (2 * t + 1), lambda t: (6 * t * t + 6 * t) / (2 * t + 1) ** 2,
                              lambda t: (2 * t + 2) / (2 * t + 1)),
    "follmer-g-1": PointSourceFamily(
        lambda t: t.clone(), lambda t: torch.ones_like(t), lambda t: torch.ones_like(t),
        lambda t: torch.sqrt(1 - t), lambda t: -0.5 / torch.sqrt(1 - t), lambda t: torch.full_like(t, -0.5),
        coded_g=lambda t: torch.ones_like(t),
    ),
    "g-sqrt1-t": PointSourceFamily(
        lambda t: 2 * t - t * t, lambda t: 2 - 2 * t, lambda t: (2 - 2 * t) / (2 - t),
        lambda t: (1 - t) * _sqrt_half(t), lambda t: -_sqrt_half(t) - (1 - t) / (4 * _sqrt_half(t)),
        lambda t: -0.25 * (1 - t) * (5 - 3 * t),
        coded_g=lambda t: torch.sqrt(1 - t),
    ),
}

#: β(t), β̇(t) of the families with σ = c(1 − t) (the β-schedule comparison of arXiv 2403.13724).
POINT_SOURCE_BETAS: dict[str, tuple[Fn, Fn]] = {
    name: (f.beta, f.beta_dot) for name, f in POINT_SOURCE_FAMILIES.items() if f.coded_g is None
}


class PointSourceSchedule(Schedule):
    """A point-source schedule: α = 1 − t and β (the :class:`Schedule` values), σ(t) = c s(t).

    Subclasses implement :meth:`__call__`, :meth:`sigma`, :meth:`beta_order` and :meth:`sigma_rate`;
    the Föllmer coefficient follows (:meth:`follmer_g2`).
    """

    c: float = 1.0

    def sigma(self, t: float | Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        """(σ(t), σ̇(t)), each with the shape of t."""
        raise NotImplementedError

    def sigma_rate(self, t: float | Tensor) -> Tensor:
        """σ σ̇ = ½ dσ²/dt (finite where σ̇ is not)."""
        s, sd = self.sigma(t)
        return s * sd

    def beta_order(self, t: float | Tensor) -> Tensor:  # pragma: no cover - abstract
        """t β̇/β, with its limit at t = 0."""
        raise NotImplementedError

    def noise_scale(self, t: float | Tensor) -> Tensor:
        """γ(t) = σ(t) √t, the standard deviation of the noise term of x_t."""
        t = as_time(t)
        return self.sigma(t)[0] * torch.sqrt(t)

    def follmer_g2(self, t: float | Tensor) -> Tensor:
        """g_F²(t) = 2tσ(β̇σ − βσ̇)/β − σ² on the closed interval [0, 1] (its limit at t = 0)."""
        t = as_time(t)
        sigma, sigma_dot = self.sigma(t)
        return follmer_g2(t, self(t), sigma, sigma_dot, beta_order=self.beta_order(t), sigma_rate=self.sigma_rate(t))


@dataclass(frozen=True)
class PointSource(PointSourceSchedule):
    """A named point-source schedule: ``family`` one of :data:`POINT_SOURCE_FAMILIES`, σ = c s(t).

    x_t = (1 − t) x0 + β(t) x1 + σ(t) √t ξ. The registry of
    :mod:`sictl.core.interpolants.schedules` builds it as ``family[:c]``.
    """

    family: str = "beta-t2"
    c: float = 1.0
    name: str = field(default="point-source", init=False)

    def __post_init__(self):
        if self.family not in POINT_SOURCE_FAMILIES:
            raise ConfigError(f"unknown point-source family {self.family!r}",
                              hint=f"choose one of {', '.join(POINT_SOURCE_FAMILIES)}")
        if not (isinstance(self.c, (int, float)) and math.isfinite(self.c) and self.c > 0):
            raise ConfigError(f"point-source noise scale c must be > 0, got {self.c!r}", hint="e.g. beta-t2:1.0")

    @property
    def spec(self) -> PointSourceFamily:
        return POINT_SOURCE_FAMILIES[self.family]

    def __call__(self, t):
        t = as_time(t)
        return ScheduleValues(1 - t, self.spec.beta(t), -torch.ones_like(t), self.spec.beta_dot(t))

    def sigma(self, t):
        t = as_time(t)
        return self.c * self.spec.shape(t), self.c * self.spec.shape_dot(t)

    def sigma_rate(self, t):
        return self.c**2 * self.spec.shape_rate(as_time(t))

    def beta_order(self, t):
        return self.spec.order(as_time(t))

    def coded_g2(self, t: float | Tensor) -> Tensor | None:
        """g² the family was designed to be sampled with (its g_F), or None for the β families."""
        g = self.spec.coded_g
        return None if g is None else (self.c * g(as_time(t))) ** 2

    def describe(self):
        return {"name": self.family, "c": self.c}


class TabulatedPointSource(PointSourceSchedule):
    """β (and β̇) of any schedule — e.g. a :class:`~sictl.core.interpolants.schedules.Tabulated` one read
    from a schedule file — with α = 1 − t and σ = c(1 − t).

    The limit of t β̇/β at t = 0 is taken from β̇(0): 1 if it is finite and positive, 2 if it is 0
    (β ~ t²), ½ if it is infinite (β ~ √t).
    """

    def __init__(self, inner: Schedule, c: float = 1.0, *, label: str | None = None):
        if not (math.isfinite(c) and c > 0):
            raise ConfigError(f"point-source noise scale c must be > 0, got {c!r}")
        self.inner, self.c = inner, float(c)
        self.name = label or getattr(inner, "name", "tabulated")

    def __call__(self, t):
        t = as_time(t)
        v = self.inner(t)
        return ScheduleValues(1 - t, v.beta, -torch.ones_like(t), v.beta_dot)

    def sigma(self, t):
        t = as_time(t)
        return self.c * (1 - t), torch.full_like(t, -self.c)

    def beta_order(self, t):
        t = as_time(t)
        v = self.inner(t)
        at_zero = torch.where(torch.isinf(v.beta_dot), 0.5, torch.where(v.beta_dot > 0, 1.0, 2.0)).to(t)
        safe = torch.where(v.beta > 0, v.beta, torch.ones_like(v.beta))
        return torch.where(v.beta > 0, t * v.beta_dot / safe, at_zero)

    def describe(self):
        return {"name": "tabulated-point-source", "beta": self.inner.describe(), "c": self.c}


# ---- the two sources ---------------------------------------------------------------------------------------
SOURCES = ("state", "zero")


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ConfigError(f"unknown point source {source!r}", hint="use state (x0 = current state) or zero (learn the increment)")


def source_endpoints(source: str, current: Tensor, future: Tensor) -> tuple[Tensor, Tensor]:
    """(x0, x1) of a forecasting pair (current, future), each (batch, ...).

    ``state``: (current, future); ``zero``: (0, future − current). The condition is ``current`` in both.
    """
    _check_source(source)
    if source == "state":
        return current, future
    return torch.zeros_like(current), future - current


def forecast_from_endpoint(source: str, current: Tensor, x1: Tensor) -> Tensor:
    """The forecast from the endpoint X_1 of the point-source SDE: X_1 (``state``) or current + X_1 (``zero``)."""
    _check_source(source)
    return x1 if source == "state" else current + x1


# ---- interpolant and regression targets ------------------------------------------------------------------
def _per_sample(t: float | Tensor, like: Tensor) -> Tensor:
    """t as a scalar or one time per sample (batch,), shaped to broadcast against ``like`` (batch, ...)."""
    t = as_time(t).to(device=like.device)
    return t.reshape(-1, *([1] * (like.ndim - 1))) if t.ndim == 1 else t


def interpolant(schedule: PointSourceSchedule, t: float | Tensor, x0: Tensor, x1: Tensor, xi: Tensor) -> Tensor:
    """x_t = α x0 + β x1 + σ √t ξ. ``t`` scalar or (batch,); x0, x1, ξ: (batch, ...). Returns (batch, ...)."""
    t = _per_sample(t, x1)
    v = schedule(t)
    return (v.alpha * x0 + v.beta * x1 + schedule.noise_scale(t) * xi).to(x1.dtype)


def regression_target(schedule: PointSourceSchedule, t: float | Tensor, x0: Tensor, x1: Tensor, xi: Tensor) -> Tensor:
    """R_t = α̇ x0 + β̇ x1 + σ̇ √t ξ, whose conditional mean given x_t is the drift b_t (arXiv 2403.13724, eq. 4).

    Shapes as :func:`interpolant`.
    """
    t = _per_sample(t, x1)
    v = schedule(t)
    return (v.alpha_dot * x0 + v.beta_dot * x1 + schedule.sigma(t)[1] * torch.sqrt(t) * xi).to(x1.dtype)


def retuned_target(schedule: PointSourceSchedule, t: float | Tensor, x0: Tensor, x1: Tensor, xi: Tensor,
                   g2: Tensor | float) -> Tensor:
    """R^g_t = R_t − (g² − σ²) ξ / (2σ√t), whose conditional mean given x_t is the retuned drift b^g
    (Stein's identity). ``g2`` is g²(t), broadcastable like t; needs σ√t > 0."""
    tt = _per_sample(t, x1)
    g2 = torch.as_tensor(g2, dtype=tt.dtype, device=x1.device)
    g2 = g2.reshape(tt.shape) if g2.ndim == 1 else g2
    sigma = schedule.sigma(tt)[0]
    return regression_target(schedule, t, x0, x1, xi) - ((g2 - sigma**2) / (2 * sigma * torch.sqrt(tt)) * xi).to(x1.dtype)


# ---- diffusion coefficients of the point-source SDE -------------------------------------------------------
#: The g(t) a point-source drift can be sampled with: ``sigma`` (the trained σ), ``follmer`` (g_F),
#: ``const:c`` (g = c) and ``0`` (the probability-flow ODE).
POINT_SOURCE_DIFFUSIONS = ("sigma", "follmer", "const:c", "0")


def point_source_g2(spec: str, schedule: PointSourceSchedule) -> Fn | None:
    """g²(t) from a spec of :data:`POINT_SOURCE_DIFFUSIONS` (None for ``0``); a callable of a time tensor."""
    name, _, arg = spec.partition(":")
    if name in ("0", "none"):
        return None
    if name == "sigma":
        return lambda t: schedule.sigma(as_time(t))[0] ** 2
    if name == "follmer":
        return schedule.follmer_g2
    if name == "const":
        try:
            c = float(arg)
        except ValueError:
            raise ConfigError(f"diffusion {spec!r}: expected const:<g>", hint="e.g. const:1 for g = 1") from None
        if not (math.isfinite(c) and c >= 0):
            raise ConfigError(f"diffusion constant g must be ≥ 0, got {c}", hint="e.g. const:1")
        return lambda t: torch.full_like(as_time(t), c * c)
    raise ConfigError(f"unknown point-source diffusion {spec!r}", hint=f"use one of {', '.join(POINT_SOURCE_DIFFUSIONS)}")


def point_source_diffusion(spec: str, schedule: PointSourceSchedule) -> Fn | None:
    """ε(t) = g²(t)/2 for a stochastic solver (``make_solver(name, diffusion=...)``).

    A point-source drift (:class:`sictl.core.sampling.point_source.PointSourceDrift`) is integrated as
    dX = (v + ε s) dt + √(2ε) dW with v = b − ½σ² s, which is dX = b^g dt + g dW for ε = g²/2.
    """
    g2 = point_source_g2(spec, schedule)
    return None if g2 is None else (lambda t: 0.5 * g2(t))
