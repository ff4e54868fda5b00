"""Fourier grids, model spectra and shell binning on periodic grids (FFT ``norm="forward"``, docs/math.md).

With ``x̂ = fftn(x, norm="forward")`` the per-mode power P(k) = E|x̂_k|² satisfies Parseval
mean_x |x|² = Σ_k P(k). 2-D shell spectra average P over the annulus |k| ∈ [κ−½, κ+½) and multiply
by 2πκ (the spectrum of the scale-adaptive paper, arXiv 2509.02971); 1-D spectra are per |k|.
:func:`mode_power` is the one place sictl computes P from fields (metrics and dataset statistics call it).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from sictl.errors import ConfigError, ShapeError

__all__ = [
    "wavenumber_norm",
    "matern_power",
    "matern_default_sigma2",
    "shell_index",
    "shell_mean",
    "shell_spectrum",
    "mode_power",
    "power_law_power",
    "gaussian_field",
    "spectral_resample",
    "bilinear_resample",
]


def wavenumber_norm(n: int, dim: int) -> Tensor:
    """|k| on the full FFT grid of an n^dim periodic grid (integer wavenumbers), float64 (n,)*dim."""
    k = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
    grids = torch.meshgrid(*([k] * dim), indexing="ij")
    return torch.sqrt(sum(g * g for g in grids))


def matern_default_sigma2(s: float, ell: float) -> float:
    """σ² = (4π² + ℓ²)^s, the normalisation that makes S(|k| = 1) = 1."""
    return (4 * math.pi**2 + ell**2) ** s


def matern_power(n: int, dim: int, s: float = 3.0, ell: float = 1.0, sigma2: float | None = None) -> Tensor:
    """Per-mode power of the Matérn field σ²(−Δ + ℓ²)^{−s} on the unit torus, mean mode set to 0.

    S(k) = σ² (4π²|k|² + ℓ²)^{−s}; default σ² makes S(|k|=1) = 1 (the Matérn fields of arXiv 2509.02971).
    """
    if n < 2 or dim not in (1, 2, 3):
        raise ConfigError(f"Matérn grid needs n ≥ 2 and dim in 1..3, got n={n}, dim={dim}")
    if not (s > 0 and ell > 0):
        raise ConfigError(f"Matérn parameters need s > 0 and ℓ > 0, got s={s}, ℓ={ell}")
    sigma2 = matern_default_sigma2(s, ell) if sigma2 is None else sigma2
    knorm = wavenumber_norm(n, dim)
    power = sigma2 * (4 * math.pi**2 * knorm**2 + ell**2) ** (-s)
    power.view(-1)[0] = 0.0
    return power


def shell_index(n: int, dim: int) -> Tensor:
    """Integer shell κ = round-half-up(|k|) of every mode; modes outside 1..n/2 get −1. Shape (n,)*dim.

    Shells are [κ−½, κ+½) for κ = 1..n/2 (2-D and 3-D). In 1-D κ = |k| exactly.
    """
    knorm = wavenumber_norm(n, dim)
    kappa = torch.floor(knorm + 0.5).to(torch.int64)
    kappa[(kappa < 1) | (kappa > n // 2)] = -1
    return kappa


def shell_mean(values: Tensor, n: int, dim: int) -> Tensor:
    """Mean of per-mode ``values`` (..., *grid) within each shell κ = 1..n/2 → (..., n/2)."""
    idx = shell_index(n, dim).reshape(-1).to(values.device)
    flat = values.reshape(*values.shape[: values.ndim - dim], -1)
    keep = idx >= 0
    sums = torch.zeros(*flat.shape[:-1], n // 2, dtype=flat.dtype, device=flat.device)
    sums.index_add_(-1, idx[keep] - 1, flat[..., keep])
    counts = torch.bincount(idx[keep] - 1, minlength=n // 2).to(flat.dtype)
    return sums / counts


def shell_spectrum(power: Tensor, n: int, dim: int) -> Tensor:
    """Spectrum from per-mode power: 2πκ × shell mean in 2-D, per-|k| mean in 1-D; κ = 1..n/2."""
    means = shell_mean(power, n, dim)
    if dim == 1:
        return means
    kappa = torch.arange(1, n // 2 + 1, dtype=means.dtype, device=means.device)
    return means * (2 * math.pi * kappa if dim == 2 else 4 * math.pi * kappa**2)


def mode_power(x, dim: int, *, channels: bool = False, total: bool = False, chunk: int | None = None,
               dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> Tensor:
    """Per-mode power |x̂_k|² of fields, x̂ = fftn over the last ``dim`` axes (``norm="forward"``).

    The mean over every leading axis, ``(..., *grid) → (*grid)``, or with ``channels=True`` over the
    first axis only, ``(n, C, *grid) → (C, *grid)``; ``total=True`` gives the sum instead of the mean
    (running statistics). ``chunk`` samples are transformed at a time (None: all at once), each
    converted to ``dtype`` and moved to ``device`` first (None: as given), so memory stays bounded
    and the input may be a CPU tensor or a numpy array. The result lives on ``device``.
    """
    t = x if isinstance(x, Tensor) else torch.as_tensor(x)
    flat = t.reshape(-1, *t.shape[(1 if channels else t.ndim - dim) :])
    n = flat.shape[0]
    if n == 0:
        raise ShapeError("no samples to compute a spectrum from")
    dims = tuple(range(-dim, 0))
    step = n if chunk is None else max(int(chunk), 1)
    acc = None
    for s in range(0, n, step):
        part = flat[s : s + step]
        if dtype is not None or device is not None:
            part = part.to(device=device, dtype=dtype)
        xh = torch.fft.fftn(part, dim=dims, norm="forward")
        p = (xh.real**2 + xh.imag**2).sum(0)
        acc = p if acc is None else acc + p
    return acc if total else acc / n


def power_law_power(n: int, dim: int, exponent: float, amplitude: float = 1.0) -> Tensor:
    """Per-mode power S(k) = amplitude · |k|^(−exponent) (integer wavenumbers), mean mode 0."""
    if n < 2 or dim not in (1, 2, 3) or not (exponent >= 0 and amplitude > 0):
        raise ConfigError(f"power law needs n ≥ 2, dim 1..3, exponent ≥ 0, amplitude > 0 (got {n}, {dim}, {exponent}, {amplitude})")
    knorm = wavenumber_norm(n, dim)
    power = amplitude * knorm.clamp_min(1.0) ** (-exponent)
    power.view(-1)[0] = 0.0
    return power


def gaussian_field(power: Tensor, batch: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Periodic Gaussian fields with E|x̂_k|² = power_k: Re(ifft(√S ⊙ (ξ_r + iξ_i)), norm="forward").

    Args:
        power: (*grid) per-mode power on the full FFT grid.
        batch: number of fields.

    Returns:
        (batch, *grid) real fields, dtype of ``power``.
    """
    shape = (batch, *power.shape)
    xr = torch.randn(shape, generator=generator, dtype=power.dtype, device=power.device)
    xi = torch.randn(shape, generator=generator, dtype=power.dtype, device=power.device)
    dims = tuple(range(-power.ndim, 0))
    return torch.fft.ifftn(power.sqrt() * torch.complex(xr, xi), dim=dims, norm="forward").real


def spectral_resample(x: Tensor, n_out: int, dim: int) -> Tensor:
    """Change the resolution of periodic fields by Fourier truncation (or zero padding).

    Modes |k_i| < n_out/2 are kept on every axis (the Nyquist line of an even output grid is dropped,
    so the result stays real); with norm="forward" the kept coefficients, and so the large scales,
    are unchanged.

    Args:
        x: (..., n, ..., n) fields on a square grid of side n over the last ``dim`` axes.
        n_out: output side.
    """
    n = x.shape[-1]
    dims = tuple(range(-dim, 0))
    xh = torch.fft.fftn(x.to(torch.float64), dim=dims, norm="forward")
    # integer wavenumbers kept on each axis, and where they sit on the input and output grids
    k = torch.arange(-(min(n, n_out) // 2) + 1, (min(n, n_out) + 1) // 2)
    if min(n, n_out) % 2:
        k = torch.arange(-(min(n, n_out) // 2), min(n, n_out) // 2 + 1)
    src = torch.meshgrid(*([k % n] * dim), indexing="ij")
    dst = torch.meshgrid(*([k % n_out] * dim), indexing="ij")
    out = torch.zeros(*x.shape[:-dim], *([n_out] * dim), dtype=xh.dtype, device=x.device)
    out[(Ellipsis, *dst)] = xh[(Ellipsis, *src)]
    return torch.fft.ifftn(out, dim=dims, norm="forward").real.to(x.dtype)


def bilinear_resample(x: Tensor, n_out: int, dim: int) -> Tensor:
    """Change the resolution by (bi)linear interpolation of cell centres (non-periodic edges)."""
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[dim]
    lead = x.shape[:-dim]
    flat = x.reshape(-1, 1, *x.shape[-dim:]).to(torch.float64)
    out = torch.nn.functional.interpolate(flat, size=(n_out,) * dim, mode=mode, align_corners=False)
    return out.reshape(*lead, *([n_out] * dim)).to(x.dtype)
