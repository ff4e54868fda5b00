"""Fixed-grid solvers for the generative ODE/SDE, time grids and diffusion coefficients.

Every solver is a small class with one method of one signature::

    step(drift, t0, t1, x, memory, *, generator=None, noise=None) -> x_next

``memory`` is a dict the solver may use across steps (multistep methods); ``noise`` lets a caller
supply the Gaussian increment of a stochastic step (it is drawn from the drift's base otherwise).
:func:`integrate` runs the loop over a grid and counts drift evaluations (NFE) for the record.
Adding a solver means one class here and one line in :data:`SOLVERS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from sictl.core.conversions import eps_star, eta_x_from_velocity, eta_z_from_velocity
from sictl.core.drifts import CountingDrift, Drift
from sictl.core.schedules import Schedule, as_time
from sictl.errors import ConfigError

__all__ = [
    "Solver",
    "SOLVERS",
    "GRIDS",
    "make_solver",
    "time_grid",
    "integrate",
    "SolveResult",
    "make_diffusion",
]


class Solver:
    """Base class: ``nfe_per_step`` drift evaluations per step; ``stochastic`` if it draws noise."""

    name = "solver"
    nfe_per_step = 1
    stochastic = False

    def step(self, drift: Drift, t0: float, t1: float, x: Tensor, memory: dict, *, generator=None, noise=None):
        raise NotImplementedError  # pragma: no cover


class Euler(Solver):
    name = "euler"

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        return x + (t1 - t0) * drift.velocity(t0, x)


class Heun(Solver):
    """Explicit trapezoid: predictor Euler, corrector average of both slopes."""

    name, nfe_per_step = "heun", 2

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        h = t1 - t0
        k1 = drift.velocity(t0, x)
        k2 = drift.velocity(t1, x + h * k1)
        return x + 0.5 * h * (k1 + k2)


class Midpoint(Solver):
    name, nfe_per_step = "midpoint", 2

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        h = t1 - t0
        return x + h * drift.velocity(t0 + 0.5 * h, x + 0.5 * h * drift.velocity(t0, x))


class RK4(Solver):
    """Classic fourth-order Runge–Kutta."""

    name, nfe_per_step = "rk4", 4

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        h = t1 - t0
        k1 = drift.velocity(t0, x)
        k2 = drift.velocity(t0 + h / 2, x + h / 2 * k1)
        k3 = drift.velocity(t0 + h / 2, x + h / 2 * k2)
        k4 = drift.velocity(t1, x + h * k3)
        return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


class RK4ThreeEighths(Solver):
    """Kutta's 3/8 rule, the fixed-grid ``rk4`` of torchdiffeq that the papers used."""

    name, nfe_per_step = "rk4-38", 4

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        h = t1 - t0
        k1 = drift.velocity(t0, x)
        k2 = drift.velocity(t0 + h / 3, x + h / 3 * k1)
        k3 = drift.velocity(t0 + 2 * h / 3, x + h * (k2 - k1 / 3))
        k4 = drift.velocity(t1, x + h * (k1 - k2 + k3))
        return x + h / 8 * (k1 + 3 * k2 + 3 * k3 + k4)


def _data_prediction(drift: Drift, t0: float, x: Tensor):
    """(schedule values at t0, η_x(t0, x)) from one velocity evaluation."""
    v0 = drift.schedule(as_time(t0).to(x))
    return v0, eta_x_from_velocity(v0, x, drift.velocity(t0, x))


class ExpInt1(Solver):
    """First-order exponential integrator in data-prediction form (the DDIM analogue).

    With ρ = β/α the ODE reads d(x/α)/dt = η_x dρ/dt, exact for frozen η_x:
    x1 = (α1/α0) x0 + (β1 − α1 β0/α0) η_x(t0, x0). Valid for any (α, β).
    """

    name = "expint1"

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        v0, eta = _data_prediction(drift, t0, x)
        v1 = drift.schedule(as_time(t1).to(x))
        return (v1.alpha / v0.alpha) * x + (v1.beta - v1.alpha * v0.beta / v0.alpha) * eta


class ExpInt2(Solver):
    """Second-order multistep exponential integrator (the DPM-Solver++(2M) analogue).

    η_x is extrapolated linearly in log-SNR ℓ = log(β/α) from the previous step:
    D = (1 + 1/(2r)) η_i − η_{i−1}/(2r), r = h_{i−1}/h_i, x1 = (α1/α0) x0 + β1 (1 − e^{−h}) D.
    The first step (and a step that reaches α = 0) is first order. One drift evaluation per step.
    """

    name = "expint2"

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        v0, eta = _data_prediction(drift, t0, x)
        v1 = drift.schedule(as_time(t1).to(x))
        ell0 = torch.log(v0.beta / v0.alpha)
        ell1 = torch.log(v1.beta / v1.alpha)
        h = ell1 - ell0
        d = eta
        if "eta" in memory and bool(torch.isfinite(h)) and bool(torch.isfinite(memory["ell"])):
            r = (ell0 - memory["ell"]) / h
            d = (1 + 0.5 / r) * eta - (0.5 / r) * memory["eta"]
        memory["eta"], memory["ell"] = eta, ell0
        return (v1.alpha / v0.alpha) * x + (v1.beta - v1.alpha * v0.beta / v0.alpha) * d


@dataclass
class EulerMaruyama(Solver):
    """Euler–Maruyama for dX = (b + ε C0 s) dt + √(2ε) C0^{1/2} dW.

    The SDE is preconditioned by the base covariance C0 (identity for a white unit base, where it is
    the SDE of SPEC §1), so that ε keeps its meaning and ε* stays optimal for any Gaussian base.
    Since C0 s = −η_z/α, one velocity evaluation per step gives both terms.

    Args:
        diffusion: ε(t) ≥ 0 as a callable of a scalar time tensor.
    """

    diffusion: Callable[[Tensor], Tensor] | None = None
    name = "em"
    stochastic = True

    def step(self, drift, t0, t1, x, memory, *, generator=None, noise=None):
        h = t1 - t0
        b = drift.velocity(t0, x)
        if self.diffusion is None:
            return x + h * b
        tt = as_time(t0).to(x)
        eps = self.diffusion(tt)
        v0 = drift.schedule(tt)
        eta_z = eta_z_from_velocity(v0, x, b)
        if noise is None:
            noise = drift.sample_base(tuple(x.shape), generator=generator, like=x)
        return x + h * (b - (eps / v0.alpha) * eta_z) + torch.sqrt(2 * eps * h) * noise


SOLVERS: dict[str, type[Solver]] = {
    "euler": Euler,
    "heun": Heun,
    "midpoint": Midpoint,
    "rk4": RK4,
    "rk4-38": RK4ThreeEighths,
    "expint1": ExpInt1,
    "expint2": ExpInt2,
    "em": EulerMaruyama,
}


def make_diffusion(spec: str, schedule: Schedule) -> Callable[[Tensor], Tensor] | None:
    """ε(t) from ``0`` (none: the ODE), ``const:c`` or ``optimal`` (ε* = α²β̇/β − αα̇)."""
    name, _, arg = spec.partition(":")
    if name in ("0", "none"):
        return None
    if name == "const":
        try:
            c = float(arg)
        except ValueError:
            raise ConfigError(f"diffusion {spec!r}: expected const:<number>", hint="e.g. --diffusion const:0.5") from None
        if not (math.isfinite(c) and c >= 0):
            raise ConfigError(f"diffusion constant must be ≥ 0, got {c}")
        return lambda t: torch.full_like(t, c)
    if name == "optimal":
        return lambda t: eps_star(schedule(t))
    raise ConfigError(f"unknown diffusion {spec!r}", hint="use 0, const:c or optimal")


def make_solver(name: str, *, diffusion: Callable[[Tensor], Tensor] | None = None) -> Solver:
    """Instantiate a solver by registry name (``diffusion`` is used by ``em`` only)."""
    if name not in SOLVERS:
        raise ConfigError(f"unknown solver {name!r}", hint=f"choose one of {', '.join(SOLVERS)}")
    return EulerMaruyama(diffusion) if name == "em" else SOLVERS[name]()


GRIDS = ("uniform", "logsnr")


def time_grid(kind: str, steps: int, t_min: float, t_max: float, schedule: Schedule | None = None) -> Tensor:
    """Increasing float64 time grid with ``steps`` intervals from t_min to t_max.

    ``uniform``: equal steps in t. ``logsnr``: equal steps in log(β/α) of ``schedule``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}", hint="steps counts grid intervals, e.g. 19")
    if not (0.0 <= t_min < t_max <= 1.0):
        raise ConfigError(f"need 0 ≤ t-min < t-max ≤ 1, got t-min={t_min}, t-max={t_max}")
    if kind == "uniform":
        ts = torch.linspace(t_min, t_max, steps + 1, dtype=torch.float64)
    elif kind == "logsnr":
        if schedule is None:
            raise ConfigError("the logsnr grid needs a schedule")
        if t_min <= 0.0 or t_max >= 1.0:
            raise ConfigError("the logsnr grid needs 0 < t-min and t-max < 1 (log-SNR is infinite at the ends)")
        ends = schedule.log_snr(torch.tensor([t_min, t_max], dtype=torch.float64))
        ts = schedule.time_at_log_snr(torch.linspace(float(ends[0]), float(ends[1]), steps + 1, dtype=torch.float64))
    else:
        raise ConfigError(f"unknown grid {kind!r}", hint=f"choose one of {', '.join(GRIDS)} or a grid file")
    ts[0], ts[-1] = t_min, t_max
    if not bool((torch.diff(ts) > 0).all()):
        raise ConfigError("time grid is not strictly increasing", hint="use fewer steps or a wider [t-min, t-max]")
    return ts


class SolveResult(NamedTuple):
    x: Tensor
    nfe: int


def integrate(
    drift: Drift,
    solver: Solver,
    x: Tensor,
    ts: Tensor,
    *,
    generator: torch.Generator | None = None,
    noises: list[Tensor] | None = None,
    callback: Callable[[int, float, Tensor], None] | None = None,
) -> SolveResult:
    """Run ``solver`` over the grid ``ts`` (len steps+1) from state ``x`` at ts[0].

    Args:
        drift: the field to integrate.
        x: (batch, ...) initial states (base samples at t = ts[0]).
        ts: increasing time grid.
        noises: optional per-step noise tensors for stochastic solvers (reproducible comparisons).
        callback: called as callback(step_index, t1, x) after every step.

    Returns:
        final states and the number of drift evaluations.
    """
    counted = CountingDrift(drift)
    memory: dict = {}
    times = [float(t) for t in ts]
    for i, (t0, t1) in enumerate(zip(times[:-1], times[1:])):
        noise = None if noises is None else noises[i]
        x = solver.step(counted, t0, t1, x, memory, generator=generator, noise=noise)
        if callback is not None:
            callback(i, t1, x)
    return SolveResult(x, counted.calls)
