"""Exact drifts of Gaussian and Gaussian-mixture targets, the closed forms behind the laboratory.

For a Gaussian target diagonal in some basis (the state's own coordinates, or Fourier modes of a
periodic field) and a Gaussian base diagonal in the same basis, each mode moves independently:
b_k(t, x) = a_k(t) x_k with a_k = ½ d/dt log(α² μ_k + β² λ_k) (arXiv 2509.02971, §1; derivation in docs/math.md).
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import Tensor

from sictl.core.exact.gmm import GaussianMixture, gmm_fields
from sictl.core.interpolants.schedules import Schedule, as_time
from sictl.core.sampling.drift import Drift
from sictl.core.sampling.noise import DiagonalNoise, FourierNoise, even_half

__all__ = ["gaussian_mode_rate", "DiagonalGaussianDrift", "FourierGaussianDrift", "GaussianMixtureDrift"]


def gaussian_mode_rate(schedule: Schedule, t: float | Tensor, base_var: Tensor, target_var: Tensor) -> Tensor:
    """a_k(t) = (αα̇ μ_k + ββ̇ λ_k)/(α² μ_k + β² λ_k) = ½ d/dt log(α² μ_k + β² λ_k), broadcasting.

    Uses (αα̇, ββ̇) from :meth:`Schedule.half_square_rates`, finite where α̇ or β̇ are not. A mode with
    no variance in base or target (the mean mode of a field) gets rate 0.
    """
    t = as_time(t)
    aad, bbd = schedule.half_square_rates(t)
    v = schedule(t)
    den = v.alpha**2 * base_var + v.beta**2 * target_var
    safe = torch.where(den > 0, den, torch.ones_like(den))
    return torch.where(den > 0, (aad * base_var + bbd * target_var) / safe, torch.zeros_like(den))


class DiagonalGaussianDrift(Drift):
    """Exact drift for a Gaussian target that is diagonal in the state's own coordinates.

    Each coordinate k of x is an independent mode with base variance μ_k and target variance λ_k:
    b_k(t, x) = a_k(t) x_k, a_k = (αα̇ μ_k + ββ̇ λ_k) / (α² μ_k + β² λ_k). Used for per-mode gain
    analysis (x = ones gives the gain of a solver mode by mode) and for 1-D Gaussian targets.

    Args:
        schedule: the interpolation schedule.
        target_var: (..., K) target variances λ_k, broadcast against x.
        base_var: base variances μ_k (default 1).
    """

    def __init__(self, schedule: Schedule, target_var: Tensor, base_var: Tensor | float = 1.0):
        self.schedule = schedule
        self.target_var = torch.as_tensor(target_var, dtype=torch.float64)
        self.base_var = torch.as_tensor(base_var, dtype=torch.float64)
        self.base = DiagonalNoise(self.base_var)

    def rate(self, t: float | Tensor) -> Tensor:
        """a_k(t), shape of ``target_var``."""
        return gaussian_mode_rate(self.schedule, t, self.base_var, self.target_var)

    def velocity(self, t, x):
        return self.rate(t).to(x) * x

    def sample_base(self, shape, *, generator, like):
        return self.base.sample(shape, generator=generator, like=like)


class FourierGaussianDrift(Drift):
    """Exact drift for a periodic Gaussian field whose law is diagonal in Fourier space.

    b̂_k = a_k(t) x̂_k with a_k = (αα̇ S0_k + ββ̇ S1_k)/(α² S0_k + β² S1_k) (arXiv 2509.02971),
    FFTs with norm="forward" over the trailing spatial axes.

    Args:
        schedule: interpolation schedule.
        target_power: S1, per-mode power E|x̂_k|² on the full FFT grid, shape (*spatial).
        base_power: S0, same shape (or a scalar for white noise with that per-mode variance).
    """

    def __init__(self, schedule: Schedule, target_power: Tensor, base_power: Tensor | float = 1.0):
        self.schedule = schedule
        self.target_power = torch.as_tensor(target_power, dtype=torch.float64)
        self.base = FourierNoise(torch.as_tensor(base_power, dtype=torch.float64).expand_as(self.target_power))
        self.base_power = self.base.power
        self.ndim = self.target_power.ndim

    def rate(self, t: float | Tensor) -> Tensor:
        """a_k(t) on the FFT grid."""
        return gaussian_mode_rate(self.schedule, t, self.base_power, self.target_power)

    def velocity(self, t, x):
        """Re(ifft(a ⊙ fft(x))), computed as irfft(½(a_k + a_{−k}) ⊙ rfft(x)) on the half grid.

        For real x the two are equal (the real part keeps the even part of the multiplier). Real
        transforms of a real field do half the work of complex ones and return compact tensors.
        """
        dims = tuple(range(-self.ndim, 0))
        xh = torch.fft.rfftn(x, dim=dims, norm="forward")
        xh.mul_(even_half(self.rate(t)).to(device=x.device, dtype=xh.real.dtype))
        return torch.fft.irfftn(xh, s=tuple(self.target_power.shape), dim=dims, norm="forward").to(x.dtype)

    def sample_base(self, shape, *, generator, like):
        return self.base.sample(shape, generator=generator, like=like)


class GaussianMixtureDrift(Drift):
    """Exact drift of ``x_t = α z + β x1``, ``z ~ N(0, base_var I)``, ``x1`` a Gaussian mixture.

    Args:
        schedule: the schedule the path uses (mixtures are sampled on the variance-preserving path).
        mixture: the target law, vectors of shape (batch, dim).
        base_var: variance of the white base.
    """

    def __init__(self, schedule: Schedule, mixture: GaussianMixture, base_var: float = 1.0):
        self.schedule, self.mixture, self.base_var = schedule, mixture, float(base_var)
        self.base = DiagonalNoise(torch.tensor(self.base_var, dtype=torch.float64))
        self._base = GaussianMixture.gaussian(torch.zeros(mixture.dim, dtype=torch.float64), self.base_var)

    def velocity(self, t, x):
        v = self.schedule(as_time(t).to(torch.float64))
        sv = SimpleNamespace(alpha=v.alpha, beta=v.beta, alpha_dot=v.alpha_dot, beta_dot=v.beta_dot,
                             gamma=0.0, gamma_gamma_dot=0.0)
        return gmm_fields(self._base, self.mixture, sv, x).velocity

    def sample_base(self, shape, *, generator, like):
        return self.base.sample(shape, generator=generator, like=like)
