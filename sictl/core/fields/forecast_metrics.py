"""Scores of ensemble forecasts against the truth (docs/cli.md, "sictl evaluate FORECASTS --truth TRUTH").

Pure maths, arrays in and numbers out (float64). An ensemble is ``fct`` of shape ``(n, M, *field)``
(n conditions, M members) and the truth ``obs`` of shape ``(n, *field)``; ``field`` is any number of
axes (channels and grid), every point of which is scored as one scalar forecast. The estimators are
our own, O(M log M) per point in time and O(M) in memory, tested against the ``scoringrules``
package (``crps_ensemble(estimator="fair")``, ``es_ensemble(estimator="fair")``) to 1e-10 in
tests/core/test_forecast_metrics.py: the library's numpy estimators hold an (M, M) matrix per point,
too much for a 128² field with hundreds of members.

* **fair CRPS** (Ferro 2014, doi:10.1002/qj.2270; Zamo & Naveau 2018, doi:10.1007/s11004-017-9709-7)
  ``CRPS = (1/M) Σ_i |x_i − y| − 1/(2M(M−1)) Σ_{i,j} |x_i − x_j|``, an unbiased estimator of the CRPS
  of the law the members are drawn from. The double sum is ``2 Σ_i (2i − M − 1) x_(i)`` over the
  sorted members.
* **fair energy score** (Gneiting & Raftery 2007, doi:10.1198/016214506000001437) of the whole field as
  one vector: ``(1/M) Σ_i ‖x_i − y‖ − 1/(2M(M−1)) Σ_{i,j} ‖x_i − x_j‖``.
* **spread–skill** (Fortin et al. 2014, doi:10.1175/JHM-D-14-0008.1): the mean squared error of the
  ensemble mean and the unbiased ensemble variance are averaged over the field and the conditions
  *before* the ratio ``SSR = √((M+1)/M) · √mean(var) / √mean(mse)`` is taken; the factor makes
  SSR = 1 in expectation for members and truth drawn from one law (E mse = (1 + 1/M) σ²). Its
  standard error is the delta method over conditions (treated as independent).
* **rank (Talagrand) histogram**: the rank of y among the members, 0..M, ties broken at random;
  flatness as ``χ² = Σ_r (s_r − N/(M+1))² / (N/(M+1))`` (M degrees of freedom when the N points are
  independent; pixels of one field are not) and ``δ = χ²/M`` (Candille & Talagrand 2005,
  doi:10.1256/qj.04.71), ≈ 1 for a calibrated ensemble of independent points.
* **KL between 1-D laws** (total energy, total enstrophy; Table 3 of arXiv 2403.13724):
  ``KL(p ‖ q) = ∫ p log(p/q)`` of Gaussian kernel density estimates (Scott's bandwidth σ̂ n^(−1/5), as
  ``scipy.stats.gaussian_kde``) on a shared grid of 2048 points spanning both samples ± 4 bandwidths.
* **autocorrelation across a rollout**: per grid point, the Pearson correlation over samples of the
  field at the first lead with the field at lead ℓ, averaged over grid points (Fig. 7 of arXiv
  2403.13724 averages over grid points the same way).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sictl.errors import ShapeError

__all__ = [
    "crps_fair",
    "crps_gaussian",
    "energy_score_fair",
    "mse_and_variance",
    "spread_skill",
    "rank_counts",
    "rank_flatness",
    "kl_kde",
    "field_totals",
    "PixelCorrelation",
]


def _check(obs: np.ndarray, fct: np.ndarray) -> int:
    if fct.ndim != obs.ndim + 1 or fct.shape[0] != obs.shape[0] or fct.shape[2:] != obs.shape[1:]:
        raise ShapeError(f"ensemble {fct.shape} does not fit the truth {obs.shape}: need (n, M, *field) and (n, *field)")
    m = fct.shape[1]
    if m < 2:
        raise ShapeError(f"the fair estimators need at least 2 members, got {m}", hint="forecast with --members ≥ 2")
    return m


def crps_fair(obs, fct) -> np.ndarray:
    """Fair CRPS of every point: obs ``(n, *field)``, fct ``(n, M, *field)`` → ``(n, *field)``."""
    obs, fct = np.asarray(obs, np.float64), np.asarray(fct, np.float64)
    m = _check(obs, fct)
    skill = np.abs(fct - obs[:, None]).mean(axis=1)
    weights = (2.0 * np.arange(1, m + 1) - m - 1).reshape(1, m, *([1] * (fct.ndim - 2)))
    pair_sum = 2.0 * (np.sort(fct, axis=1) * weights).sum(axis=1)  # Σ_{i,j} |x_i − x_j|
    return skill - pair_sum / (2.0 * m * (m - 1))


def crps_gaussian(obs, mu, sigma) -> np.ndarray:
    """CRPS of N(μ, σ²) at y (Gneiting et al. 2005, doi:10.1175/MWR2904.1): σ[z(2Φ(z)−1) + 2φ(z) − 1/√π]."""
    z = (np.asarray(obs, np.float64) - mu) / sigma
    phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    from scipy.special import ndtr

    cdf = ndtr(z)
    return sigma * (z * (2 * cdf - 1) + 2 * phi - 1 / math.sqrt(math.pi))


def energy_score_fair(obs, fct, *, device=None) -> np.ndarray:
    """Fair energy score of each condition, the field as one vector: ``(n, *field)``, ``(n, M, *field)`` → ``(n,)``."""
    obs, fct = np.asarray(obs), np.asarray(fct)
    m = _check(obs, fct)
    x = torch.as_tensor(fct, dtype=torch.float64, device=device).reshape(fct.shape[0], m, -1)
    y = torch.as_tensor(obs, dtype=torch.float64, device=device).reshape(obs.shape[0], 1, -1)
    skill = torch.linalg.vector_norm(x - y, dim=-1).mean(-1)
    pairs = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist").sum((-2, -1))
    return (skill - pairs / (2.0 * m * (m - 1))).cpu().numpy()


def mse_and_variance(obs, fct) -> tuple[np.ndarray, np.ndarray]:
    """Per condition, the field-mean squared error of the ensemble mean and the field-mean unbiased
    ensemble variance: ``(n, *field)``, ``(n, M, *field)`` → two ``(n,)`` arrays."""
    obs, fct = np.asarray(obs, np.float64), np.asarray(fct, np.float64)
    _check(obs, fct)
    n = obs.shape[0]
    mse = ((fct.mean(axis=1) - obs) ** 2).reshape(n, -1).mean(-1)
    var = fct.var(axis=1, ddof=1).reshape(n, -1).mean(-1)
    return mse, var


def spread_skill(mse, var, members: int) -> dict:
    """RMSE of the ensemble mean, spread, SSR = √((M+1)/M)·spread/RMSE and its standard error.

    Args:
        mse, var: per-condition field means from :func:`mse_and_variance` (``(n,)`` each).
        members: M.

    Returns:
        ``{rmse, spread, ratio, ratio_se}``; ``ratio_se`` is NaN for fewer than 2 conditions.
    """
    mse, var = np.asarray(mse, np.float64).ravel(), np.asarray(var, np.float64).ravel()
    n, factor = len(mse), math.sqrt((members + 1) / members)
    a, b = float(mse.mean()), float(var.mean())
    rmse, spread = math.sqrt(a), math.sqrt(b)
    ratio = factor * spread / rmse if rmse > 0 else math.nan
    se = math.nan
    if n >= 2 and a > 0 and b > 0:
        # log SSR = ½ (log mean var − log mean mse) + const: delta method with the sample covariance
        cov = np.cov(np.stack([var, mse]), ddof=1) / n
        var_log = 0.25 * (cov[0, 0] / b**2 + cov[1, 1] / a**2 - 2 * cov[0, 1] / (a * b))
        se = ratio * math.sqrt(max(var_log, 0.0))
    return {"rmse": rmse, "spread": spread, "ratio": ratio, "ratio_se": se}


def rank_counts(obs, fct, rng: np.random.Generator) -> np.ndarray:
    """Counts ``(M+1,)`` of the rank of y among the M members at every point, ties broken uniformly."""
    obs, fct = np.asarray(obs), np.asarray(fct)
    m = _check(obs, fct)
    below = (fct < obs[:, None]).sum(axis=1)
    ties = (fct == obs[:, None]).sum(axis=1)
    rank = below + (np.floor(rng.random(ties.shape) * (ties + 1)).astype(np.int64) if ties.any() else 0)
    return np.bincount(rank.ravel(), minlength=m + 1).astype(np.int64)


def rank_flatness(counts) -> dict:
    """χ² of the counts against a flat histogram, its degrees of freedom M and δ = χ²/M."""
    s = np.asarray(counts, np.float64)
    expected = s.sum() / len(s)
    chi2 = float(((s - expected) ** 2).sum() / expected) if expected > 0 else math.nan
    dof = len(s) - 1
    return {"chi2": chi2, "dof": dof, "delta": chi2 / dof}


def _kde(samples: np.ndarray, grid: np.ndarray, h: float) -> np.ndarray:
    """Gaussian KDE of ``samples`` with bandwidth h on a uniform ``grid`` (linear binning, then a
    convolution with the kernel sampled on the grid: O(n + G·K), the usual fast KDE)."""
    step = grid[1] - grid[0]
    pos = (samples - grid[0]) / step
    left = np.clip(np.floor(pos).astype(np.int64), 0, len(grid) - 2)
    frac = pos - left
    weights = np.bincount(left, 1 - frac, len(grid)) + np.bincount(left + 1, frac, len(grid))
    half = min(math.ceil(6 * h / step), len(grid) - 1)  # no two grid points lie further apart
    offsets = np.arange(-half, half + 1) * step
    kernel = np.exp(-0.5 * (offsets / h) ** 2) / (h * math.sqrt(2 * math.pi))
    return np.convolve(weights, kernel)[half : half + len(grid)] / len(samples)


def kl_kde(p, q, *, points: int = 2048) -> float:
    """KL(p ‖ q) of Gaussian kernel density estimates of two 1-D samples (NaN when one is degenerate).

    Bandwidths by Scott's rule h = σ̂ n^(−1/5) (as ``scipy.stats.gaussian_kde``); both densities on one
    grid of ``points`` points spanning both samples ± 4 of the larger bandwidth, normalised there.
    """
    p, q = np.asarray(p, np.float64).ravel(), np.asarray(q, np.float64).ravel()
    if len(p) < 2 or len(q) < 2 or not (p.std() > 0 and q.std() > 0):
        return math.nan
    hp, hq = (x.std(ddof=1) * len(x) ** -0.2 for x in (p, q))
    pad = 4 * max(hp, hq)
    grid = np.linspace(min(p.min(), q.min()) - pad, max(p.max(), q.max()) + pad, points)
    dp, dq = _kde(p, grid, hp), _kde(q, grid, hq)
    dp, dq = dp / np.trapezoid(dp, grid), dq / np.trapezoid(dq, grid)
    tiny = np.finfo(np.float64).tiny
    integrand = np.where(dp > tiny, dp * (np.log(np.maximum(dp, tiny)) - np.log(np.maximum(dq, tiny))), 0.0)
    return float(max(np.trapezoid(integrand, grid), 0.0))


def field_totals(x, dim: int, *, vorticity: bool) -> dict[str, np.ndarray]:
    """Per-field totals ``(...)`` of fields ``(..., C, *grid)`` on a ``dim``-D grid: for 2-D vorticity
    (C = 1) the kinetic energy ½⟨|v|²⟩ and the enstrophy ½⟨ω²⟩ (:mod:`sictl.core.simulators.navier_stokes`),
    otherwise ``square`` = ½ Σ_c ⟨x_c²⟩ (⟨·⟩ the grid mean)."""
    x = np.asarray(x)
    if vorticity:
        from sictl.core.simulators.navier_stokes import energy, enstrophy

        if dim != 2 or x.shape[-3] != 1:
            raise ShapeError(f"energy and enstrophy need 2-D vorticity fields of one channel, got {x.shape[-3:]}",
                             hint="--no-vorticity scores other fields")
        w = torch.as_tensor(x[..., 0, :, :], dtype=torch.float64)
        return {"energy": energy(w).numpy(), "enstrophy": enstrophy(w).numpy()}
    flat = np.asarray(x, np.float64).reshape(*x.shape[: x.ndim - dim - 1], -1)
    return {"square": 0.5 * (flat**2).mean(-1) * x.shape[x.ndim - dim - 1]}


class PixelCorrelation:
    """Running per-point Pearson correlation of the field at the first lead with every lead.

    ``update(x)`` takes samples ``(n, L, *field)``; ``result()`` gives ``(L,)``: the mean over points
    of corr(x_0, x_ℓ) (points where either variance vanishes are left out; 1 at ℓ = 0).
    """

    def __init__(self):
        self.n = 0
        self.sums = None

    def update(self, x) -> None:
        x = np.asarray(x, np.float64)
        x0 = x[:, :1]
        parts = (x0.sum(0), x.sum(0), (x0 * x0).sum(0), (x * x).sum(0), (x0 * x).sum(0))
        self.sums = parts if self.sums is None else tuple(a + b for a, b in zip(self.sums, parts))
        self.n += x.shape[0]

    def result(self) -> np.ndarray:
        if self.sums is None or self.n < 2:
            return np.full(0 if self.sums is None else self.sums[1].shape[0], math.nan)
        s0, s, s00, ss, s0s = (a / self.n for a in self.sums)
        cov = s0s - s0 * s
        v0, v = s00 - s0 * s0, ss - s * s
        ok = (v0 > 0) & (v > 0)
        rho = np.where(ok, cov / np.sqrt(np.where(ok, v0 * v, 1.0)), 0.0)
        lead_axis_sum = rho.reshape(rho.shape[0], -1).sum(-1)
        count = ok.reshape(ok.shape[0], -1).sum(-1)
        return np.where(count > 0, lead_axis_sum / np.maximum(count, 1), math.nan)
