"""Diffusion coefficients ε(t) of the generative SDE dX = (b + ε s) dt + √(2ε) dW.

Every ε ≥ 0 gives the same marginals; ε* = α²β̇/β − αα̇ minimises the path KL of an estimated
drift (arXiv 2509.01629, §2).

A tabulated coefficient (:class:`TabulatedDiffusion`) gives g(t) at nodes, read from a file by
:func:`sictl.io.read_diffusion_table`; between nodes g is interpolated linearly and ε = g²/2 (the SDE
dX = … dt + g dW), for the Gaussian-base SDE and for point-source forecasts alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from sictl.core.interpolants.conversions import optimal_diffusion
from sictl.core.interpolants.schedules import Schedule
from sictl.errors import ConfigError

__all__ = ["make_diffusion", "DIFFUSIONS", "TabulatedDiffusion"]

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


class TabulatedDiffusion:
    """g(t) given at nodes t_0 < … < t_n (g ≥ 0), linear in between; ε(t) = g(t)²/2.

    Linear interpolation of a C² coefficient errs by at most h²/8 · max|g''| on a node interval of
    width h. Outside [t_0, t_n] it is not defined: :meth:`covers` says whether a sampling window lies
    inside, and evaluating outside raises.

    Args:
        t, g: 1-D sequences of the same length ≥ 2 (t strictly increasing, both finite, g ≥ 0).
        label: how descriptions name it (e.g. the file it came from).
    """

    def __init__(self, t, g, *, label: str = "table"):
        self.t = torch.as_tensor(t, dtype=torch.float64).flatten()
        self.values = torch.as_tensor(g, dtype=torch.float64).flatten()
        self.label = label
        ok = (self.t.numel() >= 2 and self.t.shape == self.values.shape and bool(torch.isfinite(self.t).all())
              and bool(torch.isfinite(self.values).all()) and bool((torch.diff(self.t) > 0).all())
              and bool((self.values >= 0).all()))
        if not ok:
            raise ConfigError(f"diffusion table {label}: need ≥ 2 finite nodes, t strictly increasing and g ≥ 0",
                              hint="write columns t and g, e.g. t = 0, 0.01, …, 1")

    def covers(self, t_min: float, t_max: float) -> bool:
        """Whether [t_min, t_max] lies within the nodes (to 1e-12)."""
        return float(self.t[0]) <= t_min + 1e-12 and float(self.t[-1]) >= t_max - 1e-12

    def g(self, t: float | Tensor) -> Tensor:
        """g(t), linear between nodes, float64 with the shape of ``t``."""
        tt = torch.as_tensor(t, dtype=torch.float64)
        lo, hi = float(self.t[0]), float(self.t[-1])
        if bool(((tt < lo - 1e-12) | (tt > hi + 1e-12)).any()):
            raise ConfigError(f"diffusion table {self.label} covers t ∈ [{lo:g}, {hi:g}], asked at t outside it",
                              hint="tabulate g over the whole sampling window [--t-min, --t-max]")
        flat = tt.reshape(-1).clamp(lo, hi)
        i = torch.searchsorted(self.t, flat, right=True).clamp(1, self.t.numel() - 1)
        t0, t1 = self.t[i - 1], self.t[i]
        w = (flat - t0) / (t1 - t0)
        return ((1 - w) * self.values[i - 1] + w * self.values[i]).reshape(tt.shape)

    def g2(self, t: float | Tensor) -> Tensor:
        """g(t)²."""
        return self.g(t) ** 2

    def epsilon(self, t: float | Tensor) -> Tensor:
        """ε(t) = g(t)²/2, the coefficient a stochastic solver takes."""
        return 0.5 * self.g2(t)

    def describe(self) -> dict:
        return {"name": "table", "path": self.label, "nodes": int(self.t.numel()),
                "t": [float(self.t[0]), float(self.t[-1])]}
