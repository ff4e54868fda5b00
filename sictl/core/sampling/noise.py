"""Base noise z ~ N(0, C0): the one place where base draws are made (sampling and training alike).

Three laws, each a small class with ``sample(shape, *, generator, like) -> Tensor``:

* :class:`WhiteNoise` — pixel-wise N(0, σ0²), i.e. per-mode variance σ0²/n_pixels;
* :class:`DiagonalNoise` — independent coordinates with variances μ_k (vectors, per-mode analysis);
* :class:`FourierNoise` — a periodic field with per-mode power E|ẑ_k|² = S0_k on the FFT grid
  (``norm="forward"``), the spectrum-matched base of arXiv 2509.02971.

Draws are made with ``torch.randn`` from the caller's generator in ``like``'s dtype and device, so a
seeded generator gives the same draws on every run.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["WhiteNoise", "DiagonalNoise", "FourierNoise", "even_half"]


def _randn(shape, generator, like: Tensor) -> Tensor:
    return torch.randn(shape, generator=generator, dtype=like.dtype, device=like.device)


def even_half(p: Tensor) -> Tensor:
    """½(p_k + p_{−k}) on the half (rfft) grid k_last = 0..N_last/2, for p on the full FFT grid."""
    dims = tuple(range(-p.ndim, 0))
    mirrored = torch.roll(torch.flip(p, dims), shifts=(1,) * p.ndim, dims=dims)  # p at −k
    return (0.5 * (p + mirrored))[..., : p.shape[-1] // 2 + 1]


class WhiteNoise:
    """Pixel-wise N(0, std²) of any shape."""

    def __init__(self, std: float = 1.0):
        self.std = float(std)

    def sample(self, shape, *, generator: torch.Generator | None, like: Tensor) -> Tensor:
        z = _randn(shape, generator, like)
        return z if self.std == 1.0 else z.mul_(self.std)


class DiagonalNoise:
    """Independent coordinates with variances ``var`` (broadcast against the trailing axes)."""

    def __init__(self, var: Tensor):
        self.var = torch.as_tensor(var, dtype=torch.float64)

    def sample(self, shape, *, generator: torch.Generator | None, like: Tensor) -> Tensor:
        return _randn(shape, generator, like) * self.var.to(like).sqrt()


class FourierNoise:
    """A real periodic field with E|ẑ_k|² = S0_k, independent over k up to ẑ_{−k} = conj ẑ_k.

    Args:
        power: S0 on the full FFT grid, shape (*spatial); the draws have shape (..., *spatial).
    """

    def __init__(self, power: Tensor):
        self.power = torch.as_tensor(power, dtype=torch.float64)
        self.ndim = self.power.ndim
        self._colour: dict[tuple, Tensor] = {}  # (dtype, device) -> filter
        self._white = self._white_base()

    def _white_base(self) -> tuple[float, float] | None:
        """(pixel std √(n S0), factor of the mean mode √(S0_0/S0)) when S0 is one constant on every
        mode except perhaps k = 0 (white noise, mean removed or kept); None for a coloured base."""
        flat = self.power.reshape(-1)
        rest = flat[1:]
        if rest.numel() == 0 or not bool((rest == rest[0]).all()) or float(rest[0]) <= 0:
            return None
        s0 = float(rest[0])
        return math.sqrt(flat.numel() * s0), math.sqrt(float(flat[0]) / s0)

    def _filter(self, dtype: torch.dtype, device) -> Tensor:
        """√(n S0_k) on the half (rfft) grid, S0 symmetrised over ±k; computed once per dtype and device."""
        key = (dtype, str(device))
        if key not in self._colour:
            amp = (even_half(self.power) * self.power.numel()).sqrt()
            self._colour[key] = amp.to(device=device, dtype=dtype).contiguous()
        return self._colour[key]

    def sample(self, shape, *, generator: torch.Generator | None, like: Tensor) -> Tensor:
        """White noise w ~ N(0, I) filtered in Fourier space: z = irfft(√(n S0) ⊙ rfft(w)).

        With n grid points E|ŵ_k|² = 1/n, so E|ẑ_k|² = S0_k (the mean and Nyquist modes included):
        the law of Re(ifft(√S0 ⊙ (ξ_r + iξ_i))) with half the random numbers and half-size transforms.
        """
        dims = tuple(range(-self.ndim, 0))
        w = _randn(shape, generator, like)
        if self._white is not None:
            # white apart from the mean mode: √(n S0) w has every mode at S0; rescale its mean alone
            # (the mean is the k = 0 coefficient, independent of the others) — no transforms needed
            pixel_std, mean_scale = self._white
            z = w.mul_(pixel_std)
            if mean_scale != 1.0:
                z.add_(z.mean(dim=dims, keepdim=True), alpha=mean_scale - 1.0)
            return z
        spec = torch.fft.rfftn(w, dim=dims, norm="forward")
        spec.mul_(self._filter(like.dtype, like.device))
        return torch.fft.irfftn(spec, s=tuple(self.power.shape), dim=dims, norm="forward")
