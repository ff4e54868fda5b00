"""Fixed-grid solvers for the generative ODE/SDE, time grids and diffusion coefficients.

Every solver is a small class with one method of one signature::

    step(drift, t0, t1, x, memory, *, generator=None, noise=None) -> x_next

``memory`` is a dict the solver may use across steps (multistep methods, schedule values); ``noise``
lets a caller supply the Gaussian increment of a stochastic step (it is drawn from the drift's base
otherwise). A step never modifies its inputs (``x``, the drift's outputs) and returns a new tensor.

The sampler's own work between drift evaluations is memory-bound, so each step is written as the
fewest fused passes over the state: stage states and the update are ``x + Σ c_i k_i`` built with
``torch.add(..., alpha=)`` and in-place ``add_`` on the fresh result, with the scalar coefficients
(schedule values, step sizes) computed once per step in float64 python floats. The results equal
the textbook formulas up to round-off.

:func:`sictl.core.sampling.integrate.integrate` runs the loop over a grid and counts drift evaluations.
Adding a solver means one class here and one line in :data:`SOLVERS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from sictl.core.interpolants.schedules import Schedule, as_time
from sictl.core.sampling.drift import Drift
from sictl.errors import ConfigError

__all__ = ["Solver", "SOLVERS", "make_solver", "solver_class", "stochastic_solvers"]


class Solver:
    """Base class: ``nfe_per_step`` drift evaluations per step.

    A solver says what it needs: ``stochastic`` if a step takes a Gaussian increment (the loop then
    supplies one per step), ``takes_diffusion`` if it accepts a diffusion coefficient ε(t), and
    :attr:`needs_score` if its steps use the drift's score (a drift without one is refused).
    """

    name = "solver"
    nfe_per_step = 1
    stochastic = False
    takes_diffusion = False

    @property
    def needs_score(self) -> bool:
        return False

    def step(self, drift: Drift, t0: float, t1: float, x: Tensor, memory: dict, *, generator=None, noise=None):
        raise NotImplementedError  # pragma: no cover


@dataclass
class StochasticSolver(Solver):
    """Base of the SDE solvers: a Gaussian increment per step and an optional diffusion ε(t).

    With ``diffusion`` None the step is the ODE step; otherwise it needs the drift's score.

    Args:
        diffusion: ε(t) ≥ 0 as a callable of a scalar time tensor.
    """

    diffusion: Callable[[Tensor], Tensor] | None = None
    stochastic = True
    takes_diffusion = True

    @property
    def needs_score(self) -> bool:
        return self.diffusion is not None


def _combine(x: Tensor, *terms: tuple[float, Tensor]) -> Tensor:
    """x + Σ c_i k_i as a new tensor: one fused pass per term, no temporaries, inputs untouched.

    The sampler's own arithmetic is memory-bound, so each step is written as the fewest such passes.
    The result is freshly allocated after every k_i exists, so it never aliases a drift's output.
    """
    (c, k), *rest = terms
    out = torch.add(x, k, alpha=c)
    for c, k in rest:
        out.add_(k, alpha=c)
    return out


def _scaled(x: Tensor, a: float, *terms: tuple[float, Tensor]) -> Tensor:
    """a x + Σ c_i k_i as a new tensor, in 1 + len(terms) passes."""
    out = torch.mul(x, a)
    for c, k in terms:
        out.add_(k, alpha=c)
    return out


class _Values(NamedTuple):
    """α, β, α̇, β̇ and the Wronskian W = αβ̇ − α̇β at one time, as python floats (float64)."""

    alpha: float
    beta: float
    alpha_dot: float
    beta_dot: float
    w: float

    @property
    def log_snr(self) -> float:
        """ℓ = log(β/α): −∞ where β = 0, +∞ where α = 0."""
        if self.beta <= 0:
            return -math.inf
        return math.inf if self.alpha <= 0 else math.log(self.beta) - math.log(self.alpha)


def _values(schedule: Schedule, t: float, memory: dict) -> _Values:
    """Schedule values at ``t`` in float64, remembered in ``memory`` (a step's t1 is the next step's t0)."""
    cache = memory.setdefault("values", {})
    v = cache.get(t)
    if v is None:
        a, b, ad, bd = (float(q) for q in schedule(as_time(float(t))))
        w = a * bd - ad * b if math.isfinite(bd) else math.inf  # β̇(0) = ∞ for the designed schedule
        v = cache[t] = _Values(a, b, ad, bd, w)
        if len(cache) > 4:
            cache.pop(next(iter(cache)))
    return v


class Euler(Solver):
    name = "euler"

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        return torch.add(x, drift.velocity(t0, x), alpha=float(t1 - t0))


class Heun(Solver):
    """Explicit trapezoid: predictor Euler, corrector average of both slopes."""

    name, nfe_per_step = "heun", 2

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        h = float(t1 - t0)
        k1 = drift.velocity(t0, x)
        k2 = drift.velocity(t1, _combine(x, (h, k1)))
        return _combine(x, (h / 2, k1), (h / 2, k2))


class Midpoint(Solver):
    name, nfe_per_step = "midpoint", 2

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        h = float(t1 - t0)
        k1 = drift.velocity(t0, x)
        return _combine(x, (h, drift.velocity(t0 + 0.5 * h, _combine(x, (h / 2, k1)))))


class RK4(Solver):
    """Classic fourth-order Runge–Kutta."""

    name, nfe_per_step = "rk4", 4

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        h = float(t1 - t0)
        k1 = drift.velocity(t0, x)
        k2 = drift.velocity(t0 + h / 2, _combine(x, (h / 2, k1)))
        k3 = drift.velocity(t0 + h / 2, _combine(x, (h / 2, k2)))
        k4 = drift.velocity(t1, _combine(x, (h, k3)))
        return _combine(x, (h / 6, k1), (h / 3, k2), (h / 3, k3), (h / 6, k4))


class RK4ThreeEighths(Solver):
    """Kutta's 3/8 rule, the fixed-grid ``rk4`` of torchdiffeq that the papers used."""

    name, nfe_per_step = "rk4-38", 4

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        h = float(t1 - t0)
        k1 = drift.velocity(t0, x)
        k2 = drift.velocity(t0 + h / 3, _combine(x, (h / 3, k1)))
        k3 = drift.velocity(t0 + 2 * h / 3, _combine(x, (h, k2), (-h / 3, k1)))
        k4 = drift.velocity(t1, _combine(x, (h, k1), (-h, k2), (h, k3)))
        return _combine(x, (h / 8, k1), (3 * h / 8, k2), (3 * h / 8, k3), (h / 8, k4))


def _frozen_eta_step(v0: _Values, v1: _Values) -> tuple[float, float, float, float]:
    """(a, p, q, c): x1 = a x0 + c η_x is exact for frozen η_x (a = α1/α0, c = β1 − α1β0/α0), and
    η_x(t0, x0) = p b + q x0 with p = α0/W0, q = −α̇0/W0 (b the velocity at x0)."""
    c = v1.beta - v1.alpha * v0.beta / v0.alpha
    return v1.alpha / v0.alpha, v0.alpha / v0.w, -v0.alpha_dot / v0.w, c


class ExpInt1(Solver):
    """First-order exponential integrator in data-prediction form (the DDIM analogue).

    With ρ = β/α the ODE reads d(x/α)/dt = η_x dρ/dt, exact for frozen η_x:
    x1 = (α1/α0) x0 + (β1 − α1 β0/α0) η_x(t0, x0), η_x = (α0 b − α̇0 x0)/W0. Valid for any (α, β).
    Written as one combination of x0 and b (two passes).
    """

    name = "expint1"

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        v0, v1 = _values(drift.schedule, t0, memory), _values(drift.schedule, t1, memory)
        a, p, q, c = _frozen_eta_step(v0, v1)
        return _scaled(x, a + c * q, (c * p, drift.velocity(t0, x)))


class ExpInt2(Solver):
    """Second-order multistep exponential integrator (the DPM-Solver++(2M) analogue).

    η_x is extrapolated linearly in log-SNR ℓ = log(β/α) from the previous step:
    D = (1 + 1/(2r)) η_i − η_{i−1}/(2r), r = h_{i−1}/h_i, x1 = (α1/α0) x0 + β1 (1 − e^{−h}) D.
    The first step (and a step that reaches α = 0) is first order. One drift evaluation per step.
    η_{i−1} is kept as the previous (x, b) pair and its coefficients, so a step is one combination
    of four tensors and stores nothing new.
    """

    name = "expint2"

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        v0, v1 = _values(drift.schedule, t0, memory), _values(drift.schedule, t1, memory)
        a, p, q, c = _frozen_eta_step(v0, v1)
        b = drift.velocity(t0, x)
        ell0, h = v0.log_snr, v1.log_snr - v0.log_snr
        prev = memory.get("eta")
        if prev is not None and math.isfinite(h) and math.isfinite(prev[0]):
            ell_p, p_p, q_p, b_p, x_p = prev
            r = (ell0 - ell_p) / h
            cn, cp = c * (1 + 0.5 / r), -c * 0.5 / r
            out = _scaled(x, a + cn * q, (cn * p, b), (cp * p_p, b_p), (cp * q_p, x_p))
        else:
            out = _scaled(x, a + c * q, (c * p, b))
        memory["eta"] = (ell0, p, q, b, x)  # η_x(t0) = p b + q x
        return out


@dataclass
class EulerMaruyama(StochasticSolver):
    """Euler–Maruyama for dX = (b + ε C0 s) dt + √(2ε) C0^{1/2} dW.

    The SDE is preconditioned by the base covariance C0 (identity for a white unit base, where it is
    the SDE dX = (b + ε s) dt + √(2ε) dW of docs/math.md), so that ε keeps its meaning and ε* stays
    optimal for any Gaussian base.
    Since C0 s = −η_z/α with η_z = (β̇ x − β b)/W, one velocity evaluation per step gives both terms,
    and the step is one combination of x, b and the noise.

    Args:
        diffusion: ε(t) ≥ 0 as a callable of a scalar time tensor.
    """

    name = "em"

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        h = float(t1 - t0)
        b = drift.velocity(t0, x)
        if self.diffusion is None:
            return torch.add(x, b, alpha=h)
        eps = float(self.diffusion(as_time(float(t0))))
        if not math.isfinite(eps):
            raise ConfigError(f"the diffusion coefficient ε(t) is not finite at t = {float(t0):g}",
                              hint="ε* grows like 1/t at t = 0: start the time grid later (e.g. --t-min 1e-4)")
        if noise is None:
            noise = drift.sample_noise(tuple(x.shape), generator=generator, like=x)
        if not drift.score_from_velocity:  # the drift's own score: x + h (b + ε C0 s) + √(2εh) n
            return _combine(x, (h, b), (h * eps, drift.preconditioned_score(t0, x, b)), (math.sqrt(2 * eps * h), noise))
        v0 = _values(drift.schedule, t0, memory)
        g = h * eps / v0.alpha  # x1 = x + h b − g η_z + √(2εh) n
        bdot_w = 1.0 / (v0.alpha - v0.alpha_dot * v0.beta / v0.beta_dot)  # β̇/W, 1/α where β̇ = ∞
        return _scaled(x, 1.0 - g * bdot_w, (h + g * v0.beta / v0.w, b), (math.sqrt(2 * eps * h), noise))


def _sde_field(drift: Drift, t: float, x: Tensor, eps: float, memory: dict) -> Tensor:
    """f = b + ε C0 s at (t, x): the drift of dX = f dt + √(2ε) C0^{1/2} dW, one velocity evaluation.

    A drift with its own score (a point-source drift: b^g = v + ε s) gives s; for the Gaussian-base
    drifts C0 s = −η_z/α with η_z = (β̇x − βb)/W, as in :class:`EulerMaruyama`.
    """
    b = drift.velocity(t, x)
    if eps == 0.0:
        return b
    if not drift.score_from_velocity:
        return _combine(b, (eps, drift.preconditioned_score(t, x, b)))
    v = _values(drift.schedule, t, memory)
    bdot_w = 1.0 / (v.alpha - v.alpha_dot * v.beta / v.beta_dot)  # β̇/W, 1/α where β̇ = ∞
    return _scaled(b, 1.0 + eps * v.beta / (v.alpha * v.w), (-eps * bdot_w / v.alpha, x))


def _epsilon(diffusion, t: float) -> float:
    eps = float(diffusion(as_time(float(t))))
    if not math.isfinite(eps):
        raise ConfigError(f"the diffusion coefficient ε(t) is not finite at t = {float(t):g}",
                          hint="ε* grows like 1/t at t = 0: start the time grid later (e.g. --t-min 1e-4)")
    return eps


@dataclass
class StochasticHeun(StochasticSolver):
    """Stochastic Heun: a predictor–corrector in the drift with one Brownian increment per step.

    For dX = f(t, X) dt + √(2ε(t)) dW (f = b + ε C0 s, additive noise: ε depends on t only),

        X̃ = X + h f(t0, X) + G √h n,    X' = X + ½h (f(t0, X) + f(t1, X̃)) + G √h n,

    with G² = ε(t0) + ε(t1) (the trapezoid of g² = 2ε, so that a time-dependent g keeps the variance
    second-order accurate). Strong order 1 and, for the drift part, weak order 2 (the trapezoid rule);
    Euler–Maruyama is strong and weak order 1 here. Two drift evaluations per step, the second at t1,
    so a point-source forecast needs t_max < 1 (the score is singular where σ = 0). With no diffusion
    it is :class:`Heun`.

    Args:
        diffusion: ε(t) ≥ 0 as a callable of a scalar time tensor.
    """

    name = "sde-heun"
    nfe_per_step = 2

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        h = float(t1 - t0)
        e0, e1 = (0.0, 0.0) if self.diffusion is None else (_epsilon(self.diffusion, t0), _epsilon(self.diffusion, t1))
        k1 = _sde_field(drift, t0, x, e0, memory)
        if self.diffusion is None:
            return _combine(x, (h / 2, k1), (h / 2, drift.velocity(t1, _combine(x, (h, k1)))))
        if noise is None:
            noise = drift.sample_noise(tuple(x.shape), generator=generator, like=x)
        kick = math.sqrt((e0 + e1) * h)
        k2 = _sde_field(drift, t1, _combine(x, (h, k1), (kick, noise)), e1, memory)
        return _combine(x, (h / 2, k1), (h / 2, k2), (kick, noise))


SOLVERS: dict[str, type[Solver]] = {
    "euler": Euler,
    "heun": Heun,
    "midpoint": Midpoint,
    "rk4": RK4,
    "rk4-38": RK4ThreeEighths,
    "expint1": ExpInt1,
    "expint2": ExpInt2,
    "em": EulerMaruyama,
    "sde-heun": StochasticHeun,
}
# expint3, unipc2, unipc3, sde-expint1, sde-expint2 register themselves here; importing them after SOLVERS
# exists keeps the registry complete whichever of the two modules is imported first
import sictl.core.sampling.multistep  # noqa: E402, F401


def solver_class(name: str) -> type[Solver]:
    """The registered solver class of that name (a clear error listing the registry otherwise)."""
    if name not in SOLVERS:
        raise ConfigError(f"unknown solver {name!r}", hint=f"choose one of {', '.join(SOLVERS)}")
    return SOLVERS[name]


def stochastic_solvers() -> list[str]:
    """Names of the registered solvers that take a diffusion coefficient."""
    return [name for name, cls in SOLVERS.items() if cls.takes_diffusion]


def make_solver(name: str, *, diffusion: Callable[[Tensor], Tensor] | None = None) -> Solver:
    """Instantiate a solver by registry name; ``diffusion`` (ε(t)) goes to solvers that take one."""
    cls = solver_class(name)
    return cls(diffusion) if cls.takes_diffusion else cls()
