"""Diffusion coefficients ε(t) of the generative SDE dX = (b + ε s) dt + √(2ε) dW.

Every ε ≥ 0 gives the same marginals; ε* = α²β̇/β − αα̇ minimises the path KL of an estimated
drift (arXiv 2509.01629, §2).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from sictl.core.interpolants.conversions import optimal_diffusion
from sictl.core.interpolants.schedules import Schedule
from sictl.errors import ConfigError

__all__ = ["make_diffusion", "DIFFUSIONS"]

#: The named diffusion coefficients ``make_diffusion`` understands.
DIFFUSIONS = ("0", "const:c", "optimal")


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
            raise ConfigError(f"diffusion constant must be ≥ 0, got {c}", hint="e.g. --diffusion const:0.5, or optimal for ε*")
        return lambda t: torch.full_like(t, c)
    if name == "optimal":
        return lambda t: optimal_diffusion(schedule, t)
    raise ConfigError(f"unknown diffusion {spec!r}", hint="use 0, const:c or optimal")
