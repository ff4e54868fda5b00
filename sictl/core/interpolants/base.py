"""The schedule interface: :class:`ScheduleValues`, :func:`as_time` and the :class:`Schedule` base class.

Convention (docs/math.md): ``x_t = α(t) z + β(t) x1`` with α(0) = β(1) = 1, α(1) = β(0) = 0, α̇ < 0 < β̇.
The named schedules are in :mod:`sictl.core.interpolants.schedules` (Gaussian base) and
:mod:`sictl.core.interpolants.point_source` (point-source forecasting interpolants); both build on
this module only, so neither imports the other's registry at import time.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["Schedule", "ScheduleValues", "as_time"]


class ScheduleValues(NamedTuple):
    """α, β, α̇, β̇ at the requested times (each with the shape of ``t``)."""

    alpha: Tensor
    beta: Tensor
    alpha_dot: Tensor
    beta_dot: Tensor


def as_time(t: float | Tensor) -> Tensor:
    """Turn ``t`` into a floating tensor (float64 for python numbers and integer tensors)."""
    if isinstance(t, Tensor):
        return t if t.is_floating_point() else t.to(torch.float64)
    return torch.tensor(t, dtype=torch.float64)


class Schedule:
    """Base class. Subclasses implement :meth:`__call__`; the rest is derived from it."""

    name: str = "schedule"

    def __call__(self, t: float | Tensor) -> ScheduleValues:  # pragma: no cover - abstract
        raise NotImplementedError

    def half_square_rates(self, t: float | Tensor) -> tuple[Tensor, Tensor]:
        """(α α̇, β β̇) = (½ d(α²)/dt, ½ d(β²)/dt).

        These stay finite where α̇ or β̇ blow up (the designed schedule at t = 0 and 1), so the
        exact Gaussian drift rate can be evaluated on the closed interval. Subclasses with
        singular derivatives override this.
        """
        v = self(t)
        return v.alpha * v.alpha_dot, v.beta * v.beta_dot

    def log_snr(self, t: float | Tensor) -> Tensor:
        """ℓ(t) = log(β/α), increasing from −∞ (t = 0) to +∞ (t = 1)."""
        v = self(t)
        return torch.log(v.beta) - torch.log(v.alpha)

    def time_at_log_snr(self, ell: Tensor) -> Tensor:
        """Inverse of :meth:`log_snr`: the t with log(β/α)(t) = ℓ, elementwise.

        Generic version: safeguarded bisection (the log-SNR is increasing), 200 halvings or until
        the bracket stops shrinking in float64. Schedules with a closed inverse override this.
        """
        ell = torch.as_tensor(ell, dtype=torch.float64)
        lo, hi = torch.zeros_like(ell), torch.ones_like(ell)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if bool(((mid == lo) | (mid == hi)).all()):
                break
            below = self.log_snr(mid) < ell
            lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        return 0.5 * (lo + hi)

    def at_log_snr(self, ell: Tensor) -> tuple[Tensor, ScheduleValues]:
        """(t, values at t) for the t where log(β/α) = ℓ.

        Schedules override this to compute α and β from ℓ directly: near t = 1 the value 1 − t is
        lost to rounding when t is formed first, and the transfer formula needs α accurately there.
        """
        t = self.time_at_log_snr(ell)
        return t, self(t)

    def describe(self) -> dict:
        """JSON-friendly description: ``{"name": ..., **parameters}``."""
        return {"name": self.name}
