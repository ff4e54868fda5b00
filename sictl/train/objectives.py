"""Training objectives of a stochastic interpolant ``x_t = α(t) z + β(t) x1`` (arXiv 2303.08797).

* ``velocity``: regress b_θ(t, x_t) on R_t = α̇(t) z + β̇(t) x1, whose conditional mean is the
  drift b(t, x) = E[R_t | x_t = x] (arXiv 2509.01629, the authors' loss);
* ``denoiser``: regress η_θ(t, x_t) on x1, whose conditional mean is η_x(t, x) = E[x1 | x_t = x];
  the drift follows as b = α̇ η_z + β̇ η_x with η_z = (x − β η_x)/α
  (:func:`sictl.core.interpolants.conversions.velocity_from_eta_x`).

The loss of one sample is the squared error **summed** over channels and pixels; a batch's loss is
the mean over its samples (as the authors). Times are uniform on ``[t_min, t_max]``; the base noise
z comes from a base-noise law of :mod:`sictl.core.sampling.noise` (white or spectral), the same law
``sictl sample`` draws from.

Randomness: step k draws the times and noises of the whole **global** batch from one generator seeded
by ``SeedSequence([seed, DRAWS, k])`` (times first, then noise, on the CPU in float64/float32), and
each rank keeps its slice, so the draws do not depend on the number of processes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sictl.core.interpolants.schedules import Schedule
from sictl.train.data import DRAWS, VALIDATION, seed_generator

__all__ = ["TARGETS", "Objective"]

TARGETS = ("velocity", "denoiser")


def _expand(v: Tensor, like: Tensor) -> Tensor:
    """(B,) → (B, 1, ..., 1) broadcasting against ``like`` (B, *sample)."""
    return v.reshape(v.shape[0], *([1] * (like.ndim - 1)))


@dataclass
class Objective:
    """What the network learns, on which path, from which base noise.

    Attributes:
        target: ``"velocity"`` or ``"denoiser"``.
        schedule: α, β of the path (evaluated in float64).
        base: a base-noise law with ``sample(shape, *, generator, like)`` (``FourierNoise``,
            ``WhiteNoise``, ``DiagonalNoise``).
        sample_shape: one sample's shape, ``(C, *spatial)`` or ``(dim,)``.
        t_min, t_max: training times are uniform on ``[t_min, t_max]``.
    """

    target: str
    schedule: Schedule
    base: object
    sample_shape: tuple[int, ...]
    t_min: float = 1e-4
    t_max: float = 1 - 1e-4

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if not 0 <= self.t_min < self.t_max <= 1:
            raise ValueError(f"need 0 ≤ t_min < t_max ≤ 1, got {self.t_min}, {self.t_max}")
        self._like = torch.empty(0, dtype=torch.float32)

    def draw(self, generator: torch.Generator, batch: int) -> tuple[Tensor, Tensor]:
        """Times ``(batch,)`` float64 and base noise ``(batch, *sample_shape)`` float32, on the CPU."""
        t = self.t_min + (self.t_max - self.t_min) * torch.rand(batch, generator=generator, dtype=torch.float64)
        z = self.base.sample((batch, *self.sample_shape), generator=generator, like=self._like)
        return t, z

    def step_draws(self, seed: int, step: int, batch: int) -> tuple[Tensor, Tensor]:
        """The draws of global step ``step`` (0-based) for the whole global batch."""
        return self.draw(seed_generator(seed, DRAWS, step), batch)

    def validation_draws(self, seed: int, n: int) -> tuple[Tensor, Tensor]:
        """Fixed validation times (a stratified grid on [t_min, t_max]) and noises ``(n, *sample)``.

        The same for every evaluation, so validation curves are comparable from step to step.
        """
        t = self.t_min + (self.t_max - self.t_min) * (torch.arange(n, dtype=torch.float64) + 0.5) / n
        _, z = self.draw(seed_generator(seed, VALIDATION), n)
        return t, z

    def pair(self, t: Tensor, z: Tensor, x1: Tensor) -> tuple[Tensor, Tensor]:
        """(x_t, regression target), both shaped like ``x1`` ``(B, *sample)`` in x1's dtype.

        Args:
            t: (B,) float64 times. z, x1: (B, *sample) base noise and data, same device and dtype.
        """
        v = self.schedule(t.to(torch.float64))
        a, b = (_expand(c.to(device=x1.device, dtype=x1.dtype), x1) for c in (v.alpha, v.beta))
        xt = a * z + b * x1
        if self.target == "denoiser":
            return xt, x1
        ad, bd = (_expand(c.to(device=x1.device, dtype=x1.dtype), x1) for c in (v.alpha_dot, v.beta_dot))
        return xt, ad * z + bd * x1

    def per_sample_loss(self, model: nn.Module, t: Tensor, z: Tensor, x1: Tensor, *,
                        autocast: Callable[[], AbstractContextManager] | None = None) -> Tensor:
        """Squared error summed over all non-batch axes: ``(B,)`` float32.

        The network runs inside ``autocast()`` if given (bf16 on CUDA); the error is formed in float32.
        """
        xt, target = self.pair(t, z, x1)
        tt = t.to(device=x1.device, dtype=torch.float32)
        with (autocast or nullcontext)():
            out = model(tt, xt)
        err = out.float() - target.float()
        return err.square().flatten(1).sum(dim=1)

    def describe(self) -> dict:
        return {"target": self.target, "t_min": self.t_min, "t_max": self.t_max}
