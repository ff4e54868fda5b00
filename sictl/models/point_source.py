"""A trained forecasting network as a point-source drift (arXiv 2403.13724).

The network ``net(t, x, cond)`` was trained on b_t(x, x0) with the current state as its conditioning
channel(s) (:class:`sictl.train.point_source.PointSourceObjective`); bound to a batch of conditions it
is a :class:`~sictl.core.sampling.point_source.PointSourceDrift`, whose score (from the drift,
arXiv 2403.13724 eq. 10) and retuning b^g = b + ½(g² − σ²) s let any g be used at sampling time.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sictl.core.interpolants.point_source import PointSourceSchedule
from sictl.core.sampling.point_source import PointSourceDrift

__all__ = ["NetworkPointSourceDrift"]


class NetworkPointSourceDrift(PointSourceDrift):
    """b_t(x, x0) = net(t, x, cond = condition).

    Args:
        net: the trained network (put in eval mode); its parameters' dtype is the arithmetic dtype.
        schedule: the point-source schedule it was trained under.
        condition: (batch, C, *spatial) current states, one per sample (normalised units).
        source: ``state`` or ``zero``.
        noise: the law of ξ it was trained with (white by default).
    """

    def __init__(self, net: nn.Module, schedule: PointSourceSchedule, condition: Tensor, source: str = "state", noise=None):
        super().__init__(schedule, condition, source, noise)
        self.net = net.eval()
        self.dtype = next(net.parameters()).dtype

    @torch.no_grad()
    def drift(self, t, x: Tensor) -> Tensor:
        tt = torch.full((x.shape[0],), float(t), dtype=self.dtype, device=x.device)
        cond = self.condition.to(device=x.device, dtype=self.dtype)
        if cond.shape[0] == 1 and x.shape[0] != 1:
            cond = cond.expand(x.shape[0], *cond.shape[1:])
        return self.net(tt, x.to(self.dtype), cond=cond).to(x.dtype)
