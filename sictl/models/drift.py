"""A trained network as a drift: the same interface as the exact drifts, so every solver runs it.

The network predicts either the velocity b(t, x) (``target="velocity"``) or the data denoiser
η_x = E[x1 | x_t = x] (``target="denoiser"``), from which b = (α̇/α) x + (W/α) η_x exactly
(arXiv 2303.08797). Its base noise is the one it was trained with, so the preconditioned score
−η_z/α follows from the velocity and Euler–Maruyama works unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sictl.core.interpolants.conversions import velocity_from_eta_x
from sictl.core.interpolants.schedules import Schedule, as_time
from sictl.core.sampling.drift import Drift

__all__ = ["NetworkDrift", "TARGETS"]

#: What a network may be trained to predict.
TARGETS = ("velocity", "denoiser")


class NetworkDrift(Drift):
    """b(t, x) from a network ``net(t, x, cond=None)``.

    Args:
        net: the network (put in eval mode here); its parameters' dtype is the arithmetic dtype.
        schedule: the schedule it was trained under.
        base: the base-noise law it was trained with (``sample(shape, generator=, like=)``).
        target: ``velocity`` or ``denoiser``.
        cond: optional conditioning channels (batch, cond_channels, *spatial), passed to the network.
    """

    def __init__(self, net: nn.Module, schedule: Schedule, base, target: str = "velocity", cond: Tensor | None = None):
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        self.net, self.schedule, self.base, self.target, self.cond = net.eval(), schedule, base, target, cond
        self.dtype = next(net.parameters()).dtype

    @torch.no_grad()
    def velocity(self, t, x: Tensor) -> Tensor:
        """(batch, C, *spatial) or (batch, D) → same shape, in x's dtype."""
        return self.differentiable_velocity(t, x)

    def differentiable_velocity(self, t, x: Tensor) -> Tensor:
        """:meth:`velocity` with autograd enabled (Jacobian products, :mod:`sictl.models.jacobian`)."""
        tt = torch.full((x.shape[0],), float(t), dtype=self.dtype, device=x.device)
        out = self.net(tt, x.to(self.dtype), cond=self.cond).to(x.dtype)
        if self.target == "denoiser":
            v = self.schedule(as_time(float(t)))
            out = velocity_from_eta_x(type(v)(*(q.to(x) for q in v)), x, out)
        return out

    def sample_base(self, shape, *, generator, like):
        return self.base.sample(shape, generator=generator, like=like)
