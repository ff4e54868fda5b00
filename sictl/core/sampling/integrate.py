"""The one integration loop: every sampling path (exact drifts, transfer, mixtures, networks) runs here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from sictl.core.sampling.drift import CountingDrift, Drift
from sictl.core.sampling.solvers import Solver
from sictl.errors import ConfigError

__all__ = ["integrate", "SolveResult", "check_compatible"]


class SolveResult(NamedTuple):
    x: Tensor
    nfe: int


def check_compatible(drift: Drift, solver: Solver) -> None:
    """Refuse, before any work, a solver that needs what the drift cannot give (a score)."""
    if solver.needs_score and not drift.has_score:
        raise ConfigError(f"solver {solver.name!r} with a diffusion needs the score of the drift, and this drift "
                          f"({type(drift).__name__}) has none",
                          hint="use an ODE solver (e.g. --solver rk4-38), or --diffusion 0")


def integrate(
    drift: Drift,
    solver: Solver,
    x: Tensor,
    ts: Tensor,
    *,
    generator: torch.Generator | None = None,
    noises: Sequence[Tensor] | Callable[[int], Tensor] | None = None,
    callback: Callable[[int, float, Tensor], None] | None = None,
) -> SolveResult:
    """Run ``solver`` over the grid ``ts`` (len steps+1) from state ``x`` at ts[0].

    Args:
        drift: the field to integrate.
        solver: any registered solver; one that needs a score gets it from the drift.
        x: (batch, ...) initial states (base samples at t = ts[0]). Never modified.
        ts: increasing time grid.
        generator: draws the Gaussian increments of a stochastic solver when ``noises`` is None.
        noises: the increments of a stochastic solver, one per step (shape of x), as a sequence or a
            callable ``noises(step_index)``; ignored by ODE solvers (the callable is not called).
        callback: called as callback(step_index, t1, x) after every step.

    Returns:
        final states and the number of drift evaluations per sample path.
    """
    check_compatible(drift, solver)
    counted = CountingDrift(drift)
    memory: dict = {}
    times = [float(t) for t in ts]
    for i, (t0, t1) in enumerate(zip(times[:-1], times[1:])):
        noise = None
        if solver.stochastic and noises is not None:
            noise = noises(i) if callable(noises) else noises[i]
            noise = noise.to(device=x.device, dtype=x.dtype)
        x = solver.step(counted, t0, t1, x, memory, generator=generator, noise=noise)
        if callback is not None:
            callback(i, t1, x)
    return SolveResult(x, counted.calls)
