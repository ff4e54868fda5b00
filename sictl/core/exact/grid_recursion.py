"""The per-mode recursion of the exponential integrators on a Gaussian target, for many grids at once.

On a Gaussian target diagonal in some basis, with ratio r = λ/μ per mode, every exponential integrator
of :mod:`sictl.core.sampling.solvers` and :mod:`sictl.core.sampling.multistep` (``expint1``, ``expint2``,
``expint3``, ``unipc2``, ``unipc3``, and ``sde-expint1``/``sde-expint2`` with ε = ε* or ε = 0; told apart by
their classes and declared nodes, :func:`recursion_spec`) is linear
in its state: the data denoiser is η_x(t, x) = e(t) x with e = β r/(α² + β² r), and a step is

    x1 = (α1/α0) e^{−K} x0 + β1 Σ_j c_j e_j x_j + α1 √(1 − e^{−2K}) √μ ξ,

with the weights c_j of the solver (the module docstring of :mod:`sictl.core.sampling.multistep`; K = h
for ε*, 0 for the ODE). :func:`grid_gains` runs exactly these steps — the same node selection, the
same corrector, the same weights — with numpy arrays of shape (grids, modes, basis): one run evaluates
a whole batch of time grids (the finite-difference stencil of a grid optimisation) for every mode.
The state is written as coefficients on independent N(0, 1) variables (the base draw and the step noises,
compressed to an orthonormal basis of what the next steps use), so the generated variance is μ Σ_b x_b²
also for the multistep stochastic solver.

It reproduces :func:`sictl.core.exact.gaussian.generated_variance` to round-off (tests/core/test_grid_design.py)
at a small fraction of its cost: that one runs the real solver steps, one grid at a time, through
torch; this one is what makes optimising a grid (:mod:`sictl.core.exact.grid_design`) take seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sictl.core.sampling.multistep import MAX_STEP_RATIO, _Multistep, _SDEExpInt
from sictl.core.sampling.solvers import ExpInt1, ExpInt2, Solver

__all__ = ["RecursionSpec", "recursion_spec", "run_grids", "grid_gains", "moments", "weights"]


@dataclass(frozen=True)
class RecursionSpec:
    """What distinguishes the solvers here: predictor nodes, corrector, ExpInt2's own extrapolation, noise."""

    points: int = 1
    corrector: bool = False
    expint2: bool = False
    stochastic: bool = False


def recursion_spec(solver: Solver, diffusion: str | None = None) -> RecursionSpec | None:
    """The recursion of a solver (by its class and what it declares: nodes, corrector, diffusion), or None
    where there is none here — other solvers, and a stochastic one whose diffusion is not ``optimal`` (ε*,
    for which K = h) or absent: those are evaluated by the real steps.

    Args:
        diffusion: the diffusion spec the stochastic solver was made with (``optimal``, ``0``, ``none``).
    """
    if isinstance(solver, ExpInt1):
        return RecursionSpec(1)
    if isinstance(solver, ExpInt2):
        return RecursionSpec(2, expint2=True)
    if isinstance(solver, _Multistep):
        return RecursionSpec(solver.points, corrector=solver.corrector)
    if isinstance(solver, _SDEExpInt):
        if solver.diffusion is None or diffusion in ("0", "none"):  # no diffusion: its ODE counterpart
            return RecursionSpec(solver.points)
        return RecursionSpec(solver.points, stochastic=True) if diffusion == "optimal" else None
    return None


_SERIES_TERMS = 26  # H < 2: the m-th term is at most 2^m/(m + 1)! < 1e-19 beyond


@lru_cache(maxsize=8)
def _series_coefficients(n: int) -> np.ndarray:
    """[m, k] = k!/(m + k + 1)!: g_k(H) = H Σ_m (−H)^m k!/(m + k + 1)!."""
    return np.array([[math.factorial(k) / math.factorial(m + k + 1) for k in range(n)]
                     for m in range(_SERIES_TERMS)])


def moments(big_h: np.ndarray, n: int) -> np.ndarray:
    """g_k(H) = ∫₀¹ H e^{−H(1−θ)} θ^k dθ, k < n, for an array of H ≥ 0 → (*H.shape, n).

    As :func:`sictl.core.sampling.multistep._moments`: a series below H = 2, the recursion above.
    """
    big_h = np.asarray(big_h, dtype=np.float64)
    small = np.minimum(big_h, 2.0)[..., None]
    powers = np.cumprod(np.concatenate([np.ones_like(small), np.broadcast_to(-small, (*small.shape[:-1], _SERIES_TERMS - 1))], -1), -1)
    series = small * (powers @ _series_coefficients(n))
    large = np.maximum(big_h, 2.0)
    rec = [-np.expm1(-large)]
    for k in range(1, n):
        rec.append(1.0 - k * rec[-1] / large)
    return np.where((big_h < 2.0)[..., None], series, np.stack(rec, -1))


def weights(thetas: np.ndarray, big_h: np.ndarray) -> np.ndarray:
    """c (G, n) with Σ_j c_j θ_j^k = g_k(H) for k < n: the exact weights of the interpolant through the
    nodes θ (G, n), as :func:`sictl.core.sampling.multistep.exp_weights`."""
    n = thetas.shape[-1]
    g = moments(big_h, n)
    if n == 1:
        return g
    vander = thetas[:, None, :] ** np.arange(n)[None, :, None]  # [G, k, j] = θ_j^k
    return np.linalg.solve(vander, g[..., None])[..., 0]


def _node_count(ells: list[np.ndarray], ell0: np.ndarray, h: np.ndarray, points: int, ratio: float) -> np.ndarray:
    """How many of the newest history nodes (log-SNRs ``ells``, newest first) a step keeps, per grid
    (:func:`sictl.core.sampling.multistep._nodes`): a node goes, with all older ones, where its gap to the
    next newer node is shorter than h/ratio."""
    count = np.ones(h.shape, dtype=np.int64)
    alive = np.ones(h.shape, dtype=bool)
    for j in range(1, min(points, len(ells))):
        alive &= ratio * (ells[j - 1] - ells[j]) >= h
        count += alive
    return count


def _col(v: np.ndarray, ndim: int) -> np.ndarray:
    """A per-grid (G,) array shaped to broadcast against (G, ...) states of ``ndim`` dimensions."""
    return v.reshape(v.shape[0], *([1] * (ndim - 1)))


def _combine(history, ells, ell0, h, dissipation, points, ratio, beta1):
    """β1 Σ_j c_j η_j over the nodes the step keeps (grids grouped by their node count)."""
    nd = history[0].ndim
    count = _node_count(ells, ell0, h, points, ratio)
    if count.min() == count.max():  # the usual case: one group, no copies
        n = int(count[0])
        thetas = np.stack([(e - ell0) / h for e in ells[:n]], -1)
        c = weights(thetas, h + dissipation) * beta1[:, None]
        out = _col(c[:, 0], nd) * history[0]
        for j in range(1, n):
            out += _col(c[:, j], nd) * history[j]
        return out
    out = np.zeros_like(history[0])
    for n in np.unique(count):
        sel = count == n
        thetas = np.stack([(e[sel] - ell0[sel]) / h[sel] for e in ells[:n]], -1)
        c = weights(thetas, h[sel] + dissipation[sel]) * beta1[sel, None]
        acc = np.zeros_like(history[0][sel])
        for j in range(n):
            acc += _col(c[:, j], nd) * history[j][sel]
        out[sel] = acc
    return out


def run_grids(alpha: np.ndarray, beta: np.ndarray, x0: np.ndarray, denoise: Callable[[int, np.ndarray], np.ndarray],
              spec: RecursionSpec, noise: Callable[[np.ndarray, int, np.ndarray, list], tuple] | None = None,
              max_step_ratio: float = MAX_STEP_RATIO) -> np.ndarray:
    """The steps of the solver ``spec`` on G grids at once, for any data denoiser.

    Args:
        alpha, beta: (G, K + 1) schedule values at the grid times (0 < t < 1: finite log-SNRs).
        x0: (G, ...) states at the first grid times.
        denoise: η_x at grid time i of states (G, ...) → (G, ...) (one drift evaluation per step).
        spec: the solver's recursion (:func:`recursion_spec`).
        noise: for a stochastic spec, ``noise(out, i, std, history)`` adds std (G,) times the step-i noise to
            ``out`` and returns ``(out, history)`` (the states that the next steps use, possibly re-expressed).

    Returns:
        (G, ...) states at the last grid times.
    """
    alpha, beta = np.asarray(alpha, np.float64), np.asarray(beta, np.float64)
    steps = alpha.shape[1] - 1
    ell = np.log(beta) - np.log(alpha)
    x, nd = x0, x0.ndim
    history: list[np.ndarray] = []  # η at the newest grid times, newest first
    ells: list[np.ndarray] = []
    prev_base = None
    for i in range(steps):
        a0, b0, a1, b1 = alpha[:, i], beta[:, i], alpha[:, i + 1], beta[:, i + 1]
        ell0, h = ell[:, i], ell[:, i + 1] - ell[:, i]
        history, ells = [denoise(i, x), *history], [ell0, *ells]
        dissipation = h if spec.stochastic else np.zeros_like(h)
        if spec.expint2:  # ExpInt2: D = (1 + 1/(2r)) η_i − η_{i−1}/(2r), r = h_{i−1}/h_i
            c = _col(b1 - a1 * b0 / a0, nd)
            if len(history) > 1:
                rr = _col((ell0 - ells[1]) / h, nd)
                step_sum = c * (1 + 0.5 / rr) * history[0] - c * (0.5 / rr) * history[1]
            else:
                step_sum = c * history[0]
            x = _col(a1 / a0, nd) * x + step_sum
            history, ells = history[:1], ells[:1]
            continue
        base = x
        if spec.corrector and prev_base is not None:
            hp = ell0 - ell[:, i - 1]
            corr = _combine(history, ells, ell[:, i - 1], hp, np.zeros_like(hp), spec.points + 1, max_step_ratio, b0)
            base = _col(a0 / alpha[:, i - 1], nd) * prev_base + corr
        out = _col(a1 / a0 * np.exp(-dissipation), nd) * base
        out = out + _combine(history, ells, ell0, h, dissipation, spec.points, max_step_ratio, b1)
        history, ells = history[: spec.points], ells[: spec.points]
        if spec.stochastic and noise is not None:
            out, history = noise(out, i, a1 * np.sqrt(-np.expm1(-2 * dissipation)), history)
        prev_base, x = base, out
    return x


def _compress(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The same vectors (last axis: coefficients on independent N(0, 1) variables) on an orthonormal basis of
    their span, by Gram–Schmidt (elementwise over the leading axes): equal Gram matrices, so equal variances
    and covariances of every linear combination. r vectors → r coordinates."""
    basis: list[np.ndarray] = []
    out = []
    for v in arrays:
        coords = [(q * v).sum(-1) for q in basis]
        rest = v - sum((c[..., None] * q for c, q in zip(coords, basis)), np.zeros_like(v))
        norm = np.sqrt((rest * rest).sum(-1))
        basis.append(rest / np.where(norm > 0, norm, 1.0)[..., None])
        out.append(coords + [norm])
    size = len(arrays)
    return [np.stack(c + [np.zeros_like(c[0])] * (size - len(c)), -1) for c in out]


def grid_gains(alpha: np.ndarray, beta: np.ndarray, ratios: np.ndarray, spec: RecursionSpec,
               max_step_ratio: float = MAX_STEP_RATIO) -> np.ndarray:
    """Σ_b x_b² after the last step, per grid and mode: the generated variance over the base variance μ.

    The state of a mode is written as coefficients on independent N(0, 1) variables, in units of √μ: z
    alone for an ODE solver. A stochastic step adds its noise as one more variable, after which the state
    and the denoisers the next steps still use are re-expressed on an orthonormal basis of their span
    (:func:`_compress`: at most ``points`` variables), which keeps their joint law; η_x = e x with
    e = β r/(α² + β² r).

    Args:
        alpha, beta: (G, K + 1) schedule values at the grid times of G grids (0 < t < 1: finite log-SNRs).
        ratios: (M,) r = λ/μ per mode.

    Returns:
        (G, M) generated variance / μ.
    """
    alpha, beta = np.asarray(alpha, np.float64), np.asarray(beta, np.float64)
    r = np.asarray(ratios, np.float64)[None, :, None]
    x = np.ones((alpha.shape[0], r.shape[1], 1))

    def denoise(i, state):
        b = beta[:, i, None, None]
        return b * r / (alpha[:, i, None, None] ** 2 + b * b * r) * state

    def noise(out, i, std, history):
        pad = [(0, 0)] * (out.ndim - 1) + [(0, 1)]
        out = np.pad(out, pad)
        out[..., -1] = std[:, None]
        kept = [np.pad(h, pad) for h in history[: spec.points - 1]]
        out, *kept = _compress([out, *kept])
        return out, kept

    return (run_grids(alpha, beta, x, denoise, spec, noise, max_step_ratio) ** 2).sum(-1)
