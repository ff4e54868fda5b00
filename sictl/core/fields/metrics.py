"""Metrics between a set of generated samples and a reference (docs/cli.md, "sictl evaluate SAMPLES").

Pure maths: tensors (or arrays) in, numbers and tensors out. Fields are ``(n, C, *spatial)`` on a
periodic grid, vectors ``(n, dim)``. Functions taking ``device`` do their arithmetic there (None: where
the input is) and return numbers or CPU tensors; random draws (subsets, directions) always come from
the CPU ``generator``, so a seed picks the same ones on every device. Conventions:

* spectra: per-mode power ``P(k) = mean |x̂_k|²`` (``norm="forward"``) per channel; the 2-D (3-D)
  spectrum averages P over shells ``|k| ∈ [κ−½, κ+½)`` and multiplies by 2πκ (4πκ²), κ = 1..N/2; the
  1-D spectrum is the mean of P over ±κ. The ``energy`` variant divides P by |k|² first (for a
  vorticity field this is the kinetic-energy spectrum, the plain one its enstrophy spectrum);
* relative spectral error per shell ``|E − E_ref|/E_ref``; bands are the three contiguous thirds of
  the shells (``numpy.array_split``): low, mid, high;
* Wasserstein distances between 1-D empirical laws are computed exactly (quantile functions merged
  on the union of their breakpoints), for any two sample sizes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from sictl.core.fields import spectra
from sictl.errors import ShapeError

__all__ = [
    "as_tensor",
    "nonfinite_rows",
    "channel_power",
    "shell_spectra",
    "spectral_errors",
    "band_indices",
    "wasserstein_1d",
    "pooled_values",
    "histograms",
    "moment_errors",
    "radial_correlation",
    "sliced_wasserstein",
    "mmd_rbf",
    "mixture_mode_weights",
    "principal_mode_weights",
]

BANDS = ("low", "mid", "high")


def as_tensor(x, dtype=torch.float64, device=None) -> Tensor:
    """A float64 tensor of an array or tensor (a view where possible), on ``device`` (None: where it is; arrays: CPU)."""
    if isinstance(x, Tensor):
        return x.to(dtype=dtype, device=device)
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def nonfinite_rows(x) -> Tensor:
    """Boolean (n,) mask of samples holding at least one NaN or ±inf."""
    t = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    return ~torch.isfinite(t.reshape(t.shape[0], -1)).all(dim=1)


def channel_power(x, dim: int, *, chunk: int = 256, device=None) -> Tensor:
    """Per-mode power E|x̂_k|² of fields x ``(n, C, *spatial)`` → ``(C, *spatial)``: float64, transformed
    ``chunk`` samples at a time on ``device`` (:func:`sictl.core.fields.spectra.mode_power`), returned on the CPU."""
    return spectra.mode_power(x, dim, channels=True, chunk=chunk, dtype=torch.float64, device=device).cpu()


def shell_spectra(power: Tensor, dim: int, kind: str = "power") -> tuple[Tensor, Tensor]:
    """(κ = 1..N/2, spectra ``(C, N/2)``) from per-mode power ``(C, *spatial)`` on an N^dim grid.

    ``kind="energy"`` divides the power by |k|² (|k| = 0 → 1) before binning.
    """
    n = power.shape[-1]
    if any(s != n for s in power.shape[-dim:]) or n % 2:
        raise ShapeError(f"spectra need a square grid with an even side, got {tuple(power.shape[-dim:])}")
    p = power
    if kind == "energy":
        k2 = spectra.wavenumber_norm(n, dim) ** 2
        p = power / torch.where(k2 > 0, k2, torch.ones_like(k2))
    elif kind != "power":
        raise ValueError(f"unknown spectrum kind {kind!r}")
    kappa = torch.arange(1, n // 2 + 1, dtype=torch.float64)
    return kappa, spectra.shell_spectrum(p, n, dim)


def band_indices(k: int) -> dict[str, np.ndarray]:
    """Shell indices of the low, mid and high bands: three contiguous thirds of ``range(k)``."""
    return dict(zip(BANDS, np.array_split(np.arange(k), 3)))


def spectral_errors(spectrum: Tensor, reference: Tensor) -> tuple[dict, Tensor]:
    """Relative spectral error ``|E − E_ref|/E_ref`` per shell, and its summaries.

    Args:
        spectrum, reference: ``(..., K)`` spectra on the same shells (all channels are pooled in
            the summaries).

    Returns:
        ({relative_error_mean, relative_error_max, bands: {low, mid, high: mean}, log_error_mean
        (mean |ln E − ln E_ref|), relative_l2 (‖E − E_ref‖₂/‖E_ref‖₂)}, per-shell errors).
        Shells where the reference is 0 are left out of the summaries (their error is NaN).
    """
    s, r = as_tensor(spectrum), as_tensor(reference)
    if s.shape != r.shape:
        raise ShapeError(f"spectra of different shapes {tuple(s.shape)} and {tuple(r.shape)}")
    valid = r > 0
    rel = torch.where(valid, (s - r).abs() / torch.where(valid, r, torch.ones_like(r)), torch.full_like(r, math.nan))
    if not bool(valid.any()):
        raise ShapeError("the reference spectrum is zero on every shell")
    flat = rel.reshape(-1, rel.shape[-1])

    def mean(idx) -> float:
        v = flat[:, idx]
        v = v[torch.isfinite(v)]
        return float(v.mean()) if v.numel() else math.nan

    both = valid & (s > 0)
    log_err = (torch.log(s[both]) - torch.log(r[both])).abs()
    summary = {
        "relative_error_mean": mean(np.arange(flat.shape[1])),
        "relative_error_max": float(flat[torch.isfinite(flat)].max()),
        "bands": {name: mean(idx) for name, idx in band_indices(flat.shape[1]).items()},
        "log_error_mean": float(log_err.mean()) if log_err.numel() else math.inf,
        "relative_l2": float(torch.linalg.vector_norm((s - r)[valid]) / torch.linalg.vector_norm(r[valid])),
    }
    return summary, rel


def _quantile_merge(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Sorted values of both empirical laws aligned on the union of their quantile breakpoints.

    Returns (weights, a-values, b-values) with Σ weights = 1, so W_p^p = Σ w |a − b|^p exactly.
    """
    a, b = torch.sort(a.flatten()).values, torch.sort(b.flatten()).values
    na, nb, dev = a.numel(), b.numel(), a.device
    if na == nb:
        return torch.full((na,), 1.0 / na, dtype=a.dtype, device=dev), a, b
    edges = torch.unique(torch.cat([torch.arange(1, na + 1, dtype=torch.float64, device=dev) / na,
                                    torch.arange(1, nb + 1, dtype=torch.float64, device=dev) / nb]))
    widths = torch.diff(edges, prepend=torch.zeros(1, dtype=torch.float64, device=dev))
    mid = edges - widths / 2
    ia = torch.clamp((mid * na).long(), max=na - 1)
    ib = torch.clamp((mid * nb).long(), max=nb - 1)
    return widths.to(a.dtype), a[ia], b[ib]


def wasserstein_1d(a, b, p: int = 1, *, device=None) -> float:
    """Exact W_p between the empirical laws of two 1-D samples (any sizes)."""
    w, x, y = _quantile_merge(as_tensor(a, device=device), as_tensor(b, device=device))
    return float((w * (x - y).abs() ** p).sum() ** (1.0 / p))


def pooled_values(x, max_values: int, generator: torch.Generator | None = None) -> Tensor:
    """All values of ``x`` flattened, or a uniform random subset of ``max_values`` of them."""
    v = as_tensor(x).flatten()
    if v.numel() <= max_values:
        return v
    return v[torch.randperm(v.numel(), generator=generator)[:max_values]]


def histograms(a: Tensor, b: Tensor, bins: int = 100) -> tuple[Tensor, Tensor, Tensor]:
    """(edges (bins+1,), density of a, density of b) on shared bins spanning both samples."""
    lo, hi = float(torch.minimum(a.min(), b.min())), float(torch.maximum(a.max(), b.max()))
    if hi <= lo:
        hi = lo + 1.0
    edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
    width = (hi - lo) / bins
    dens = [torch.histc(v, bins, lo, hi) / (v.numel() * width) for v in (a, b)]
    return edges, dens[0], dens[1]


def moment_errors(x, y, *, device=None) -> tuple[dict, dict[str, Tensor]]:
    """Mean and standard-deviation fields of both sets, and how far apart they are.

    ``mean_error`` = rms(μ − μ_ref)/σ_ref (σ_ref the pooled pixel std of the reference: the mean field
    of stationary data is ≈ 0, so a relative error would be meaningless); ``std_error`` =
    rms(s − s_ref)/rms(s_ref); ``norm_error`` = |mean‖x‖ − mean‖y‖|/mean‖y‖ (the authors'
    ``compute_norm``); plus pooled pixel mean and std of both. The fields are returned on the CPU.
    """
    x, y = as_tensor(x, device=device), as_tensor(y, device=device)
    mx, my = x.mean(0), y.mean(0)
    sx, sy = x.std(0, unbiased=False), y.std(0, unbiased=False)
    sigma = float(y.std(unbiased=False))
    rms = lambda v: float(torch.sqrt((v * v).mean()))  # noqa: E731
    nx = torch.linalg.vector_norm(x.reshape(len(x), -1), dim=1).mean()
    ny = torch.linalg.vector_norm(y.reshape(len(y), -1), dim=1).mean()
    summary = {
        "mean_error": rms(mx - my) / sigma if sigma > 0 else math.nan,
        "std_error": rms(sx - sy) / rms(sy) if rms(sy) > 0 else math.nan,
        "norm_error": float((nx - ny).abs() / ny) if float(ny) > 0 else math.nan,
        "pixel_mean": float(x.mean()), "pixel_mean_reference": float(y.mean()),
        "pixel_std": float(x.std(unbiased=False)), "pixel_std_reference": sigma,
    }
    return summary, {"mean": mx.cpu(), "mean_reference": my.cpu(), "std": sx.cpu(), "std_reference": sy.cpu()}


def radial_correlation(power: Tensor, mean: float, dim: int) -> tuple[Tensor, Tensor]:
    """Two-point correlation C(r) = E[(x(s) − m)(x(s + r) − m)], radially averaged, r = 0..N/2.

    By Wiener–Khinchin on the torus, C(r) = Σ_k P_c(k) e^{2πi k·r/N} with P_c the power of the centred
    field (P(0) − m² at k = 0). ``power``: ``(*spatial)`` for one channel; ``mean``: its pooled mean.
    """
    n = power.shape[-1]
    p = power.clone()
    p.view(-1)[0] = p.view(-1)[0] - mean**2
    corr = torch.fft.ifftn(p, dim=tuple(range(-dim, 0)), norm="forward").real
    rnorm = spectra.wavenumber_norm(n, dim)  # |r| with wrap-around, same lattice as |k|
    ring = torch.floor(rnorm + 0.5).long().flatten()
    keep = ring <= n // 2
    sums = torch.zeros(n // 2 + 1, dtype=torch.float64).index_add_(0, ring[keep], corr.flatten()[keep])
    counts = torch.bincount(ring[keep], minlength=n // 2 + 1).to(torch.float64)
    return torch.arange(n // 2 + 1, dtype=torch.float64), sums / counts


def sliced_wasserstein(x, y, n_projections: int = 500, generator: torch.Generator | None = None,
                       chunk: int = 64, *, device=None) -> float:
    """Sliced W2: sqrt of the mean over random unit directions θ of W2²(θ·x, θ·y), exact per direction."""
    a, b = as_tensor(x, device=device).reshape(len(x), -1), as_tensor(y, device=device).reshape(len(y), -1)
    if a.shape[1] != b.shape[1]:
        raise ShapeError(f"sample dimensions differ: {a.shape[1]} and {b.shape[1]}")
    total = 0.0
    for s in range(0, n_projections, chunk):
        theta = torch.randn(a.shape[1], min(chunk, n_projections - s), generator=generator, dtype=torch.float64)
        theta = (theta / torch.linalg.vector_norm(theta, dim=0, keepdim=True)).to(a.device)
        pa, pb = a @ theta, b @ theta
        if len(a) == len(b):  # equal sizes: sorted values pair up one to one
            total += float(((pa.sort(0).values - pb.sort(0).values) ** 2).mean(0).sum())
            continue
        for j in range(theta.shape[1]):
            w, u, v = _quantile_merge(pa[:, j], pb[:, j])
            total += float((w * (u - v) ** 2).sum())
    return math.sqrt(total / n_projections)


def mmd_rbf(x, y, max_samples: int = 512, generator: torch.Generator | None = None, *, device=None) -> dict:
    """Unbiased MMD² with k(a, b) = exp(−‖a − b‖²/(2h²)), h the median pairwise distance of the pooled set.

    Each set is subsampled (uniformly, without replacement) to at most ``max_samples``.
    """
    a, b = as_tensor(x).reshape(len(x), -1), as_tensor(y).reshape(len(y), -1)
    pick = lambda v: v if len(v) <= max_samples else v[torch.randperm(len(v), generator=generator)[:max_samples]]  # noqa: E731
    a, b = pick(a).to(device), pick(b).to(device)
    m, n = len(a), len(b)
    if m < 2 or n < 2:
        raise ShapeError("MMD needs at least 2 samples on each side")
    z = torch.cat([a, b])
    d2 = torch.cdist(z, z).pow(2)
    off = d2[~torch.eye(m + n, dtype=torch.bool, device=d2.device)]
    h2 = float(off.median())
    h2 = h2 if h2 > 0 else 1.0
    k = torch.exp(-d2 / (2 * h2))
    kxx, kyy, kxy = k[:m, :m], k[m:, m:], k[:m, m:]
    mmd2 = ((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
            - 2 * kxy.mean())
    return {"mmd2": float(mmd2), "bandwidth": math.sqrt(h2), "samples": m, "reference_samples": n}


def mixture_mode_weights(x, mixture, *, device=None) -> Tensor:
    """Fraction of samples assigned to each component of ``mixture`` (largest posterior), (K,)."""
    from sictl.core.exact.gmm import GaussianMixture

    xs = as_tensor(x, device=device).reshape(len(x), -1)
    if xs.shape[1] != mixture.dim:
        raise ShapeError(f"samples of dimension {xs.shape[1]} do not fit a mixture in dimension {mixture.dim}")
    logp = torch.stack([
        torch.log(mixture.weights[k].to(xs.device, torch.float64))
        + GaussianMixture(torch.ones(1, dtype=torch.float64), mixture.means[k : k + 1], mixture.covs[k : k + 1]).log_prob(xs)
        for k in range(mixture.n_components)
    ])
    labels = logp.argmax(0)
    return torch.bincount(labels, minlength=mixture.n_components).to("cpu", torch.float64) / len(xs)


def principal_mode_weights(x, reference, iterations: int = 100, *, device=None) -> dict:
    """Two-mode weights without a mixture: split along the reference's principal axis.

    The reference is centred and its first principal direction u found (SVD); its projections are
    split by 1-D two-means (started at the extremes) and the threshold is the midpoint of the two
    centres. Returns the fraction of samples and of reference points on each side (low, high).
    """
    xs = as_tensor(x, device=device).reshape(len(x), -1)
    ys = as_tensor(reference, device=device).reshape(len(reference), -1)
    centre = ys.mean(0)
    _, _, vh = torch.linalg.svd(ys - centre, full_matrices=False)
    u = vh[0]
    py, px = (ys - centre) @ u, (xs - centre) @ u
    lo, hi = float(py.min()), float(py.max())
    for _ in range(iterations):
        cut = 0.5 * (lo + hi)
        left, right = py[py <= cut], py[py > cut]
        if not len(left) or not len(right):
            break
        new = float(left.mean()), float(right.mean())
        if new == (lo, hi):
            break
        lo, hi = new
    cut = 0.5 * (lo + hi)
    side = lambda p: torch.stack([(p <= cut).double().mean(), (p > cut).double().mean()])  # noqa: E731
    return {"weights": side(px).cpu(), "reference_weights": side(py).cpu(), "threshold": cut, "axis": u.cpu()}
