"""The exact linear-Gaussian forecasting target and its point-source closed forms (arXiv 2403.13724).

Target: x1 | x0 ~ N(A x0 + μ, Σ) on a periodic grid, with A and Σ Fourier multipliers (even in k), e.g.
an Ornstein–Uhlenbeck field over one lag τ: A_k = e^{−θ_k τ}, Σ_k = s_k (1 − e^{−2θ_k τ}) (s_k the
stationary power). Fourier coefficients use norm="forward"; a power is E|x̂_k|² on the full FFT grid.

Everything is per mode. With the endpoint mean μ_e of the point-source endpoint (A x0 + μ for the
``state`` source, (A − 1) x0 + μ for the ``zero`` one), the start x_s (x0, or 0), λ = Σ_k and ν the power
of ξ in that mode (1/n for white unit noise on n grid points):

* moments: m_t = α x_s + β μ_e, C_t = β² λ + t σ² ν, and X_t ~ N(m_t, C_t) under every admissible g;
* drift b_t = ṁ_t + k_t (x − m_t), k_t = (β̇βλ + tσσ̇ν)/C_t, preconditioned score s = −ν (x − m_t)/C_t;
* retuned rate κ_g = k_t − ½(g² − σ²) ν / C_t (the drift of dX = b^g dt + g dW is ṁ + κ_g (x − m));
  the variance ODE v̇ = 2κ_g v + g²ν is solved by v = C_t for every g (:func:`variance_ode_residual`);
* Föllmer fingerprint Cov(X_t, X_1) = C_t exp(∫_t^1 κ_g) equals β_t λ only for g = g_F
  (:func:`fingerprint`);
* path KL of the exact drift of a mis-specified target (variance λ̂) (:func:`path_kl`); with g = g_F it
  is KL(N(0, λ) ‖ N(0, λ̂)) for every schedule (:func:`follmer_kl`, arXiv 2602.10989);
* Euler–Maruyama is affine-Gaussian per mode, so the law of its X_1 is computed exactly
  (:func:`em_moments`).

All functions take tensors of per-mode values and broadcast; g² is a callable of a time tensor.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from sictl.core.interpolants.base import as_time
from sictl.core.interpolants.point_source import PointSourceSchedule, source_endpoints
from sictl.core.sampling.noise import FourierNoise, even_half
from sictl.core.sampling.point_source import PointSourceDrift
from sictl.errors import ConfigError

__all__ = [
    "EMMoments",
    "ExactForecastDrift",
    "LinearGaussianForecast",
    "OUField",
    "drift_gain",
    "em_moments",
    "fingerprint",
    "follmer_kl",
    "moments",
    "path_kl",
    "retuned_rate",
    "variance_ode_residual",
]

G2 = Callable[[Tensor], Tensor]
F64 = torch.float64


def _safe_div(num: Tensor, den: Tensor) -> Tensor:
    """num/den, 0 where den = 0 (a mode with no variance at that time: the point mass at t = 0)."""
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(num))


def moments(schedule: PointSourceSchedule, t: float | Tensor, lam: Tensor, nu: Tensor | float = 1.0) -> tuple[Tensor, Tensor]:
    """(C_t, Ċ_t) = (β²λ + tσ²ν, 2ββ̇λ + (σ² + 2tσσ̇)ν) per mode (broadcast of t, λ, ν)."""
    t = as_time(t)
    v = schedule(t)
    sigma = schedule.sigma(t)[0]
    c = v.beta**2 * lam + t * sigma**2 * nu
    c_dot = 2 * v.beta * v.beta_dot * lam + (sigma**2 + 2 * t * schedule.sigma_rate(t)) * nu
    return c, c_dot


def drift_gain(schedule: PointSourceSchedule, t: float | Tensor, lam: Tensor, nu: Tensor | float = 1.0) -> Tensor:
    """k_t = (β̇βλ + tσσ̇ν)/C_t: b_t = ṁ_t + k_t (x − m_t) per mode (0 where C_t = 0)."""
    t = as_time(t)
    v = schedule(t)
    c, _ = moments(schedule, t, lam, nu)
    return _safe_div(v.beta_dot * v.beta * lam + t * schedule.sigma_rate(t) * nu, c)


def retuned_rate(schedule: PointSourceSchedule, t: float | Tensor, lam: Tensor, nu: Tensor | float, g2: Tensor) -> Tensor:
    """κ_g = k_t − ½(g² − σ²)ν/C_t, the gain of the retuned drift b^g = ṁ + κ_g (x − m) per mode."""
    t = as_time(t)
    c, _ = moments(schedule, t, lam, nu)
    sigma2 = schedule.sigma(t)[0] ** 2
    return drift_gain(schedule, t, lam, nu) - _safe_div(0.5 * (g2 - sigma2) * nu * torch.ones_like(c), c)


def variance_ode_residual(schedule: PointSourceSchedule, t: Tensor, lam: Tensor, nu: Tensor | float, g2: Tensor) -> Tensor:
    """Ċ_t − (2κ_g C_t + g²ν): zero when the exact marginal variance C_t solves the variance ODE of
    dX = b^g dt + g dW (so X_t ~ N(m_t, C_t) for every g)."""
    c, c_dot = moments(schedule, t, lam, nu)
    return c_dot - (2 * retuned_rate(schedule, t, lam, nu, g2) * c + g2 * nu)


# ---- quadrature ---------------------------------------------------------------------------------------
def _gauss_panels(a: float, b: float, *, points: int = 24, levels: int = 36, ends: str = "both") -> tuple[Tensor, Tensor]:
    """Composite Gauss–Legendre nodes and weights on [a, b], panels refined geometrically (ratio ½)
    towards ``ends`` ("a", "b" or "both"), so integrands with power-law end behaviour converge."""
    x, w = np.polynomial.legendre.leggauss(points)
    mid = 0.5 * (a + b)
    left = [a + (mid - a) * 0.5**j for j in range(levels, -1, -1)] if ends in ("a", "both") else [a, mid]
    right = [b - (b - mid) * 0.5**j for j in range(levels + 1)] if ends in ("b", "both") else [mid, b]
    cuts = np.unique(np.array([a, *left, *right, b]))
    lo, hi = cuts[:-1, None], cuts[1:, None]
    nodes = 0.5 * (hi - lo) * x[None, :] + 0.5 * (hi + lo)
    weights = 0.5 * (hi - lo) * w[None, :]
    return torch.tensor(nodes.ravel(), dtype=F64), torch.tensor(weights.ravel(), dtype=F64)


def fingerprint(schedule: PointSourceSchedule, t: float, lam: Tensor, nu: Tensor | float, g2: G2) -> Tensor:
    """Cov(X_t, X_1) = C_t exp(∫_t^1 κ_g(u) du) per mode for dX = b^g dt + g dW with the exact drift.

    Under g = g_F the joint law of (X_t, X_1) is that of (x_t, x1), so this equals β_t λ; other g give
    other values (the Föllmer fingerprint). ``t`` in (0, 1).
    """
    lam = torch.as_tensor(lam, dtype=F64)
    nodes, weights = _gauss_panels(float(t), 1.0)
    u = nodes.reshape(-1, *([1] * lam.ndim))
    integral = (weights.reshape(u.shape) * retuned_rate(schedule, u, lam, nu, g2(u))).sum(0)
    return moments(schedule, float(t), lam, nu)[0] * torch.exp(integral)


def path_kl(schedule: PointSourceSchedule, lam: Tensor, lam_hat: Tensor, g2: G2, *, nu: Tensor | float = 1.0) -> Tensor:
    """Path KL ∫_0^1 (1 + ½βA(g² − σ²))² E|b̂ − b|² / (2g²) dt (arXiv 2403.13724, eq. 12), per mode.

    b̂ is the exact drift of the target with variance λ̂ (the same mean): a score error that depends on
    the noise level κ = tσ²ν/β² only. With ½βA = 1/(g_F² + σ²) and b̂ − b = ½(g_F² + σ²)(ŝ − s) the
    integrand is (g² + g_F²)² β⁴ (λ̂ − λ)² ν / (8 g² Ĉ² C) — in units where only λ/ν matters.
    """
    lam, lam_hat = torch.as_tensor(lam, dtype=F64), torch.as_tensor(lam_hat, dtype=F64)
    nodes, weights = _gauss_panels(0.0, 1.0)
    u = nodes.reshape(-1, *([1] * max(lam.ndim, lam_hat.ndim)))
    v = schedule(u)
    c, _ = moments(schedule, u, lam, nu)
    c_hat, _ = moments(schedule, u, lam_hat, nu)
    gf2, gg2 = schedule.follmer_g2(u), g2(u)
    integrand = (gg2 + gf2) ** 2 * v.beta**4 * (lam_hat - lam) ** 2 * nu / (8 * gg2 * c_hat**2 * c)
    return (weights.reshape(u.shape) * integrand).sum(0)


def follmer_kl(lam: Tensor, lam_hat: Tensor) -> Tensor:
    """Minimal path KL (g = g_F) for the drift of the variance-λ̂ target: ½∫_0^∞ E|ŝ^κ − s^κ|² dκ
    = ½(λ/λ̂ − 1 − ln(λ/λ̂)) = KL(N(0, λ) ‖ N(0, λ̂)), the same for every schedule (arXiv 2602.10989)."""
    r = torch.as_tensor(lam, dtype=F64) / torch.as_tensor(lam_hat, dtype=F64)
    return 0.5 * (r - 1 - torch.log(r))


# ---- Euler–Maruyama, exactly ----------------------------------------------------------------------------
@dataclass
class EMMoments:
    """Law of the em endpoint X_N per mode (each field of the shape of λ), given the start x_s and the
    endpoint mean μ_e (both per mode).

    E[X_N] − m_1 = start_coef · x_s + mean_coef · μ_e; ``variance`` is Var X_N (power units, like λ);
    ``cross`` is Cov(X_{t_j}, X_N) at the grid time t_j = ``cross_time`` nearest to the one asked for.
    """

    start_coef: Tensor
    mean_coef: Tensor
    variance: Tensor
    cross: Tensor | None = None
    cross_time: float | None = None


def em_moments(schedule: PointSourceSchedule, ts: Tensor, lam: Tensor, nu: Tensor | float, g2: G2,
               *, cross_time: float | None = None) -> EMMoments:
    """The exact law of Euler–Maruyama for dX = b^g dt + g dW with the exact drift, from X_{t_0} = x_s.

    Each step X' = X + h(ṁ + κ_g (X − m)) + g √h n is affine-Gaussian per mode, so with D = X − m:
    D' = (1 + hκ_g) D + (α + hα̇ − α')x_s + (β + hβ̇ − β')μ_e + g√h n. The coefficients are per mode
    (shape of λ); the last grid time is compared with the target law at t = 1 (m_1 = μ_e, C_1 = λ).

    Args:
        ts: (N+1,) increasing grid.
        cross_time: also return Cov(X_{t_j}, X_N) at the grid time nearest to it.
    """
    lam = torch.as_tensor(lam, dtype=F64)
    times = [float(t) for t in ts]
    v0 = schedule(as_time(times[0]))
    p_start = torch.full_like(lam, 1.0) - float(v0.alpha)  # D_0 = x_s − m_{t0} = (1 − α)x_s − β μ_e
    p_mean = torch.full_like(lam, -float(v0.beta))
    var = torch.zeros_like(lam)
    j_cross = None if cross_time is None else int(np.argmin([abs(t - cross_time) for t in times]))
    cross = None
    for n, (a, b) in enumerate(itertools.pairwise(times)):
        if n == j_cross:
            cross = var.clone()
        h = b - a
        va, vb = schedule(as_time(a)), schedule(as_time(b))
        t_a = as_time(a)
        factor = 1 + h * retuned_rate(schedule, t_a, lam, nu, g2(t_a))
        ea = float(va.alpha + h * va.alpha_dot - vb.alpha)
        eb = float(va.beta + h * va.beta_dot - vb.beta)
        p_start, p_mean = factor * p_start + ea, factor * p_mean + eb
        var = factor**2 * var + float(g2(t_a)) * h * nu
        if cross is not None:
            cross = factor * cross
    if j_cross == len(times) - 1:
        cross = var.clone()
    # the target law is at t = 1: m_1 = α_1 x_s + μ_e with α_1 = 0 (β_1 = 1)
    v1 = schedule(as_time(times[-1]))
    p_start = p_start + float(v1.alpha)
    p_mean = p_mean + float(v1.beta) - 1.0
    return EMMoments(p_start, p_mean, var, cross, None if j_cross is None else times[j_cross])


# ---- the target and its exact drift ---------------------------------------------------------------------
class LinearGaussianForecast:
    """x1 | x0 ~ N(A x0 + μ, Σ) for periodic fields, A and Σ diagonal in Fourier space.

    Args:
        gain: A_k on the full FFT grid (*grid), real and even in k.
        cov_power: Σ_k, the per-mode power of x1 | x0 (*grid).
        mean: μ, a constant or a (*grid) field (default 0).
        stationary_power: s_k, the power of the law of x0 (to average errors over conditions), or None.
        info: JSON description of how it was made.
    """

    def __init__(self, gain: Tensor, cov_power: Tensor, *, mean: Tensor | float = 0.0,
                 stationary_power: Tensor | None = None, info: dict | None = None):
        self.gain = torch.as_tensor(gain, dtype=F64)
        self.cov_power = torch.as_tensor(cov_power, dtype=F64)
        if self.gain.shape != self.cov_power.shape or bool((self.cov_power < 0).any()):
            raise ConfigError("a linear-Gaussian forecast needs A and Σ on the same grid with Σ ≥ 0")
        self.mean = torch.as_tensor(mean, dtype=F64)
        self.stationary_power = None if stationary_power is None else torch.as_tensor(stationary_power, dtype=F64)
        self.grid = tuple(self.gain.shape)
        self.n = math.prod(self.grid)
        self.info = dict(info or {})

    @classmethod
    def ornstein_uhlenbeck(cls, power: Tensor, theta: Tensor | float, lag: float) -> LinearGaussianForecast:
        """The OU field dx̂_k = −θ_k x̂_k dt + noise with stationary power s_k = ``power``, over lag τ:
        A_k = e^{−θ_k τ}, Σ_k = s_k (1 − e^{−2θ_k τ})."""
        power = torch.as_tensor(power, dtype=F64)
        theta = torch.as_tensor(theta, dtype=F64).expand_as(power)
        if not (lag > 0 and bool((theta > 0).all())):
            raise ConfigError(f"an OU forecast needs θ > 0 on every mode and lag τ > 0 (got τ = {lag})",
                              hint="e.g. --theta 1 --lag 0.5")
        gain = torch.exp(-theta * lag)
        return cls(gain, power * -torch.expm1(-2 * theta * lag), stationary_power=power,
                   info={"kind": "ornstein-uhlenbeck", "lag": float(lag)})

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(range(-len(self.grid), 0))

    def apply(self, multiplier: Tensor, x: Tensor) -> Tensor:
        """irfft(½(M_k + M_{−k}) ⊙ rfft(x)): a real Fourier multiplier M on the full grid applied to x (batch, *grid)."""
        xh = torch.fft.rfftn(x, dim=self.dims, norm="forward")
        xh = xh * even_half(multiplier).to(device=x.device, dtype=xh.real.dtype)
        return torch.fft.irfftn(xh, s=self.grid, dim=self.dims, norm="forward").to(x.dtype)

    def conditional_mean(self, x0: Tensor) -> Tensor:
        """A x0 + μ for conditions x0: (batch, *grid)."""
        return self.apply(self.gain, x0) + self.mean.to(x0)

    def endpoint_mean(self, source: str, current: Tensor) -> Tensor:
        """μ_e: the mean of the point-source endpoint x1 (A x + μ for ``state``, (A − 1)x + μ for ``zero``)."""
        return source_endpoints(source, current, self.conditional_mean(current))[1]

    def endpoint_gain(self, source: str) -> Tensor:
        """Per mode, μ̂_e = gain · x̂ (the mean constant μ aside): A (``state``) or A − 1 (``zero``)."""
        return self.gain if source == "state" else self.gain - 1

    def sample(self, x0: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """Exact draws of x1 | x0, one per condition: (batch, *grid)."""
        noise = FourierNoise(self.cov_power).sample(tuple(x0.shape), generator=generator, like=x0)
        return self.conditional_mean(x0) + noise

    def sample_conditions(self, batch: int, *, generator: torch.Generator | None = None, like: Tensor | None = None) -> Tensor:
        """Draws of x0 from the stationary law N(0, s) (needs ``stationary_power``): (batch, *grid)."""
        if self.stationary_power is None:
            raise ConfigError("this forecast target has no stationary law for its conditions")
        like = torch.empty(0, dtype=F64) if like is None else like
        return FourierNoise(self.stationary_power).sample((batch, *self.grid), generator=generator, like=like)

    def drift(self, schedule: PointSourceSchedule, condition: Tensor, source: str = "state",
              noise_power: Tensor | float | None = None) -> ExactForecastDrift:
        """The exact point-source drift under ``schedule`` bound to ``condition`` (batch, *grid)."""
        return ExactForecastDrift(self, schedule, condition, source, noise_power)

    def white_noise_power(self) -> Tensor:
        """ν for white unit ξ: 1/n on every mode."""
        return torch.full(self.grid, 1.0 / self.n, dtype=F64)

    def describe(self) -> dict:
        return {**self.info, "grid": list(self.grid)}


@dataclass(frozen=True)
class OUField:
    """A stationary Ornstein–Uhlenbeck field on the periodic unit grid res^dim, diagonal in Fourier space.

    dx̂_k = −θ_k x̂_k dt + √(2θ_k s_k) dŴ_k with θ_k = theta + theta_k |2πk|² and stationary power
    s_k ∝ (1 + (|k|/corner)²)^(−slope), scaled so that the pixel variance Σ_k s_k is ``variance``
    (every mode, the mean included, has s_k > 0).
    """

    res: int = 16
    dim: int = 1
    slope: float = 2.0
    corner: float = 4.0
    variance: float = 1.0
    theta: float = 1.0
    theta_k: float = 0.0

    def validate(self) -> None:
        if self.res < 2 or self.dim not in (1, 2):
            raise ConfigError(f"OU field needs res ≥ 2 and dim 1 or 2, got res={self.res}, dim={self.dim}",
                              hint="e.g. res=16,dim=1")
        if not (self.slope >= 0 and self.corner > 0 and self.variance > 0 and self.theta > 0 and self.theta_k >= 0):
            raise ConfigError("OU field needs slope ≥ 0, corner > 0, variance > 0, theta > 0, theta_k ≥ 0",
                              hint="e.g. slope=2,corner=4,variance=1,theta=1")

    def wavenumbers(self) -> Tensor:
        """|k| on the full FFT grid (integer wavenumbers), float64 (res,)*dim."""
        k = torch.fft.fftfreq(self.res, d=1.0 / self.res, dtype=F64)
        grids = torch.meshgrid(*([k] * self.dim), indexing="ij")
        return torch.sqrt(sum(g * g for g in grids))

    def power(self) -> Tensor:
        """Stationary per-mode power s_k (norm="forward"), summing to ``variance``."""
        self.validate()
        shape = (1 + (self.wavenumbers() / self.corner) ** 2) ** (-self.slope)
        return self.variance * shape / shape.sum()

    def rates(self) -> Tensor:
        """θ_k on the full FFT grid."""
        return self.theta + self.theta_k * (2 * math.pi * self.wavenumbers()) ** 2

    def forecast(self, lag: float, *, scale: float = 1.0) -> LinearGaussianForecast:
        """The exact law of x(t + lag) | x(t); ``scale`` divides the field (a dataset's normalisation)."""
        target = LinearGaussianForecast.ornstein_uhlenbeck(self.power() / scale**2, self.rates(), lag)
        target.info.update({"field": asdict(self), "scale": scale})
        return target


class ExactForecastDrift(PointSourceDrift):
    """The closed-form point-source drift and score of a :class:`LinearGaussianForecast`.

    b = ṁ_t + k_t ⊙ (x − m_t) and s = −(ν/C_t) ⊙ (x − m_t) as Fourier multipliers (one forward transform
    of x − m_t per call). ξ is white unit noise unless ``noise_power`` (ν per mode) is given.
    """

    def __init__(self, target: LinearGaussianForecast, schedule: PointSourceSchedule, condition: Tensor,
                 source: str = "state", noise_power: Tensor | float | None = None):
        if condition.ndim < len(target.grid) + 1 or tuple(condition.shape[-len(target.grid):]) != target.grid:
            raise ConfigError(f"conditions of shape {tuple(condition.shape)} do not end with the target grid {target.grid}",
                              hint="give conditions at the dataset's resolution")
        nu = target.white_noise_power() if noise_power is None else torch.as_tensor(noise_power, dtype=F64).expand(target.grid)
        super().__init__(schedule, condition, source, FourierNoise(nu))
        self.target, self.nu = target, nu
        self.endpoint = target.endpoint_mean(source, condition)  # μ_e per sample

    def _mean_path(self, t: float, like: Tensor) -> tuple[Tensor, Tensor]:
        v = self.schedule(as_time(t))
        x0, mu = self.start.to(like), self.endpoint.to(like)
        return float(v.alpha) * x0 + float(v.beta) * mu, float(v.alpha_dot) * x0 + float(v.beta_dot) * mu

    def _fields(self, t, x):
        t = float(t)
        lam, grid, dims = self.target.cov_power, self.target.grid, self.target.dims
        m, m_dot = self._mean_path(t, x)
        c, _ = moments(self.schedule, t, lam, self.nu)
        dh = torch.fft.rfftn(x - m, dim=dims, norm="forward")

        def apply(multiplier: Tensor) -> Tensor:
            out = dh * even_half(multiplier).to(device=x.device, dtype=dh.real.dtype)
            return torch.fft.irfftn(out, s=grid, dim=dims, norm="forward").to(x.dtype)

        return m_dot + apply(drift_gain(self.schedule, t, lam, self.nu)), apply(-_safe_div(self.nu, c))

    def drift(self, t, x):
        return self._fields(t, x)[0]

    def score(self, t, x, b=None):
        return self._fields(t, x)[1]
