"""Schedule transfer: the drift of one schedule written through the drift of another.

Match signal-to-noise ratios (arXiv 2509.01629; docs/math.md, "Schedule transfer"): for the new schedule (α, β) at time t
find s(t) with β'(s)/α'(s) = β(t)/α(t) under the old schedule (α', β'), and the scale
c(t) = α(t)/α'(s) = β(t)/β'(s). Then x_t = c · x'_s as random variables, so

    η(t, x)  = η'(s, x / c)                       (denoisers, either one)
    b(t, x)  = (ċ/c) x + c ṡ b'(s, x / c)           (velocity, scale–time form)

with ṡ = W(t) α'(s)² / (W'(s) α(t)²) and ċ/c = α̇/α − ṡ α̇'(s)/α'(s), W = αβ̇ − α̇β.
The inverse time map uses the old schedule's closed inverse of log(β/α) where it has one and a
safeguarded bisection otherwise (:meth:`Schedule.time_at_log_snr`), so any pair of schedules works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from sictl.core.interpolants.conversions import wronskian
from sictl.core.interpolants.schedules import Schedule, as_time

__all__ = ["TimeMap", "transfer_time", "transfer_velocity", "transfer_denoiser"]

Field = Callable[[Tensor, Tensor], Tensor]


class TimeMap(NamedTuple):
    """Where and how to evaluate the old drift: s(t), c(t), ṡ(t), ċ(t)/c(t)."""

    s: Tensor
    c: Tensor
    s_dot: Tensor
    log_c_dot: Tensor


def transfer_time(old: Schedule, new: Schedule, t: float | Tensor) -> TimeMap:
    """The SNR-matching time map from the new schedule's time t to the old schedule's time s.

    Args:
        old: schedule the drift is defined under.
        new: schedule to sample with.
        t: times of the new schedule, any shape, strictly inside (0, 1).
    """
    t = as_time(t)
    v = new(t)
    s, w = old.at_log_snr(torch.log(v.beta) - torch.log(v.alpha))
    c = v.alpha / w.alpha
    s_dot = wronskian(v) * w.alpha**2 / (wronskian(w) * v.alpha**2)
    # c² = α²/α'² = β²/β'² = (α² + β²)/(α'² + β'²), so ċ/c = ½ d/dt log(α² + β²) − ṡ ½ d/ds log(α'² + β'²):
    # bounded terms, no cancellation of the α̇/α ~ 1/(1 − t) singularities near the data end.
    aad, bbd = new.half_square_rates(t)
    aad_o, bbd_o = old.half_square_rates(s)
    log_c_dot = (aad + bbd) / (v.alpha**2 + v.beta**2) - s_dot * (aad_o + bbd_o) / (w.alpha**2 + w.beta**2)
    return TimeMap(s, c, s_dot, log_c_dot)


def transfer_velocity(old_velocity: Field, old: Schedule, new: Schedule, t: float | Tensor, x: Tensor) -> Tensor:
    """Velocity under ``new`` from a velocity field ``old_velocity(s, y)`` defined under ``old``.

    Args:
        old_velocity: callable (s, y) → b'(s, y), ``y`` shaped like ``x``.
        t: a scalar time of the new schedule (the whole batch shares it).
        x: (batch, ...) states.
    """
    m = transfer_time(old, new, t)
    return m.log_c_dot * x + m.c * m.s_dot * old_velocity(m.s, x / m.c)


def transfer_denoiser(old_denoiser: Field, old: Schedule, new: Schedule, t: float | Tensor, x: Tensor) -> Tensor:
    """A denoiser (η_x or η_z) under ``new`` from one defined under ``old``: η(t, x) = η'(s, x/c)."""
    m = transfer_time(old, new, t)
    return old_denoiser(m.s, x / m.c)
