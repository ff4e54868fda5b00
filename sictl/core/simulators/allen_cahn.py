"""Metropolis-corrected sampling of the discrete stochastic Allen–Cahn invariant measure.

The target (docs/math.md, "Data: stochastic Allen–Cahn") lives on the nodes x_j = j/N, j = 0..N, with free
ends, h = 1/N and m_j = (u_j + u_{j+1})/2:

    π(u) ∝ exp(−U(u)),   U(u) = Σ_{j<N} (u_{j+1} − u_j)²/(2h) + Σ_{j<N} (h/2) V(m_j),

with V(u) = (1 − u²)² ("double-well") or V(u) = κu² ("quadratic", the exact Gaussian test case:
U = ½uᵀAu, A = L_N/h + (hκ/4)B). L_N is the free-end path-graph Laplacian.

Many independent chains run as one (chains, N+1) float64 tensor. HMC uses the mass matrix
M = L_N/h + c·h·I, the Gaussian part of U plus c times the lumped mass matrix hI (the discretisation
of −∂²ₓ + c; c > 0 removes the zero mode of L_N). The default c = 4 = ½V''(±1) makes every mode, the
constant one included, oscillate at a frequency ≈ 1 for any N, so the step size stays O(1) and the
autocorrelation time of ∫u dx stays ≈ 1–2 iterations for N = 32–128. (A shift cI not scaled by h,
e.g. c = 1, leaves the constant mode at frequency ≈ √(4h/c): the chain slows down like √N.) MALA
uses M as its preconditioner. Every proposal passes an exact Metropolis–Hastings test with the exact
U; the step size is tuned by dual averaging during burn-in only, then frozen.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

from sictl.errors import ConfigError, ShapeError

__all__ = ["METHODS", "POTENTIALS", "AllenCahnConfig", "AllenCahnSampler", "grad_potential",
           "integrated_autocorrelation_time", "path_integral", "path_laplacian", "potential_energy",
           "quadratic_covariance"]

METHODS = ("hmc", "mala")
POTENTIALS = ("double-well", "quadratic")
F64 = torch.float64


@dataclass(frozen=True)
class AllenCahnConfig:
    """What to sample and how.

    Args:
        n: number of grid intervals N (N + 1 nodes, both ends free), n ≥ 4.
        chains: independent chains run as one batch.
        samples_per_chain: stored (thinned, post-burn-in) samples per chain.
        burn_in: discarded iterations; the step size is adapted during them if ``step_size`` is None
            (dual averaging needs a few hundred iterations).
        thin: iterations between stored samples.
        method: "hmc" (number of leapfrog steps uniform in [⌈L/2⌉, L], drawn once per iteration for
            all chains) or "mala".
        potential: "double-well" V = (1 − u²)² or "quadratic" V = κu².
        kappa: κ of the quadratic potential (ignored by the double well), > 0.
        step_size: fixed step size (no adaptation), or None to adapt during burn-in.
        leapfrog: maximal number L of leapfrog steps per HMC iteration.
        mass_shift: c in M = L_N/h + c·h·I, > 0 (default 4 = ½V''(±1)).
        target_accept: acceptance rate the adaptation aims at, in (0, 1).
    """

    n: int
    chains: int = 256
    samples_per_chain: int = 128
    burn_in: int = 1000
    thin: int = 4
    method: str = "hmc"
    potential: str = "double-well"
    kappa: float = 1.0
    step_size: float | None = None
    leapfrog: int = 10
    mass_shift: float = 4.0
    target_accept: float = 0.8

    def __post_init__(self):
        ints = {"n": (self.n, 4), "chains": (self.chains, 1), "burn_in": (self.burn_in, 0),
                "samples_per_chain": (self.samples_per_chain, 1), "thin": (self.thin, 1),
                "leapfrog": (self.leapfrog, 1)}
        for name, (value, low) in ints.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ConfigError(f"Allen–Cahn {name} must be an integer ≥ {low}, got {value!r}",
                                  hint=f"pass {name} as an integer ≥ {low}")
        if self.method not in METHODS:
            raise ConfigError(f"unknown Allen–Cahn sampler {self.method!r}", hint=f"choose one of {METHODS}")
        _known_potential(self.potential)
        _positive("kappa", self.kappa, "κ of V(u) = κu² must be > 0 (it is ignored by the double well)")
        _positive("mass_shift", self.mass_shift, "c > 0 in M = L_N/h + c·h·I removes the zero mode of L_N")
        if self.step_size is not None:
            _positive("step_size", self.step_size, "give a step size > 0, or None to adapt it during burn-in")
        if not (isinstance(self.target_accept, numbers.Real) and 0.0 < self.target_accept < 1.0):
            raise ConfigError(f"target_accept must lie in (0, 1), got {self.target_accept!r}", hint="0.8")

    @property
    def iterations(self) -> int:
        """Total number of Markov-chain iterations (burn-in plus sampling)."""
        return self.burn_in + self.samples_per_chain * self.thin


def _positive(name: str, value, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}", hint=hint)


def _known_potential(potential: str) -> None:
    if potential not in POTENTIALS:
        raise ConfigError(f"unknown Allen–Cahn potential {potential!r}", hint=f"choose one of {POTENTIALS}")


def _check(u: Tensor, n: int, potential: str) -> None:
    _known_potential(potential)
    if u.shape[-1] != n + 1:
        raise ShapeError(f"Allen–Cahn states need N + 1 = {n + 1} nodes, got last axis {u.shape[-1]}",
                         hint="pass states of shape (chains, N + 1) including both end nodes")


def _v(m: Tensor, potential: str, kappa: float) -> Tensor:
    return kappa * m * m if potential == "quadratic" else (1.0 - m * m) ** 2


def _dv(m: Tensor, potential: str, kappa: float) -> Tensor:  # V'
    return 2.0 * kappa * m if potential == "quadratic" else 4.0 * m * (m * m - 1.0)


def potential_energy(u: Tensor, n: int, potential: str = "double-well", kappa: float = 1.0) -> Tensor:
    """U(u) of the discrete Gibbs measure: u (chains, N+1) node values, n = N → (chains,)."""
    _check(u, n, potential)
    h = 1.0 / n
    d = u[..., 1:] - u[..., :-1]
    m = 0.5 * (u[..., 1:] + u[..., :-1])
    return (d * d).sum(-1) / (2.0 * h) + 0.5 * h * _v(m, potential, kappa).sum(-1)


def grad_potential(u: Tensor, n: int, potential: str = "double-well", kappa: float = 1.0) -> Tensor:
    """Exact ∇U(u) = L_N u/h + (h/4)[V'(m_{j−1}) + V'(m_j)] (absent terms dropped at the ends).

    u: (chains, N+1) → (chains, N+1).
    """
    _check(u, n, potential)
    h = 1.0 / n
    d = (u[..., 1:] - u[..., :-1]) / h
    w = 0.25 * h * _dv(0.5 * (u[..., 1:] + u[..., :-1]), potential, kappa)
    return torch.nn.functional.pad(w - d, (0, 1)) + torch.nn.functional.pad(w + d, (1, 0))


def path_laplacian(n: int) -> Tensor:
    """(N+1, N+1) free-end path-graph Laplacian L_N = DᵀD (uᵀL_N u = Σ_j (u_{j+1} − u_j)²), float64."""
    diff = torch.diff(torch.eye(n + 1, dtype=F64), dim=0)  # D: rows e_{j+1} − e_j
    return diff.T @ diff


def quadratic_covariance(n: int, kappa: float = 1.0) -> Tensor:
    """(N+1, N+1) exact covariance A⁻¹ of V = κu²: A = L_N/h + (hκ/4)B, B = Σ_j (e_j+e_{j+1})(·)ᵀ."""
    AllenCahnConfig(n=n, potential="quadratic", kappa=kappa)  # validates n and κ
    h = 1.0 / n
    pairs = torch.eye(n + 1, dtype=F64)[:-1] + torch.eye(n + 1, dtype=F64)[1:]  # rows e_j + e_{j+1}
    a = path_laplacian(n) / h + (h * kappa / 4.0) * pairs.T @ pairs
    return torch.cholesky_inverse(torch.linalg.cholesky(a))


def path_integral(u: Tensor) -> Tensor:
    """∫₀¹ u dx by the trapezoid rule on the N+1 nodes: (..., N+1) → (...)."""
    n = u.shape[-1] - 1
    return (u.sum(-1) - 0.5 * (u[..., 0] + u[..., -1])) / n


def integrated_autocorrelation_time(x: Tensor, window_factor: float = 5.0) -> float:
    """Integrated autocorrelation time of independent chains, with Sokal's automatic window.

    The autocovariance (about the pooled mean) is averaged over chains; τ(W) = 1 + 2Σ_{t=1}^{W} ρ(t)
    with the smallest window W ≥ window_factor·τ(W) (the largest available if none qualifies).

    Args:
        x: (chains, T) (or (T,)) scalar observable along each chain.

    Returns:
        τ in units of the chain's steps (1 for independent draws); nan when T < 2 or x is constant.
    """
    x = torch.as_tensor(x, dtype=F64).cpu()
    length = x.shape[-1]
    x = x.reshape(-1, length)
    if length < 2:
        return float("nan")
    y = x - x.mean()
    f = torch.fft.rfft(y, n=2 * length, dim=-1)
    acov = torch.fft.irfft(f * f.conj(), n=2 * length, dim=-1)[..., :length].mean(0) / length
    if float(acov[0]) <= 0:
        return float("nan")
    taus = 1.0 + 2.0 * torch.cumsum(acov[1:] / acov[0], 0)
    ok = torch.nonzero(torch.arange(1, length, dtype=F64) >= window_factor * taus)
    return float(taus[int(ok[0]) if len(ok) else -1])


class _DualAveraging:
    """Nesterov dual averaging of log ε towards a target acceptance (Hoffman & Gelman's constants)."""

    def __init__(self, step: float, target: float, gamma: float = 0.05, t0: float = 10.0, decay=0.75):
        self.mu, self.target, self.gamma, self.t0 = math.log(10.0 * step), target, gamma, t0
        self.decay, self.t, self.h_bar, self.log_avg = decay, 0, 0.0, math.log(step)

    def update(self, accept: float) -> float:
        """Feed one iteration's mean acceptance probability; returns the next step size."""
        self.t += 1
        w = 1.0 / (self.t + self.t0)
        self.h_bar = (1.0 - w) * self.h_bar + w * (self.target - accept)
        log_step = self.mu - math.sqrt(self.t) / self.gamma * self.h_bar
        eta = self.t ** -self.decay
        self.log_avg = eta * log_step + (1.0 - eta) * self.log_avg
        return math.exp(log_step)

    @property
    def final(self) -> float:
        return math.exp(self.log_avg)


class AllenCahnSampler:
    """Batched, Metropolis-corrected HMC or MALA for the discrete Allen–Cahn Gibbs measure.

    Usage::

        sampler = AllenCahnSampler(AllenCahnConfig(n=64), generator=torch.Generator().manual_seed(0))
        for block in sampler.run():        # (chains, k, N+1) float64 blocks, in sample order
            ...                            # stream to disk
        sampler.acceptance_rate, sampler.integrated_autocorrelation_time

    Half of the chains start near u ≡ +1, half near u ≡ −1 (plus 0.1·N(0, I)). Once ``run`` is
    exhausted: ``acceptance_rate`` (post-burn-in fraction accepted), ``burn_in_acceptance_rate``,
    ``step_size`` (frozen value), ``path_integrals`` ((chains, S) ∫u dx of the stored samples),
    ``integrated_autocorrelation_time`` (of ∫u dx, in stored samples), ``effective_sample_size``,
    ``mean_path_integral``, ``occupancy_positive`` = P(∫u > 0.5), ``occupancy_negative`` = P(∫u < −0.5).

    Args:
        config: what to sample.
        generator: the only source of randomness (a fixed seed gives identical samples); its device is
            the device of the computation.
        threads: intra-op threads while sampling (torch's setting is restored before every yield), or
            None to leave it alone. The tensors are small ((chains, N+1)), so threads mostly add
            synchronisation, and on a busy machine multi-threaded BLAS calls can be 10–1000× slower.
    """

    def __init__(self, config: AllenCahnConfig, *, generator: torch.Generator, threads: int | None = 1):
        if not isinstance(config, AllenCahnConfig):
            raise ConfigError("AllenCahnSampler needs an AllenCahnConfig", hint="e.g. AllenCahnConfig(n=64)")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, numbers.Integral)
                                    or threads < 1):
            raise ConfigError(f"threads must be None or an integer ≥ 1, got {threads!r}", hint="threads=1")
        self.config, self.generator, self.device, self.threads = config, generator, generator.device, threads
        n = config.n
        mass = path_laplacian(n) * n + (config.mass_shift / n) * torch.eye(n + 1, dtype=F64)
        mu, q = torch.linalg.eigh(mass)  # M = Q diag(μ) Qᵀ, factorised once: M⁻¹ and M^{±1/2} are dense
        self._mass, self._inv_mass = mass.to(self.device), ((q / mu) @ q.T).to(self.device)
        self._root_mass = ((q * mu.sqrt()) @ q.T).to(self.device)
        self._inv_root_mass = ((q / mu.sqrt()) @ q.T).to(self.device)
        self.step_size = float(config.step_size) if config.step_size is not None else 0.5
        self.acceptance_rate = self.burn_in_acceptance_rate = float("nan")
        self.integrated_autocorrelation_time = self.effective_sample_size = float("nan")
        self.mean_path_integral = self.occupancy_positive = self.occupancy_negative = float("nan")
        self.path_integrals: Tensor | None = None

    def _randn(self, shape) -> Tensor:
        return torch.randn(shape, dtype=F64, generator=self.generator, device=self.device)

    def _energy(self, u: Tensor) -> Tensor:
        return potential_energy(u, self.config.n, self.config.potential, self.config.kappa)

    def _grad(self, u: Tensor) -> Tensor:
        return grad_potential(u, self.config.n, self.config.potential, self.config.kappa)

    def initial_state(self) -> Tensor:
        """(chains, N+1): the first ⌈chains/2⌉ chains near +1, the others near −1."""
        c = self.config
        sign = torch.ones(c.chains, 1, dtype=F64, device=self.device)
        sign[(c.chains + 1) // 2:] = -1.0
        return sign + 0.1 * self._randn((c.chains, c.n + 1))

    def _hmc(self, u: Tensor, grad: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor]:
        lo, hi = (self.config.leapfrog + 1) // 2, self.config.leapfrog
        steps = int(torch.randint(lo, hi + 1, (1,), generator=self.generator, device=self.device))
        p = self._randn(u.shape) @ self._root_mass  # p ~ N(0, M)
        kinetic = 0.5 * ((p @ self._inv_mass) * p).sum(-1)
        q, g = u, grad
        p = p - 0.5 * eps * g
        for i in range(steps):
            q = q + eps * (p @ self._inv_mass)
            g = self._grad(q)
            p = p - (eps if i < steps - 1 else 0.5 * eps) * g
        return q, g, kinetic - 0.5 * ((p @ self._inv_mass) * p).sum(-1)

    def _mala(self, u: Tensor, grad: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor]:
        mean_u = u - 0.5 * eps**2 * (grad @ self._inv_mass)
        q = mean_u + eps * (self._randn(u.shape) @ self._inv_root_mass)  # q ~ N(mean_u, ε²M⁻¹)
        g = self._grad(q)
        fwd, bwd = q - mean_u, u - (q - 0.5 * eps**2 * (g @ self._inv_mass))
        log_q = ((fwd @ self._mass) * fwd).sum(-1) - ((bwd @ self._mass) * bwd).sum(-1)
        return q, g, log_q / (2.0 * eps**2)

    def step(self, u: Tensor, energy: Tensor, grad: Tensor, eps: float) -> tuple[Tensor, ...]:
        """One Metropolis-corrected iteration of every chain (non-finite proposals are rejected).

        u: (chains, N+1), energy: (chains,) U(u), grad: (chains, N+1) ∇U(u) → the same after the
        accept/reject, plus the (chains,) acceptance probabilities and boolean decisions.
        """
        q, grad_q, log_ratio = (self._hmc if self.config.method == "hmc" else self._mala)(u, grad, eps)
        energy_q = self._energy(q)
        log_ratio = torch.nan_to_num(energy - energy_q + log_ratio, nan=-math.inf, posinf=-math.inf)
        uniform = torch.rand(u.shape[0], dtype=F64, generator=self.generator, device=self.device)
        accept = torch.log(uniform) < log_ratio
        keep = accept[:, None]
        prob = torch.exp(torch.clamp(log_ratio, max=0.0))
        moved = (torch.where(keep, q, u), torch.where(accept, energy_q, energy),
                 torch.where(keep, grad_q, grad))
        return (*moved, prob, accept)

    def run(self, callback: Callable[[str, int, int], None] | None = None,
            block: int = 32) -> Iterator[Tensor]:
        """Burn in (adapting the step size unless it is fixed), then yield thinned samples in blocks.

        Args:
            callback: progress, called as callback(stage, done, total) in iterations, stage "burn-in" or
                "sample" (about 100 calls per stage).
            block: stored samples per yielded block (the last block may be shorter).

        Yields:
            (chains, k, N+1) float64 samples, k ≤ block, consecutive in chain time.
        """
        c = self.config
        if isinstance(block, bool) or not isinstance(block, numbers.Integral) or block < 1:
            raise ConfigError(f"block must be an integer ≥ 1, got {block!r}", hint="e.g. block=32")
        with _threads(self.threads):
            u = self.initial_state()
            state = (u, self._energy(u), self._grad(u))
            adapt = _DualAveraging(self.step_size, c.target_accept) if c.step_size is None else None
            burn_acc = 0.0
            for it in range(c.burn_in):
                *state, prob, accept = self.step(*state, self.step_size)
                burn_acc += float(accept.double().mean())
                if adapt is not None:
                    self.step_size = adapt.update(float(prob.mean())) if it < c.burn_in - 1 else adapt.final
                _report(callback, "burn-in", it + 1, c.burn_in)
        acc, traces, total = 0.0, [], c.samples_per_chain * c.thin
        for start in range(0, c.samples_per_chain, block):
            samples = []
            with _threads(self.threads):
                for k in range(start, min(start + block, c.samples_per_chain)):
                    for it in range(k * c.thin + 1, (k + 1) * c.thin + 1):
                        *state, _, accept = self.step(*state, self.step_size)
                        acc += float(accept.double().mean())
                        _report(callback, "sample", it, total)
                    samples.append(state[0])
                out = torch.stack(samples, 1)
                traces.append(path_integral(out).cpu())
            yield out
        self._finish(burn_acc, acc, torch.cat(traces, 1))

    def _finish(self, burn_acc: float, acc: float, traces: Tensor) -> None:
        c = self.config
        self.burn_in_acceptance_rate = burn_acc / c.burn_in if c.burn_in else float("nan")
        self.acceptance_rate = acc / (c.samples_per_chain * c.thin)
        self.path_integrals = traces
        self.integrated_autocorrelation_time = integrated_autocorrelation_time(traces)
        self.effective_sample_size = traces.numel() / self.integrated_autocorrelation_time
        self.mean_path_integral = float(traces.mean())
        self.occupancy_positive = float((traces > 0.5).double().mean())
        self.occupancy_negative = float((traces < -0.5).double().mean())

    def summary(self) -> dict:
        """The run's diagnostics as plain floats (for JSON reports)."""
        keys = ("step_size", "acceptance_rate", "burn_in_acceptance_rate", "integrated_autocorrelation_time",
                "effective_sample_size", "mean_path_integral", "occupancy_positive", "occupancy_negative")
        return {k: float(getattr(self, k)) for k in keys}


def _report(callback, stage: str, done: int, total: int) -> None:
    if callback is not None and (done == total or done % max(1, total // 100) == 0):
        callback(stage, done, total)


@contextmanager
def _threads(count: int | None):
    if count is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
