"""The point-source (forecasting) objective (arXiv 2403.13724).

A training example is a pair (current, future) of states a lag apart. With the source's endpoints
(x0, x1) (:func:`sictl.core.interpolants.point_source.source_endpoints`: ``state`` = (current, future),
``zero`` = (0, future − current)) and ξ from the noise law (white or spectral),

    x_t = α x0 + β x1 + σ √t ξ,   R_t = α̇ x0 + β̇ x1 + σ̇ √t ξ,

the network b_θ(t, x_t, cond = current) regresses R_t: the loss of one sample is |b_θ − R_t|² summed
over channels and pixels, or |(1 − t)(b_θ − R_t)|² with ``weighted`` (the residual times (1 − t)
before squaring, which tames the σ̇ √t ξ variance near t = 1). The batch loss is the mean over samples.

It has the interface of :class:`sictl.train.objectives.Objective` (``step_draws``,
``validation_draws``, ``per_sample_loss``), so :class:`sictl.train.loop.Trainer` runs it unchanged:
the loop's rows are pairs stacked on axis 1, ``(B, 2, C, *spatial)``, and the draws are (t, ξ), the
same deterministic per-step draws as the unconditional objective.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sictl.core.interpolants.point_source import (
    PointSourceSchedule,
    interpolant,
    regression_target,
    source_endpoints,
)
from sictl.train.objectives import Objective

__all__ = ["PointSourceObjective"]


@dataclass
class PointSourceObjective(Objective):
    """Regression of the point-source drift on pairs; ``schedule`` a point-source schedule, ``base`` the law of ξ.

    Attributes (besides :class:`Objective`'s; ``target`` is ``"velocity"``, the drift b):
        source: ``state`` or ``zero``.
        weighted: multiply the residual by (1 − t) before squaring.
    """

    source: str = "zero"
    weighted: bool = False

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.schedule, PointSourceSchedule):
            raise TypeError("a point-source objective needs a point-source schedule")
        source_endpoints(self.source, torch.zeros(1), torch.zeros(1))  # validates the source name

    def pair(self, t: Tensor, z: Tensor, x1: Tensor) -> tuple[Tensor, Tensor]:
        """(x_t, R_t) from draws (t, ξ) and pairs ``x1`` ``(B, 2, *sample)``."""
        current, future = x1[:, 0], x1[:, 1]
        a, b = source_endpoints(self.source, current, future)
        tt = t.to(device=current.device, dtype=torch.float64)
        xi = z.to(device=current.device, dtype=current.dtype)
        return interpolant(self.schedule, tt, a, b, xi), regression_target(self.schedule, tt, a, b, xi)

    def per_sample_loss(self, model: nn.Module, t: Tensor, z: Tensor, x1: Tensor, *,
                        autocast: Callable[[], AbstractContextManager] | None = None) -> Tensor:
        """``(B,)`` float32 losses of pairs ``x1`` ``(B, 2, *sample)``; the condition is the current state."""
        xt, target = self.pair(t, z, x1)
        tt = t.to(device=x1.device, dtype=torch.float32)
        with (autocast or nullcontext)():
            out = model(tt, xt, cond=x1[:, 0])
        err = out.float() - target.float()
        if self.weighted:
            err = err * (1 - tt).reshape(-1, *([1] * (err.ndim - 1)))
        return err.square().flatten(1).sum(dim=1)

    def describe(self) -> dict:
        return {**super().describe(), "source": self.source, "weighted_loss": self.weighted}
