"""Gaussian mixtures and the exact interpolant fields between them.

For ``x_t = α x0 + β x1 + γ z`` with ``x0 ~ Σ_i p0_i N(m0_i, C0_i)``, ``x1 ~ Σ_j p1_j N(m1_j, C1_j)`` and
``z ~ N(0, I)`` independent, ``x_t`` is the mixture ``Σ_ij p0_i p1_j N(m_ij, C_ij)`` with
``m_ij = α m0_i + β m1_j`` and ``C_ij = α² C0_i + β² C1_j + γ² I`` (arXiv 2303.08797).
Every field (velocity, score, denoisers) is a responsibility-weighted sum of per-pair affine maps.
The responsibilities are computed in float64 from log-densities with log-sum-exp and Cholesky solves,
so far-out points (|x| ~ 100) and high dimensions (d ~ 1000) neither underflow nor overflow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, NamedTuple

import torch
from torch import Tensor

from sictl.errors import ConfigError, ConvergenceError, ShapeError

_F64 = torch.float64
_CHUNK_ELEMENTS = 1 << 22  # pairs of full d×d covariances factorised at once: c·d² ≤ this
_KEYS = ("weights", "means", "covs")


def _cov_stack(c: Any, k: int, d: int, dtype: torch.dtype) -> Tensor:
    """(K, d, d) covariances from a scalar, K variances, K diagonals (K, d) or full (K, d, d)."""
    t = torch.as_tensor(c, dtype=dtype)
    if t.ndim == 0:
        t = t.expand(k)
    if t.ndim == 1 and t.shape[0] == k:
        return t[:, None, None] * torch.eye(d, dtype=dtype, device=t.device)
    if t.ndim == 2 and t.shape == (k, d):
        return torch.diag_embed(t)
    if t.ndim == 3:
        return t
    raise ShapeError(f"covariances of shape {tuple(t.shape)} do not fit {k} components in dimension {d}",
                     hint="give per-component variances (K,), diagonals (K, d) or matrices (K, d, d)")


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """``Σ_k w_k N(m_k, C_k)`` in ``R^d``.

    Attributes:
        weights: (K,) positive, summing to 1 (within 1e-9 in float64).
        means: (K, d).
        covs: (K, d, d) symmetric positive definite.
    """

    weights: Tensor
    means: Tensor
    covs: Tensor
    _chol: Tensor = field(init=False, repr=False)
    _diagonal: bool = field(init=False, repr=False)

    def __post_init__(self):
        try:
            vals = [v if isinstance(v, Tensor) else torch.as_tensor(v, dtype=_F64)
                    for v in (self.weights, self.means, self.covs)]
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"mixture parameters are not numeric arrays: {exc}",
                              hint="weights, means and covs must be (nested) lists of numbers") from None
        dtype = _F64
        if all(v.is_floating_point() for v in vals):
            dtype = torch.promote_types(torch.promote_types(vals[0].dtype, vals[1].dtype), vals[2].dtype)
        w, m, c = (v.to(dtype=dtype, device=vals[0].device) for v in vals)
        k, d = (m.shape[0], m.shape[-1]) if m.ndim == 2 else (-1, -1)
        if w.shape != (k,) or k < 1 or d < 1 or c.shape != (k, d, d):
            raise ShapeError(f"shapes {tuple(w.shape)}, {tuple(m.shape)}, {tuple(c.shape)} do not match",
                             hint="weights must be (K,), means (K, d) and covs (K, d, d)")
        for name, v in zip(_KEYS, (w, m, c)):
            if not bool(torch.isfinite(v).all()):
                raise ConfigError(f"mixture {name} contain non-finite values (NaN or inf)",
                                  hint=f"check the {name} of the mixture")
        if bool((w <= 0).any()):
            raise ConfigError(f"mixture weights must be positive, got {w.tolist()}",
                              hint="drop zero-weight components or fix their sign")
        total = float(w.to(_F64).sum())
        if abs(total - 1.0) > max(1e-9, 8 * torch.finfo(dtype).eps):
            raise ConfigError(f"mixture weights sum to {total:.17g}, not 1",
                              hint="normalise the weights so that they sum to 1")
        if float((c - c.mT).abs().max()) > 64 * torch.finfo(dtype).eps * float(c.abs().max()):
            raise ConfigError("mixture covariances are not symmetric", hint="use C = (C + C^T)/2")
        chol, info = torch.linalg.cholesky_ex(c.to(_F64))
        if bool((info != 0).any()):
            bad = int(torch.nonzero(info)[0])
            raise ConfigError(f"covariance of component {bad} is not positive definite",
                              hint="every covariance must be symmetric positive definite")
        diagonal = bool((c == torch.diag_embed(c.diagonal(0, -2, -1))).all())
        for name, v in zip(_KEYS + ("_chol", "_diagonal"), (w, m, c, chol.to(dtype), diagonal)):
            object.__setattr__(self, name, v)

    @classmethod
    def two_mode(cls, M: float, p: float = 0.5, dim: int = 1, *, dtype=torch.float64) -> GaussianMixture:
        """``p N(r, I) + (1-p) N(-r, I)`` with ``r = (M/√dim)(1, …, 1)``, so ``|r| = M``."""
        p = float(p)
        if not 0.0 < p < 1.0:
            raise ConfigError(f"two-mode weight p = {p} must lie in (0, 1)", hint="e.g. p = 0.3")
        if int(dim) != dim or dim < 1 or not math.isfinite(float(M)):
            raise ConfigError(f"two-mode needs a finite M and dim ≥ 1, got M = {M}, dim = {dim}")
        r = torch.full((int(dim),), float(M) / math.sqrt(dim), dtype=dtype)
        eye = torch.eye(int(dim), dtype=dtype)
        return cls(torch.tensor([p, 1.0 - p], dtype=dtype), torch.stack([r, -r]), torch.stack([eye, eye]))

    @classmethod
    def gaussian(cls, mean, cov=1.0, *, dtype=torch.float64) -> GaussianMixture:
        """A single component ``N(mean, cov)``; ``cov`` is a scalar, a diagonal (d,) or a matrix (d, d)."""
        m = torch.as_tensor(mean, dtype=dtype).reshape(1, -1)
        c = torch.as_tensor(cov, dtype=dtype)
        c = c if c.ndim == 0 else c[None]  # scalar → isotropic, (d,) → diagonal, (d, d) → full
        return cls(torch.ones(1, dtype=dtype), m, _cov_stack(c, 1, m.shape[1], dtype))

    @classmethod
    def from_dict(cls, d: Mapping, *, dtype=torch.float64) -> GaussianMixture:
        """From ``{"weights": [...], "means": [[...]], "covs": ...}`` (JSON-friendly).

        ``means`` may be a flat list (1-D components); ``weights`` defaults to uniform and ``covs``
        to identities; ``covs`` may be per-component variances, diagonals or full matrices.
        """
        if not isinstance(d, Mapping) or "means" not in d:
            raise ConfigError("a Gaussian mixture needs a mapping with at least 'means'",
                              hint='e.g. {"weights": [0.5, 0.5], "means": [[-1], [1]], "covs": [1, 1]}')
        extra = set(d) - {"weights", "means", "covs"}
        if extra:
            raise ConfigError(f"unknown Gaussian-mixture keys {sorted(extra)}",
                              hint="allowed keys: weights, means, covs")
        try:
            m = torch.as_tensor(d["means"], dtype=dtype)
            m = m[:, None] if m.ndim == 1 else m
            if m.ndim != 2:
                raise ShapeError(f"means must be (K, d), got shape {tuple(m.shape)}")
            k, dim = m.shape
            w = torch.as_tensor(d.get("weights", [1.0 / k] * k), dtype=dtype)
            c = _cov_stack(d.get("covs", 1.0), k, dim, dtype)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"bad Gaussian-mixture entry: {exc}", hint="use lists of numbers") from None
        return cls(w, m, c)

    def to_dict(self) -> dict:
        """JSON-friendly lists: ``weights`` (K,), ``means`` (K, d), ``covs`` (K, d, d)."""
        return {k: getattr(self, k).detach().to("cpu", _F64).tolist() for k in _KEYS}

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    @property
    def n_components(self) -> int:
        return int(self.weights.shape[0])

    def to(self, *, dtype=None, device=None) -> GaussianMixture:
        """A copy with converted tensors."""
        return GaussianMixture(*(getattr(self, k).to(dtype=dtype, device=device) for k in _KEYS))

    def sample_with_labels(self, n: int, *, generator: torch.Generator | None = None):
        """``n`` samples (n, d) and their component labels (n,) (int64)."""
        if int(n) != n or n < 0:
            raise ConfigError(f"number of samples must be a non-negative integer, got {n}")
        labels = torch.multinomial(self.weights, int(n), replacement=True, generator=generator)
        z = torch.randn(int(n), self.dim, generator=generator, dtype=self.means.dtype,
                        device=self.means.device)
        x = torch.empty_like(z)
        for k in range(self.n_components):
            x[labels == k] = self.means[k] + z[labels == k] @ self._chol[k].mT
        return x, labels

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples, (n, d)."""
        return self.sample_with_labels(n, generator=generator)[0]

    def log_prob(self, x: Tensor) -> Tensor:
        """Log density at ``x`` (batch, d) → (batch,), by log-sum-exp in float64."""
        x64 = _check_x(x, self.dim)
        means, covs = self.means.to(x.device, _F64), self.covs.to(x.device, _F64)
        cov = covs.diagonal(0, -2, -1) if self._diagonal else covs
        logn, _ = _gauss_terms(x64[None] - means[:, None], cov, self._diagonal)
        logw = torch.log(self.weights.to(x.device, _F64))
        return torch.logsumexp(logw[:, None] + logn, 0).to(x.dtype)


def _check_x(x: Tensor, d: int) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != d:
        raise ShapeError(f"points must have shape (batch, {d}), got {tuple(getattr(x, 'shape', ()))}")
    return x.to(_F64)


def _gauss_terms(r: Tensor, cov: Tensor, diagonal: bool) -> tuple[Tensor, Tensor]:
    """Log N(r | 0, C) (P, B) and C^{-1} r (P, B, d) for residuals r (P, B, d).

    ``cov`` is (P, d) (diagonals) when ``diagonal`` else (P, d, d); no inverse is formed.
    """
    d = r.shape[-1]
    if diagonal:
        u = r / cov[:, None, :]
        quad, logdet = (r * u).sum(-1), torch.log(cov).sum(-1)
    else:
        chol, info = torch.linalg.cholesky_ex(cov)
        if bool((info != 0).any()):
            raise ConvergenceError("interpolant covariance C_ij(t) is not positive definite",
                                   hint="α, β and γ must not vanish together")
        y = torch.linalg.solve_triangular(chol, r.mT, upper=False)  # (P, d, B)
        quad = (y * y).sum(-2)
        u = torch.linalg.solve_triangular(chol.mT, y, upper=True).mT
        logdet = 2.0 * torch.log(chol.diagonal(0, -2, -1)).sum(-1)
    return -0.5 * (quad + logdet[:, None] + d * math.log(2 * math.pi)), u


class GMMFields(NamedTuple):
    """Exact fields at ``x_t = x``; ``batch`` rows, dimension ``d``, ``K0·K1`` component pairs."""

    velocity: Tensor  # (batch, d)  b = E[α̇ x0 + β̇ x1 + γ̇ z | x_t = x]
    score: Tensor  # (batch, d)  ∇ log ρ_t
    eta_0: Tensor  # (batch, d)  E[x0 | x_t = x]
    eta_1: Tensor  # (batch, d)  E[x1 | x_t = x]
    log_density: Tensor  # (batch,)  log ρ_t(x)
    responsibilities: Tensor  # (batch, K0·K1)  w_ij at column i·K1 + j


def _scalar(v: Any, x: Tensor) -> Tensor:
    return torch.as_tensor(v, dtype=_F64, device=x.device).reshape(())


def gmm_fields(base: GaussianMixture, target: GaussianMixture, sv: Any, x: Tensor) -> GMMFields:
    """Velocity, score, denoisers and density of ``x_t = α x0 + β x1 + γ z`` between two mixtures.

    Args:
        base: ρ0 with K0 components in ``R^d``.
        target: ρ1 with K1 components in ``R^d``.
        sv: schedule values with attributes ``alpha, beta, alpha_dot, beta_dot`` (floats or 0-d tensors)
            and optionally ``gamma`` and ``gamma_gamma_dot`` (γγ̇; else ``gamma * gamma_dot``; else 0).
        x: (batch, d) points.

    Returns:
        :class:`GMMFields` in the dtype and on the device of ``x`` (computed in float64).
    """
    if base.dim != target.dim:
        raise ShapeError(f"base dimension {base.dim} differs from target dimension {target.dim}")
    x64, k0, k1, d = _check_x(x, target.dim), base.n_components, target.n_components, target.dim
    a, b, ad, bd = (_scalar(getattr(sv, k), x) for k in ("alpha", "beta", "alpha_dot", "beta_dot"))
    g = _scalar(getattr(sv, "gamma", None) or 0.0, x)
    ggd = getattr(sv, "gamma_gamma_dot", None)
    if ggd is None:
        ggd = g * _scalar(getattr(sv, "gamma_dot", None) or 0.0, x) if float(g) != 0.0 else 0.0
    ggd = _scalar(ggd, x)
    p0, m0, c0 = (getattr(base, k).to(x.device, _F64) for k in _KEYS)
    p1, m1, c1 = (getattr(target, k).to(x.device, _F64) for k in _KEYS)
    mij = (a * m0[:, None, :] + b * m1[None, :, :]).reshape(k0 * k1, d)
    resid = x64[None] - mij[:, None, :]  # (P, B, d)
    diagonal = base._diagonal and target._diagonal
    if diagonal:
        c0, c1 = c0.diagonal(0, -2, -1), c1.diagonal(0, -2, -1)
        cij = (a * a * c0[:, None] + b * b * c1[None] + g * g).reshape(k0 * k1, d)
        logn, u = _gauss_terms(resid, cij, True)
    else:
        eye, parts = torch.eye(d, dtype=_F64, device=x.device), []
        step = max(1, _CHUNK_ELEMENTS // (d * d))
        for s in range(0, k0 * k1, step):
            idx = torch.arange(s, min(s + step, k0 * k1), device=x.device)
            cij = a * a * c0[idx // k1] + b * b * c1[idx % k1] + g * g * eye
            parts.append(_gauss_terms(resid[idx], cij, False))
        logn, u = torch.cat([q[0] for q in parts]), torch.cat([q[1] for q in parts])
    logj = (torch.log(p0)[:, None] + torch.log(p1)[None, :]).reshape(-1, 1) + logn  # (P, B)
    log_rho = torch.logsumexp(logj, 0)
    w = torch.exp(logj - log_rho)
    wu, w = (w[..., None] * u).reshape(k0, k1, -1, d), w.reshape(k0, k1, -1)
    u0, u1 = wu.sum(1), wu.sum(0)  # (K0, B, d), (K1, B, d): Σ_j w_ij C_ij^{-1}(x-m_ij), Σ_i ...
    if diagonal:
        cu0, cu1 = (c0[:, None] * u0).sum(0), (c1[:, None] * u1).sum(0)
    else:
        cu0, cu1 = (u0 @ c0).sum(0), (u1 @ c1).sum(0)  # C symmetric: (C u)^T = u^T C
    eta0 = torch.einsum("kb,kd->bd", w.sum(1), m0) + a * cu0
    eta1 = torch.einsum("kb,kd->bd", w.sum(0), m1) + b * cu1
    su = u0.sum(0)
    velocity = ad * eta0 + bd * eta1 + ggd * su  # γ̇ η_z = γ̇ γ Σ w C^{-1}(x - m)
    out = (velocity, -su, eta0, eta1, log_rho, w.reshape(k0 * k1, -1).T)
    return GMMFields(*(t.to(x.dtype) for t in out))


def gmm_velocity(base: GaussianMixture, target: GaussianMixture, sv: Any, x: Tensor) -> Tensor:
    """Exact velocity b(t, x), (batch, d); see :func:`gmm_fields`."""
    return gmm_fields(base, target, sv, x).velocity


def gmm_score(base: GaussianMixture, target: GaussianMixture, sv: Any, x: Tensor) -> Tensor:
    """Exact score ∇ log ρ_t(x), (batch, d); see :func:`gmm_fields`."""
    return gmm_fields(base, target, sv, x).score


def one_sided_fields(target: GaussianMixture, sv: Any, x: Tensor, base_cov=None) -> GMMFields:
    """Fields of ``x_t = α z + β x1`` with ``z ~ N(0, base_cov)`` (identity by default), γ = 0.

    ``base_cov`` is a scalar, a diagonal (d,) or a matrix (d, d). ``eta_0`` is then ``E[z | x_t = x]``;
    any ``gamma`` attribute of ``sv`` is ignored.
    """
    base = GaussianMixture.gaussian(torch.zeros(target.dim), 1.0 if base_cov is None else base_cov)
    sv0 = SimpleNamespace(alpha=sv.alpha, beta=sv.beta, alpha_dot=sv.alpha_dot, beta_dot=sv.beta_dot,
                          gamma=0.0, gamma_gamma_dot=0.0)
    return gmm_fields(base, target, sv0, x)


def _tanh_arg(r: Tensor, p: float, beta, x: Tensor) -> Tensor:
    if not (0.0 < float(p) < 1.0):
        raise ConfigError(f"two-mode weight p = {p} must lie in (0, 1)")
    if r.ndim != 1 or x.ndim != 2 or x.shape[1] != r.shape[0]:
        raise ShapeError(f"r must be (d,) and x (batch, d), got {tuple(r.shape)} and {tuple(x.shape)}")
    return 0.5 * math.log(float(p) / (1.0 - float(p))) + beta * (x @ r.to(x))


def two_mode_tanh_velocity(r: Tensor, p: float, beta, beta_dot, x: Tensor) -> Tensor:
    """``β̇ tanh(h + β⟨r, x⟩) r``, h = ½ ln(p/(1−p)): the exact velocity from N(0, I) to
    ``p N(r, I) + (1−p) N(−r, I)`` on a variance-preserving path (α² + β² = 1).

    Args:
        r: (d,) mode centre. p: weight of ``+r``. beta, beta_dot: floats or 0-d tensors. x: (batch, d).

    Returns:
        (batch, d).
    """
    return beta_dot * torch.tanh(_tanh_arg(r, p, beta, x))[:, None] * r.to(x)


def two_mode_tanh_jacobian_norm(r: Tensor, p: float, beta, beta_dot, x: Tensor) -> Tensor:
    """Spectral norm of ∇_x :func:`two_mode_tanh_velocity`, ``β̇ β |r|² sech²(h + β⟨r, x⟩)``: (batch,)."""
    e = torch.exp(-2.0 * _tanh_arg(r, p, beta, x).abs())  # sech² y = 4e^{-2|y|}/(1+e^{-2|y|})²: no overflow
    return beta_dot * beta * (r.to(x) ** 2).sum() * 4.0 * e / (1.0 + e) ** 2
