"""Monte-Carlo profiles of a general Gaussian mixture on the variance-preserving path (design-schedule).

For a base N(0, σ0² I) and a target Σ_k w_k N(m_k, C_k), the drift on α = √(1 − β²) is β̇ f(β, x), and
the schedule design needs G(β) = E‖∇f‖₂² (A2), E‖f‖² (kinetic energy) and a Lipschitz estimate
sup_x ‖∇f‖₂. Everything here is closed-form per point (responsibilities, per-component affine maps,
the analytic Jacobian) and vectorised over β nodes and draws; :mod:`sictl.core.exact.design` builds clocks
from these profiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from sictl.core.exact.gmm import GaussianMixture
from sictl.core.interpolants.hermite import hermite

Profile = Callable[[Tensor], Tensor]

__all__ = ["mixture_vp_norms", "mixture_profile", "mixture_nodes", "MixtureProfile", "mixture_profile_table"]


_EXPLICIT_JACOBIAN_DIM = 32  # up to this dimension the Jacobian is formed and its exact 2-norm taken
_CHUNK_ELEMENTS = 1 << 22  # float64 elements per working tensor (β rows are processed in chunks)


def _vp_mixture_norms(mixture: GaussianMixture, base_var: float, beta: Tensor, x: Tensor,
                      power_iterations: int) -> tuple[Tensor, Tensor]:
    """(‖∇f‖₂², ‖f‖²) at points x (n, P, d), one β (n,) per row, for f = b/β̇ on the VP path.

    With S_k = α² σ0² I + β² C_k, u_k = S_k⁻¹(x − β m_k) and responsibilities ρ_k, the per-component
    drift is g_k = m_k + A_k(x − β m_k), A_k = β (C_k − σ0² I) S_k⁻¹ (no 1/α: exact up to β = 1), f = Σ ρ_k g_k,
    and since ∇ρ_k = −ρ_k (u_k − ū)ᵀ the Jacobian is ∇f = Σ ρ_k A_k − Σ ρ_k (g_k − f)(u_k − ū)ᵀ.
    Small d: the spectral norm of the explicit Jacobian; large d: block subspace iteration with these
    products (J is symmetric: f = x/β + (σ0²/β)∇log ρ_β).
    """
    w, m, c = (getattr(mixture, k).to(torch.float64) for k in ("weights", "means", "covs"))
    k, d = m.shape
    eye = torch.eye(d, dtype=torch.float64)
    b = beta.reshape(-1, 1, 1, 1)
    chol = torch.linalg.cholesky((1 - b * b) * base_var * eye + b * b * c)  # (n, K, d, d)
    s_inv = torch.cholesky_solve(eye.expand_as(chol), chol)  # S_k⁻¹, symmetric (d small or chunked)
    resid = x[:, None] - b * m[None, :, None, :]  # (n, K, P, d)
    u = resid @ s_inv
    logdet = 2 * torch.log(chol.diagonal(0, -2, -1)).sum(-1)
    rho = torch.softmax(torch.log(w)[:, None] - 0.5 * ((resid * u).sum(-1) + logdet[..., None]), dim=1)  # (n, K, P)
    dk = b * (c - base_var * eye)  # (n, K, d, d)
    g = m[None, :, None, :] + (dk @ u.mT).mT
    f = (rho[..., None] * g).sum(1)
    a_k = dk @ s_inv  # β (C_k − σ0² I) S_k⁻¹
    gd = rho[..., None] * (g - f[:, None])
    ud = u - (rho[..., None] * u).sum(1)[:, None]
    if d <= _EXPLICIT_JACOBIAN_DIM:
        jac = (rho.transpose(1, 2) @ a_k.reshape(-1, k, d * d)).reshape(*x.shape, d)
        jac = jac - gd.permute(0, 2, 3, 1) @ ud.permute(0, 2, 1, 3)
        return _spectral_norm2(jac), (f * f).sum(-1)

    def jmat(v: Tensor) -> Tensor:  # J V for V (n, P, d, b)
        av = (rho[:, :, :, None, None] * (a_k[:, :, None] @ v[:, None])).sum(1)
        return av - torch.einsum("nkpd,nkpb->npdb", gd, torch.einsum("nkpd,npdb->nkpb", ud, v))

    # f = x/β + (σ0²/β)∇log ρ_β is a gradient, so J is symmetric: block subspace iteration with a
    # Rayleigh–Ritz step finds the largest |eigenvalue| even when the top ones are close
    width = min(d, 6)
    v = torch.linalg.qr(torch.cos(torch.arange(d * width, dtype=torch.float64).reshape(d, width) * 1.618))[0]
    v = v.expand(*x.shape[:2], d, width)
    for _ in range(power_iterations):
        v = torch.linalg.qr(jmat(v))[0]
    t = v.mT @ jmat(v)
    ritz = torch.linalg.eigvalsh(0.5 * (t + t.mT))
    return ritz.abs().max(-1).values ** 2, (f * f).sum(-1)


def _spectral_norm2(jac: Tensor) -> Tensor:
    """‖J‖₂² of a batch of small square matrices: closed forms for d ≤ 2, else the largest |eigenvalue|
    of the (symmetric) Jacobian."""
    d = jac.shape[-1]
    if d == 1:
        return jac[..., 0, 0] ** 2
    if d == 2:
        fro = (jac * jac).sum((-2, -1))
        det = jac[..., 0, 0] * jac[..., 1, 1] - jac[..., 0, 1] * jac[..., 1, 0]
        return 0.5 * (fro + (fro * fro - 4 * det * det).clamp_min(0).sqrt())
    return torch.linalg.eigvalsh(0.5 * (jac + jac.mT)).abs().max(-1).values ** 2  # J is symmetric


def mixture_vp_norms(mixture: GaussianMixture, beta: Tensor, x: Tensor, *, base_var: float = 1.0,
                     power_iterations: int = 30) -> tuple[Tensor, Tensor]:
    """‖∇f(β, x)‖₂² and ‖f(β, x)‖² for f = b/β̇ of N(0, base_var I) → ``mixture`` on the VP path.

    Args:
        beta: (n,) values in [0, 1]. x: (n, P, d) points, row i at β_i.

    Returns:
        Two (n, P) tensors, float64, computed in chunks of β rows (analytic Jacobian, no autograd).
    """
    beta = torch.as_tensor(beta, dtype=torch.float64).flatten()
    x = torch.as_tensor(x, dtype=torch.float64)
    k, d = mixture.n_components, mixture.dim
    per_row = x.shape[1] * (4 * k * d + 2 * d * d + (6 * k * d if d > _EXPLICIT_JACOBIAN_DIM else 0)) + 3 * k * d * d
    step = max(1, _CHUNK_ELEMENTS // per_row)
    parts = [_vp_mixture_norms(mixture, base_var, beta[i:i + step], x[i:i + step], power_iterations)
             for i in range(0, beta.numel(), step)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _segment_points(mixture: GaussianMixture, budget: int = 4096) -> Tensor:
    """Points m_i + s (m_j − m_i), s ∈ [−½, 3/2], on the line through every pair of centres (scaled by β
    later): where the responsibilities switch and ‖∇f‖ peaks (the midpoint, always included, for two
    equal modes). At most 81 per pair and about ``budget`` in all."""
    m = mixture.means.to(torch.float64)
    pairs = max(1, m.shape[0] * (m.shape[0] - 1) // 2)
    per_pair = 2 * max(4, min(40, budget // (2 * pairs))) + 1  # odd: s = ½ is a node
    s = torch.linspace(-0.5, 1.5, per_pair, dtype=torch.float64)[:, None]
    pts = [m[i] + s * (m[j] - m[i]) for i in range(m.shape[0]) for j in range(i + 1, m.shape[0])]
    return torch.cat(pts) if pts else m[:0]


def _mc_draws(mixture: GaussianMixture, base_var: float, samples: int, seed: int) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x1 = mixture.sample(samples, generator=gen).to(torch.float64)
    z = torch.randn(x1.shape, generator=gen, dtype=torch.float64) * math.sqrt(base_var)
    return x1, z


def _vp_points(beta: Tensor, z: Tensor, x1: Tensor, seg: Tensor) -> Tensor:
    """(B, S + P, d) evaluation points per β: the VP interpolants αz + βx1 of the S draws, then the P
    segment points scaled by β (the lines between the β-scaled centres)."""
    a = (1 - beta * beta).sqrt()[:, None, None]
    b = beta[:, None, None]
    return torch.cat([a * z + b * x1, b * seg.expand(beta.numel(), -1, -1)], 1)


def mixture_profile(
    mixture: GaussianMixture,
    criterion: str = "a2",
    *,
    base_var: float = 1.0,
    samples: int = 2048,
    power_iterations: int = 30,
    seed: int = 0,
    reduce: str = "mean",
) -> Profile:
    """G(β) = E‖∇f‖₂² (or E‖f‖²) for a general mixture by Monte Carlo on the exact drift.

    f(β, x) = b(β, x)/β̇ on the VP path with base N(0, base_var I), x = αz + βx1. The same base and
    target draws (fixed seed) are used at every β, so G is a smooth function of β; all β of a call
    are evaluated together (:func:`mixture_vp_norms`). ``reduce="max"`` gives the largest value over
    the draws and over points on the lines between the (β-scaled) centres (an empirical sup).
    """
    x1, z = _mc_draws(mixture, base_var, samples, seed)
    seg = _segment_points(mixture) if reduce == "max" else x1[:0]

    def g(beta: Tensor) -> Tensor:
        b = torch.as_tensor(beta, dtype=torch.float64)
        flat = b.flatten().clamp(0.0, 1.0)
        x = _vp_points(flat, z, x1, seg)
        jac2, f2 = mixture_vp_norms(mixture, flat, x, base_var=base_var, power_iterations=power_iterations)
        v = jac2 if criterion == "a2" else f2
        out = v.max(1).values if reduce == "max" else v[:, :samples].mean(1)
        return out.reshape(b.shape)

    return g


def _slope_at_zero(mixture: GaussianMixture, base_var: float) -> float:
    """lim_{β→0} ‖∇f‖/β = ‖Cov(x1)/σ0² − I‖₂, exactly (∇f → β(Cov(x1)/σ0² − I) for every x)."""
    w, m, c = (getattr(mixture, k).to(torch.float64) for k in ("weights", "means", "covs"))
    mean = w @ m
    cov = (w[:, None, None] * (c + m[:, :, None] * m[:, None, :])).sum(0) - mean[:, None] * mean[None, :]
    return float(torch.linalg.eigvalsh(cov / base_var - torch.eye(m.shape[1], dtype=torch.float64)).abs().max())


def mixture_nodes() -> Tensor:
    """β nodes of a Monte-Carlo profile: uniform (1/128), plus geometric refinement towards β = 0 (where
    separated components switch responsibilities, β|Δm| ~ σ0) and in α towards β = 1 (where a narrow
    component, C ≪ σ0², makes f ∝ (α²σ0² + β²C)⁻¹ steep)."""
    alpha = np.geomspace(1e-3, 0.3, 48)
    nodes = np.concatenate([np.linspace(0.0, 1.0, 129), np.geomspace(1e-3, 1 / 128, 12), np.sqrt(1 - alpha**2)])
    return torch.tensor(np.unique(nodes), dtype=torch.float64)


def _pchip(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Shape-preserving piecewise cubic Hermite interpolant (Fritsch–Carlson slopes): monotone on
    every interval where the data are, so it never leaves the range of neighbouring values."""
    h, delta = np.diff(x), np.diff(y) / np.diff(x)
    slope = np.zeros_like(y)
    w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
    agree = delta[:-1] * delta[1:] > 0
    left, right = np.where(agree, delta[:-1], 1.0), np.where(agree, delta[1:], 1.0)
    slope[1:-1] = np.where(agree, (w1 + w2) / (w1 / left + w2 / right), 0.0)  # weighted harmonic mean
    for end, (h0, h1, d0, d1) in ((0, (h[0], h[1], delta[0], delta[1])), (-1, (h[-1], h[-2], delta[-1], delta[-2]))):
        s = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)  # one-sided three-point slope, made shape preserving
        if np.sign(s) != np.sign(d0):
            s = 0.0
        elif np.sign(d0) != np.sign(d1) and abs(s) > 3 * abs(d0):
            s = 3 * d0
        slope[end] = s

    def f(t: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(x, t, side="right") - 1, 0, x.size - 2)
        u = (t - x[i]) / h[i]
        return hermite(u, y[i], h[i] * slope[i], y[i + 1], h[i] * slope[i + 1])

    return f


@dataclass
class MixtureProfile:
    """Monte-Carlo profiles of a general mixture on β nodes, with smooth interpolants.

    Attributes:
        nodes: β nodes, 0 first.
        root_a2: √E‖∇f‖₂² at the nodes.  root_kinetic: √E‖f‖².
        root_max: √ of the largest ‖∇f‖₂² over the draws and the centre lines (per unit β̇: the
            Lipschitz estimate at that β).
        slope0: lim_{β→0} ‖∇f‖/β = ‖Cov(x1)/σ0² − I‖₂ (exact, the same for the mean and the max).

    Near β = 0, ‖∇f‖ = β slope0 + O(β²) for every x: the A2 profile and the Lipschitz estimate are
    interpolated as √G/β (shape-preserving cubic, exact value slope0 at 0), so √G(0) = 0 exactly and
    the clock's β ~ √t start comes out analytically; the kinetic profile is interpolated as √G.
    """

    nodes: Tensor
    root_a2: Tensor
    root_kinetic: Tensor
    root_max: Tensor
    slope0: float

    def _interp(self, values: Tensor, over_beta: bool) -> Profile:
        b, q = self.nodes.numpy(), values.numpy().copy()
        if over_beta:
            q[1:], q[0] = q[1:] / b[1:], self.slope0
        # in log scale: rational growth (a narrow component) and exponential decay (separated modes)
        # both become gentle; shape preserving, so no overshoot between nodes
        spline = _pchip(b, np.log(np.maximum(q, 1e-300)))

        def f(beta: Tensor) -> Tensor:
            bb = torch.as_tensor(beta, dtype=torch.float64).clamp(0.0, 1.0)
            out = torch.from_numpy(np.exp(spline(bb.numpy().reshape(-1))).reshape(bb.shape))
            out = torch.where(out > 1e-299, out, torch.zeros_like(out))
            return out * bb if over_beta else out

        return f

    def root_profile(self, criterion: str = "a2") -> Profile:
        """β ↦ √G(β) of a criterion ("a2" or "kinetic")."""
        return self._interp(self.root_a2, True) if criterion == "a2" else self._interp(self.root_kinetic, False)

    def root_max_profile(self) -> Profile:
        """β ↦ the Lipschitz estimate per unit β̇ (√ of the largest ‖∇f‖₂²)."""
        return self._interp(self.root_max, True)

    def profile(self, criterion: str = "a2") -> Profile:
        """β ↦ G(β), for :func:`optimal_vp_clock`."""
        root = self.root_profile(criterion)
        return lambda beta: root(beta) ** 2

    def lipschitz_ratio(self, criterion: str = "a2") -> float:
        """sup_β L(β)/√G(β) over the nodes, the β → 0 limit included (1 for A2: both are β slope0).

        A clock with β̇ = H(1)/√G(β) has Lipschitz constant H(1) times this (:meth:`ClockDesign.lipschitz`
        for an analytic ratio); taken at the nodes, where the Monte-Carlo values are exact.
        """
        den = (self.root_a2 if criterion == "a2" else self.root_kinetic)[1:]
        num = self.root_max[1:]
        ratio = torch.where(den > 0, num / den.clamp_min(1e-300), torch.where(num > 0, math.inf, 0.0))
        return max(1.0 if criterion == "a2" else 0.0, float(ratio.max()))


def mixture_profile_table(
    mixture: GaussianMixture,
    *,
    base_var: float = 1.0,
    samples: int = 2048,
    seed: int = 0,
    power_iterations: int = 30,
) -> MixtureProfile:
    """One Monte-Carlo pass over :func:`mixture_nodes`: both criteria's √G and the Lipschitz estimate."""
    beta = mixture_nodes()
    x1, z = _mc_draws(mixture, base_var, samples, seed)
    x = _vp_points(beta, z, x1, _segment_points(mixture))
    jac2, f2 = mixture_vp_norms(mixture, beta, x, base_var=base_var, power_iterations=power_iterations)
    return MixtureProfile(beta, jac2[:, :samples].mean(1).sqrt(), f2[:, :samples].mean(1).sqrt(),
                          jac2.max(1).values.sqrt(), _slope_at_zero(mixture, base_var))
