"""A point-source drift as a :class:`~sictl.core.sampling.drift.Drift` (arXiv 2403.13724).

The forecasting SDE for any diffusion coefficient g is dX = b^g dt + g dW from X_0 = x0, with
b^g = b + ½(g² − σ²) s (s = ∇log ρ_t(x | x0)). Writing ε = g²/2 and v = b − ½σ² s,

    b^g = v + ε s,   g dW = √(2ε) dW,

which is the SDE every stochastic solver already integrates, dX = (v + ε s) dt + √(2ε) dW. So a
point-source drift answers :meth:`~PointSourceDrift.velocity` with v (the probability-flow velocity:
an ODE solver integrates g = 0) and :meth:`~PointSourceDrift.preconditioned_score` with s, sets
``score_from_velocity = False`` (its score is not the Gaussian-base one), and ``em`` with
``diffusion = ε(t) = g²(t)/2`` (:func:`sictl.core.interpolants.point_source.point_source_diffusion`)
takes the step x + h b^g + g √h n — exactly Euler–Maruyama for dX = b^g dt + g dW. The Gaussian-base
SDE path is unchanged.

The process starts at the point x0: :meth:`~PointSourceDrift.sample_base` returns the bound starts
(x0 = the current state, or 0 for the zero source) and :meth:`~PointSourceDrift.sample_noise` the white
(or spectral) increments. A drift is bound to one batch of conditions (one per sample).

At t = 0 the law is the point mass at x0: the velocity there is b_0(x0, x0) (the convention of
arXiv 2403.13724) and the score 0, so a first em step from t = 0 is x0 + h b_0 + g(0) √h n.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sictl.core.interpolants.base import as_time
from sictl.core.interpolants.conversions import point_source_score, retuned_drift
from sictl.core.interpolants.point_source import PointSourceSchedule, forecast_from_endpoint, source_endpoints
from sictl.core.sampling.drift import Drift
from sictl.core.sampling.noise import WhiteNoise
from sictl.errors import ConfigError

__all__ = ["PointSourceDrift"]


class PointSourceDrift(Drift):
    """The drift b_t(x, x0) of a point-source interpolant, bound to a batch of conditions.

    Subclasses implement :meth:`drift` (a trained network, or an exact closed form) and may override
    :meth:`score` (default: from the drift, arXiv 2403.13724 eq. 10) with a closed form.

    Args:
        schedule: the point-source schedule (α, β, σ) the drift is defined under.
        condition: (batch, ...) current states, one per sample (batch 1 broadcasts).
        source: ``state`` (X_0 = condition, the forecast is X_1) or ``zero`` (X_0 = 0, the forecast is
            condition + X_1).
        noise: the law of ξ and of the SDE increments (``sample(shape, *, generator, like)``); white
            unit noise by default.
    """

    score_from_velocity = False
    has_score = True

    def __init__(self, schedule: PointSourceSchedule, condition: Tensor, source: str = "state", noise=None):
        if not isinstance(schedule, PointSourceSchedule):
            raise ConfigError(f"a point-source drift needs a point-source schedule, got {schedule.describe()['name']!r}",
                              hint="use lin-beta, beta-t2, beta-2t2, beta-3t2, follmer-g-1 or g-sqrt1-t")
        self.schedule, self.condition, self.source = schedule, condition, source
        self.start = source_endpoints(source, condition, condition)[0]  # x0: the condition, or 0
        self.noise = WhiteNoise() if noise is None else noise
        self._cache: tuple | None = None

    # -- what a subclass provides -----------------------------------------------------------------------
    def drift(self, t: float | Tensor, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        """b_t(x, x0) for a scalar t and states x: (batch, ...)."""
        raise NotImplementedError

    def score(self, t: float | Tensor, x: Tensor, b: Tensor | None = None) -> Tensor:
        """Preconditioned score Q ∇log ρ_t(x | x0) (Q the covariance of ξ; I for white ξ), shape of x.

        Default: A(βb − c) from the drift (arXiv 2403.13724, eq. 10), valid for white ξ; 0 at t = 0.
        """
        if float(t) == 0.0:
            return torch.zeros_like(x)
        b = self.drift(t, x) if b is None else b
        tt = as_time(float(t))
        sigma, sigma_dot = self.schedule.sigma(tt)
        x0 = self.start.to(x)
        return point_source_score(tt, self.schedule(tt), sigma, sigma_dot, x, x0, b).to(x.dtype)

    # -- the Drift interface ----------------------------------------------------------------------------
    def _fields(self, t, x) -> tuple[Tensor, Tensor]:
        """(b, s) at (t, x); subclasses with a closed form may compute both at once."""
        b = self.drift(t, x)
        return b, self.score(t, x, b)

    def velocity(self, t, x):
        """v = b − ½σ² s, the probability-flow velocity (b itself at t = 0)."""
        b, s = self._fields(t, x)
        self._cache = (float(t), x, s)
        sigma = float(self.schedule.sigma(as_time(float(t)))[0])
        return b if float(t) == 0.0 else retuned_drift(b, s, 0.0, sigma * sigma)

    def preconditioned_score(self, t, x, b=None):
        """s at (t, x): the one computed with the velocity at the same (t, x) when there was one."""
        cached = self._cache
        if cached is not None and cached[0] == float(t) and cached[1] is x:
            return cached[2]
        return self._fields(t, x)[1]

    def retuned(self, t: float | Tensor, x: Tensor, g2: float) -> Tensor:
        """b^g = b + ½(g² − σ²) s at (t, x) for g² = ``g2`` (the drift the SDE with diffusion g follows)."""
        b, s = self._fields(t, x)
        sigma = float(self.schedule.sigma(as_time(float(t)))[0])
        return b if float(t) == 0.0 else retuned_drift(b, s, g2, sigma * sigma)

    def sample_base(self, shape, *, generator, like):
        """The starts x0 of the bound conditions, as a new tensor of ``shape`` (batch, ...)."""
        start = self.start
        if start.shape[0] == 1 and shape[0] != 1:
            start = start.expand(shape[0], *start.shape[1:])
        if tuple(start.shape) != tuple(shape):
            raise ValueError(f"the drift is bound to conditions of shape {tuple(self.start.shape)}, asked for {tuple(shape)}")
        return start.to(device=like.device, dtype=like.dtype).clone()

    def sample_noise(self, shape, *, generator, like):
        return self.noise.sample(shape, generator=generator, like=like)

    def forecast(self, x1: Tensor) -> Tensor:
        """The forecast from the endpoint X_1: X_1 (``state`` source) or condition + X_1 (``zero``)."""
        return forecast_from_endpoint(self.source, self.condition.to(x1), x1)
