"""Time grids for fixed-step sampling: uniform in t, or uniform in the schedule's log-SNR."""

from __future__ import annotations

import torch
from torch import Tensor

from sictl.core.interpolants.schedules import Schedule
from sictl.errors import ConfigError

__all__ = ["GRIDS", "time_grid"]

GRIDS = ("uniform", "logsnr")


def time_grid(kind: str, steps: int, t_min: float, t_max: float, schedule: Schedule | None = None) -> Tensor:
    """Increasing float64 time grid with ``steps`` intervals from t_min to t_max.

    ``uniform``: equal steps in t. ``logsnr``: equal steps in log(β/α) of ``schedule``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}", hint="steps counts grid intervals, e.g. 19")
    if not (0.0 <= t_min < t_max <= 1.0):
        raise ConfigError(f"need 0 ≤ t-min < t-max ≤ 1, got t-min={t_min}, t-max={t_max}",
                          hint="the defaults are --t-min 1e-4 --t-max 0.9999")
    if kind == "uniform":
        ts = torch.linspace(t_min, t_max, steps + 1, dtype=torch.float64)
    elif kind == "logsnr":
        if schedule is None:
            raise ConfigError("the logsnr grid needs a schedule", hint="pass the sampling schedule, or use the uniform grid")
        if t_min <= 0.0 or t_max >= 1.0:
            raise ConfigError("the logsnr grid needs 0 < t-min and t-max < 1 (log-SNR is infinite at the ends)",
                              hint="e.g. --t-min 1e-4 --t-max 0.9999 (the defaults)")
        ends = schedule.log_snr(torch.tensor([t_min, t_max], dtype=torch.float64))
        ts = schedule.time_at_log_snr(torch.linspace(float(ends[0]), float(ends[1]), steps + 1, dtype=torch.float64))
    else:
        raise ConfigError(f"unknown grid {kind!r}", hint=f"choose one of {', '.join(GRIDS)} or a grid file")
    ts[0], ts[-1] = t_min, t_max
    if not bool((torch.diff(ts) > 0).all()):
        raise ConfigError("time grid is not strictly increasing", hint="use fewer steps or a wider [t-min, t-max]")
    return ts
