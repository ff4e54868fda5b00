"""The drift interface that every solver integrates, and the wrappers that act on any drift.

A :class:`Drift` knows its schedule and gives the velocity b(t, x); the noise denoiser and the
score follow exactly from it (:mod:`sictl.core.interpolants.conversions`) for an interpolant with a
Gaussian base. Solvers only see this interface, so exact drifts (:mod:`sictl.core.exact`) and trained
networks (:mod:`sictl.models`) plug in alike, and :class:`TransferredDrift` re-times any drift to
another schedule without retraining.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from sictl.core.interpolants.conversions import eta_z_from_velocity
from sictl.core.interpolants.schedules import Schedule, as_time
from sictl.core.interpolants.transfer import transfer_velocity
from sictl.core.sampling.noise import WhiteNoise

__all__ = ["Drift", "TransferredDrift", "CountingDrift", "VelocityFn"]


class Drift:
    """Velocity field of an interpolant with a Gaussian base N(0, C0).

    Subclasses set :attr:`schedule` and implement :meth:`velocity`; they may override
    :meth:`sample_base` (default: white unit noise) for a non-identity C0.

    A drift answers for its score. With a Gaussian base the preconditioned score C0 ∇log ρ_t = −η_z/α
    follows exactly from the velocity (:attr:`score_from_velocity`), which lets Euler–Maruyama fuse it
    into its step. A drift whose score does not follow from its velocity overrides
    :meth:`preconditioned_score`; one that has none sets :attr:`has_score` to False, and a solver that
    needs a score refuses it (:func:`sictl.core.sampling.integrate.integrate`).
    """

    schedule: Schedule
    #: The preconditioned score is −η_z/α with η_z from the velocity (Gaussian base).
    score_from_velocity: bool = True
    #: Whether :meth:`preconditioned_score` is available at all.
    has_score: bool = True

    def velocity(self, t: float | Tensor, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        """b(t, x) for a scalar time t and states x: (batch, ...)."""
        raise NotImplementedError

    def eta_z(self, t: float | Tensor, x: Tensor, b: Tensor | None = None) -> Tensor:
        """E[z | x_t = x] from the velocity (pass ``b`` if already computed)."""
        b = self.velocity(t, x) if b is None else b
        return eta_z_from_velocity(self.schedule(as_time(t).to(x)), x, b)

    def preconditioned_score(self, t: float | Tensor, x: Tensor, b: Tensor | None = None) -> Tensor:
        """C0 ∇log ρ_t(x) = −η_z/α, shape of x (pass the velocity ``b`` at (t, x) if already computed)."""
        return self.eta_z(t, x, b) / -float(self.schedule(as_time(t)).alpha)

    def sample_base(self, shape: tuple[int, ...], *, generator: torch.Generator | None, like: Tensor) -> Tensor:
        """A draw of the base noise z ~ N(0, C0) of the given shape (white unit noise unless overridden;
        the laws are in :mod:`sictl.core.sampling.noise`)."""
        return WhiteNoise().sample(shape, generator=generator, like=like)

    def sample_noise(self, shape: tuple[int, ...], *, generator: torch.Generator | None, like: Tensor) -> Tensor:
        """The Gaussian increment n ~ N(0, C0) of one stochastic step (the SDE's noise is √(2ε) C0^{1/2} dW).

        For a Gaussian base it is a base draw (:meth:`sample_base`); a drift whose process starts elsewhere
        (a point source: :class:`sictl.core.sampling.point_source.PointSourceDrift`) overrides it.
        """
        return self.sample_base(shape, generator=generator, like=like)


class TransferredDrift(Drift):
    """A drift defined under one schedule, evaluated under another by SNR matching (§3 transfer)."""

    def __init__(self, source: Drift, schedule: Schedule):
        self.source = source
        self.schedule = schedule
        # the transferred field is again a Gaussian-base velocity under the new schedule
        self.has_score = source.has_score

    def velocity(self, t, x):
        return transfer_velocity(self.source.velocity, self.source.schedule, self.schedule, t, x)

    def sample_base(self, shape, *, generator, like):
        return self.source.sample_base(shape, generator=generator, like=like)

    def sample_noise(self, shape, *, generator, like):
        return self.source.sample_noise(shape, generator=generator, like=like)


class CountingDrift(Drift):
    """Wraps a drift and counts velocity evaluations (the NFE recorded in every output)."""

    def __init__(self, inner: Drift):
        self.inner = inner
        self.schedule = inner.schedule
        self.score_from_velocity, self.has_score = inner.score_from_velocity, inner.has_score
        self.calls = 0

    def velocity(self, t, x):
        self.calls += 1
        return self.inner.velocity(t, x)

    def preconditioned_score(self, t, x, b=None):
        if b is None and self.score_from_velocity:
            b = self.velocity(t, x)  # counted
        return self.inner.preconditioned_score(t, x, b)

    def sample_base(self, shape, *, generator, like):
        return self.inner.sample_base(shape, generator=generator, like=like)

    def sample_noise(self, shape, *, generator, like):
        return self.inner.sample_noise(shape, generator=generator, like=like)


VelocityFn = Callable[[Tensor, Tensor], Tensor]
