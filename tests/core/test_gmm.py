"""Tests for sictl.core.exact.gmm: exact GMM interpolant fields (reference/interpolants.md §4, §7 items 7-8)."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace as NS

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from sictl.core.exact.gmm import (
    GaussianMixture,
    gmm_fields,
    gmm_score,
    gmm_velocity,
    one_sided_fields,
    two_mode_tanh_jacobian_norm,
    two_mode_tanh_velocity,
)
from sictl.errors import ConfigError, ShapeError

F64 = torch.float64


# ---- schedules (written out here so that these tests depend on nothing but gmm.py) ----------------
def linear(t):
    return NS(alpha=1 - t, beta=t, alpha_dot=-1.0, beta_dot=1.0)


def linear_brownian(t):
    return NS(alpha=1 - t, beta=t, alpha_dot=-1.0, beta_dot=1.0, gamma=math.sqrt(t * (1 - t)),
              gamma_gamma_dot=(1 - 2 * t) / 2)


def trig(t):
    h = math.pi / 2
    return NS(alpha=math.cos(h * t), beta=math.sin(h * t), alpha_dot=-h * math.sin(h * t),
              beta_dot=h * math.cos(h * t))


def vp(t):
    """SBDM/VP: α = √(1−t²), β = t."""
    return NS(alpha=math.sqrt(1 - t * t), beta=t, alpha_dot=-t / math.sqrt(1 - t * t), beta_dot=1.0)


def pts(*rows):
    return torch.tensor(rows, dtype=F64)


# ---- item 7 configuration ---------------------------------------------------------------------------
BASE7 = GaussianMixture.from_dict({"weights": [0.5, 0.5], "means": [-3.0, 3.0], "covs": [0.25, 0.25]})
TARGET7 = GaussianMixture.from_dict({"weights": [1 / 3, 1 / 3, 1 / 3], "means": [-6.0, 0.0, 6.0],
                                     "covs": [0.5, 0.33, 0.5]})


@pytest.mark.parametrize("t, x, rho, b, s", [
    (0.5, 0.0, 2.762775647280064e-02, 0.0, 0.0),
    (0.5, 1.0, 1.527546715711870e-01, 2.836978914685990, 1.199457375978688),
    (0.25, -2.0, 1.171229156925625e-01, 3.599014277997898, -3.202986734880075e-01),
    (0.9, 5.5, 1.708180305115011e-01, 5.823431589541391, -1.646863179082781e-01),
])
def test_reference_values_two_sided(t, x, rho, b, s):
    f = gmm_fields(BASE7, TARGET7, linear_brownian(t), pts([x]))
    assert math.exp(float(f.log_density[0])) == pytest.approx(rho, rel=1e-10)
    assert float(f.velocity[0, 0]) == pytest.approx(b, rel=1e-10, abs=1e-13)
    assert float(f.score[0, 0]) == pytest.approx(s, rel=1e-10, abs=1e-13)
    assert torch.allclose(f.velocity, gmm_velocity(BASE7, TARGET7, linear_brownian(t), pts([x])))
    assert torch.allclose(f.score, gmm_score(BASE7, TARGET7, linear_brownian(t), pts([x])))


def test_reference_density_at_t0_is_base():
    f = gmm_fields(BASE7, TARGET7, linear_brownian(0.0), pts([3.0]))
    assert math.exp(float(f.log_density[0])) == pytest.approx(0.3989422804014327, rel=1e-10)
    assert float(BASE7.log_prob(pts([3.0]))[0]) == pytest.approx(float(f.log_density[0]), rel=1e-13)


# ---- item 8 and the tanh form -----------------------------------------------------------------------
def test_two_mode_reference_value():
    target = GaussianMixture.two_mode(1.5, p=0.3)
    x = pts([0.4])
    expected = -0.1845339026266345
    general = one_sided_fields(target, vp(0.5), x).velocity
    tanh = two_mode_tanh_velocity(target.means[0], 0.3, 0.5, 1.0, x)
    assert float(general[0, 0]) == pytest.approx(expected, rel=1e-13)
    assert float(tanh[0, 0]) == pytest.approx(expected, rel=1e-13)
    # the tanh form is only right on a VP path: with α = 1 − t the exact drift differs
    assert float(one_sided_fields(target, linear(0.5), x).velocity[0, 0]) == pytest.approx(
        0.2618180610178036, rel=1e-12)


@pytest.mark.parametrize("t", [0.1, 0.37, 0.6, 0.95])
def test_tanh_form_equals_general_velocity_3d(t):
    target = GaussianMixture.two_mode(2.0, p=0.3, dim=3)
    r = target.means[0]
    assert float(r.norm()) == pytest.approx(2.0, rel=1e-15)
    x = 2.5 * torch.randn(64, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    sv = vp(t)
    got = one_sided_fields(target, sv, x).velocity
    want = two_mode_tanh_velocity(r, 0.3, sv.beta, sv.beta_dot, x)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)


def test_tanh_jacobian_norm_matches_finite_differences():
    r = torch.tensor([0.7, -1.1, 0.4], dtype=F64)
    beta, beta_dot, h = 0.6, 1.3, 1e-6
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(2), dtype=F64) * 0.5
    norms = two_mode_tanh_jacobian_norm(r, 0.3, beta, beta_dot, x)

    def vel(y):
        return two_mode_tanh_velocity(r, 0.3, beta, beta_dot, y[None])[0]

    for n in range(5):
        jac = torch.stack([(vel(x[n] + h * e) - vel(x[n] - h * e)) / (2 * h) for e in torch.eye(3, dtype=F64)],
                          dim=1)
        assert float(norms[n]) == pytest.approx(float(torch.linalg.matrix_norm(jac, ord=2)), rel=1e-7)
    # sup over x is β̇ β |r|², attained where h + β⟨r,x⟩ = 0; far away it decays to 0 without overflow
    hh = 0.5 * math.log(0.3 / 0.7)
    x0 = (-hh / (beta * float(r @ r))) * r[None]
    assert float(two_mode_tanh_jacobian_norm(r, 0.3, beta, beta_dot, x0)[0]) == pytest.approx(
        beta_dot * beta * float(r @ r), rel=1e-14)
    far = two_mode_tanh_jacobian_norm(r, 0.3, beta, beta_dot, 1e6 * r[None])
    assert torch.isfinite(far).all() and float(far[0]) == 0.0


# ---- PDE / calculus invariants ----------------------------------------------------------------------
def _mixture_3(dim):
    if dim == 1:
        return GaussianMixture.from_dict({"weights": [0.2, 0.5, 0.3], "means": [-2.0, 0.5, 3.0],
                                          "covs": [0.3, 1.2, 0.6]})
    covs = [[[0.5, 0.3], [0.3, 0.8]], [[1.0, -0.4], [-0.4, 0.6]], [[0.3, 0.1], [0.1, 0.2]]]
    means = [[-2.0, 1.0], [0.5, -1.0], [3.0, 2.0]]
    return GaussianMixture.from_dict({"weights": [0.2, 0.5, 0.3], "means": means, "covs": covs})


def _base(dim, two_sided):
    if not two_sided:
        return GaussianMixture.gaussian(torch.zeros(dim), 1.0)
    c = [[[0.4, 0.1], [0.1, 0.3]], [[0.7, 0.0], [0.0, 0.5]]] if dim == 2 else [0.4, 0.7]
    return GaussianMixture.from_dict({"weights": [0.6, 0.4], "means": [[-1.0] * dim, [1.5] * dim], "covs": c})


CASES = [(dim, two) for dim in (1, 2) for two in (False, True)]


@pytest.mark.parametrize("dim, two_sided", CASES)
def test_continuity_equation(dim, two_sided):
    """∂_t ρ + ∇·(bρ) = 0 by central differences (h = 1e-4); relative residual ≤ 1e-6."""
    target, base = _mixture_3(dim), _base(dim, two_sided)
    sched = linear_brownian if two_sided else linear
    x = 2.0 * torch.randn(40, dim, generator=torch.Generator().manual_seed(3), dtype=F64)
    h = 1e-4

    def rho(t, y):
        return torch.exp(gmm_fields(base, target, sched(t), y).log_density)

    def flux(t, y):
        f = gmm_fields(base, target, sched(t), y)
        return f.velocity * torch.exp(f.log_density)[:, None]

    for t in (0.2, 0.5, 0.8):
        dt_rho = (rho(t + h, x) - rho(t - h, x)) / (2 * h)
        div = sum((flux(t, x + h * e)[:, k] - flux(t, x - h * e)[:, k]) / (2 * h)
                  for k, e in enumerate(torch.eye(dim, dtype=F64)))
        scale = float(dt_rho.abs().max() + div.abs().max())
        assert float((dt_rho + div).abs().max()) <= 1e-6 * scale


@pytest.mark.parametrize("dim, two_sided", CASES)
def test_score_is_gradient_of_log_density(dim, two_sided):
    target, base = _mixture_3(dim), _base(dim, two_sided)
    sched = linear_brownian if two_sided else linear
    x = 2.0 * torch.randn(40, dim, generator=torch.Generator().manual_seed(4), dtype=F64)
    h = 1e-5
    for t in (0.2, 0.5, 0.8):
        s = gmm_fields(base, target, sched(t), x).score
        fd = torch.stack([(gmm_fields(base, target, sched(t), x + h * e).log_density
                           - gmm_fields(base, target, sched(t), x - h * e).log_density) / (2 * h)
                          for e in torch.eye(dim, dtype=F64)], dim=1)
        assert float((s - fd).abs().max()) <= 1e-8 * max(1.0, float(s.abs().max()))


@pytest.mark.parametrize("dim, two_sided", CASES)
def test_denoiser_identities(dim, two_sided):
    """x = αη0 + βη1 − γ² s and b = α̇η0 + β̇η1 − γγ̇ s; together with b and s checked above these pin
    η0 and η1 (αβ̇ − α̇β ≠ 0). One-sided with base N(0, I): η0 = E[z|x] = −α s."""
    target, base = _mixture_3(dim), _base(dim, two_sided)
    x = 2.0 * torch.randn(30, dim, generator=torch.Generator().manual_seed(5), dtype=F64)
    for t in (0.0, 0.3, 0.7, 1.0):
        sv = linear_brownian(t) if two_sided else linear(t)
        f = gmm_fields(base, target, sv, x)
        g2, ggd = (sv.gamma ** 2, sv.gamma_gamma_dot) if two_sided else (0.0, 0.0)
        recon = sv.alpha * f.eta_0 + sv.beta * f.eta_1 - g2 * f.score
        torch.testing.assert_close(recon, x, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(sv.alpha_dot * f.eta_0 + sv.beta_dot * f.eta_1 - ggd * f.score, f.velocity,
                                   rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(f.responsibilities.sum(1), torch.ones(30, dtype=F64), rtol=0,
                                   atol=softmax_sum_tol(f, 3))
        if not two_sided:
            torch.testing.assert_close(f.eta_0, -sv.alpha * f.score, rtol=1e-12, atol=1e-12)


@given(t=st.floats(0.01, 0.99), x=st.lists(st.floats(-20, 20), min_size=2, max_size=2))
@settings(max_examples=25, deadline=None)
def test_identity_property(t, x):
    f = gmm_fields(_base(2, True), _mixture_3(2), linear_brownian(t), pts(x))
    sv = linear_brownian(t)
    recon = sv.alpha * f.eta_0 + sv.beta * f.eta_1 - sv.gamma ** 2 * f.score
    assert torch.allclose(recon, pts(x), rtol=1e-10, atol=1e-10)
    assert abs(float(f.responsibilities.sum()) - 1.0) <= softmax_sum_tol(f, 3)


# ---- Gaussian reductions ----------------------------------------------------------------------------
@pytest.mark.parametrize("sched", [linear, trig, vp])
@pytest.mark.parametrize("lam, s0", [(4.0, 1.0), (0.01, 1.0), (2.5, 0.3)])
def test_single_gaussian_reduces_to_closed_form(sched, lam, s0):
    target = GaussianMixture.gaussian([0.0], lam)
    x = torch.linspace(-3, 3, 13, dtype=F64)[:, None]
    for t in (0.0, 0.25, 0.5, 0.9):
        sv = sched(t)
        a, b, ad, bd = sv.alpha, sv.beta, sv.alpha_dot, sv.beta_dot
        d = a * a * s0 + b * b * lam
        f = one_sided_fields(target, sv, x, base_cov=s0)
        torch.testing.assert_close(f.velocity, (a * ad * s0 + b * bd * lam) / d * x, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(f.score, -x / d, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(f.eta_1, b * lam / d * x, rtol=1e-12, atol=1e-12)


def test_item7_style_gaussian_numbers():
    f = one_sided_fields(GaussianMixture.gaussian([0.0], 4.0), linear(0.5), pts([1.0]))
    assert float(f.velocity[0, 0]) == pytest.approx(1.2, rel=1e-14)
    assert float(f.score[0, 0]) == pytest.approx(-0.8, rel=1e-14)
    assert float(f.eta_0[0, 0]) == pytest.approx(0.4, rel=1e-14)
    assert float(f.eta_1[0, 0]) == pytest.approx(1.6, rel=1e-14)


@pytest.mark.parametrize("full_base", [False, True])
def test_full_covariance_gaussian_affine_drift(full_base):
    """N(m, C) in 3-D with a full C, base N(0, C0): b = A x + c, A = ½ Σ̇ Σ⁻¹, c = β̇ m − β A m,
    Σ = α² C0 + β² C; s = −Σ⁻¹(x − βm)."""
    rng = np.random.default_rng(6)
    q, q0 = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    cov, m = q @ q.T + 0.5 * np.eye(3), rng.normal(size=3)
    c0 = q0 @ q0.T + 0.3 * np.eye(3) if full_base else np.eye(3)
    target = GaussianMixture.gaussian(m, cov)
    x = torch.from_numpy(rng.normal(size=(10, 3)) * 2)
    for t in (0.2, 0.6):
        sv = trig(t)
        sig = sv.alpha ** 2 * c0 + sv.beta ** 2 * cov
        sig_dot = 2 * sv.alpha * sv.alpha_dot * c0 + 2 * sv.beta * sv.beta_dot * cov
        amat = 0.5 * sig_dot @ np.linalg.inv(sig)
        want = x.numpy() @ amat.T + sv.beta_dot * m - sv.beta * amat @ m
        f = one_sided_fields(target, sv, x, base_cov=torch.from_numpy(c0) if full_base else None)
        np.testing.assert_allclose(f.velocity.numpy(), want, rtol=1e-11, atol=1e-12)
        want_s = -np.linalg.solve(sig, (x.numpy() - sv.beta * m).T).T
        np.testing.assert_allclose(f.score.numpy(), want_s, rtol=1e-11, atol=1e-12)


def test_dense_and_diagonal_paths_agree_under_rotation():
    """Diagonal covariances take an elementwise path; rotating everything forces the Cholesky path."""
    gen = torch.Generator().manual_seed(7)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=F64))
    tgt = GaussianMixture(torch.tensor([0.3, 0.7], dtype=F64), torch.randn(2, 4, generator=gen, dtype=F64),
                          torch.diag_embed(torch.rand(2, 4, generator=gen, dtype=F64) + 0.2))
    bse = GaussianMixture(torch.tensor([0.4, 0.6], dtype=F64), torch.randn(2, 4, generator=gen, dtype=F64),
                          torch.diag_embed(torch.rand(2, 4, generator=gen, dtype=F64) + 0.2))

    def rot(g):
        return GaussianMixture(g.weights, g.means @ q.T, q @ g.covs @ q.T)

    assert tgt._diagonal and not rot(tgt)._diagonal
    x = torch.randn(16, 4, generator=gen, dtype=F64) * 2
    f = gmm_fields(bse, tgt, linear_brownian(0.4), x)
    fr = gmm_fields(rot(bse), rot(tgt), linear_brownian(0.4), x @ q.T)
    for name in ("velocity", "score", "eta_0", "eta_1"):
        torch.testing.assert_close(getattr(fr, name), getattr(f, name) @ q.T, rtol=1e-10, atol=1e-11)
    torch.testing.assert_close(fr.log_density, f.log_density, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fr.responsibilities, f.responsibilities, rtol=1e-10, atol=1e-12)


# ---- numerical stability ----------------------------------------------------------------------------
@pytest.mark.parametrize("x0", [100.0, -100.0])
def test_stability_far_modes_1d(x0):
    target = GaussianMixture.two_mode(100.0, p=0.3)
    sv = vp(0.9)
    f = one_sided_fields(target, sv, pts([x0]))
    for v in f:
        assert torch.isfinite(v).all()
    assert float(f.responsibilities.sum()) == pytest.approx(1.0, abs=softmax_sum_tol(f, 2))
    want = two_mode_tanh_velocity(target.means[0], 0.3, sv.beta, sv.beta_dot, pts([x0]))
    torch.testing.assert_close(f.velocity, want, rtol=1e-12, atol=1e-12)
    # C_ij = 1 on a VP path: log ρ = log(p_near) − ½ log 2π − ½ (|x0| − 90)²
    p_near = 0.3 if x0 > 0 else 0.7
    assert float(f.log_density[0]) == pytest.approx(math.log(p_near) - 0.5 * math.log(2 * math.pi) - 50.0,
                                                    rel=1e-13)


def softmax_sum_tol(fields, k: int) -> float:
    """Rounding bound of Σ_k r_k − 1 for responsibilities r_k = exp(l_k − logsumexp l): each logit of
    magnitude |l| is off by ~eps |l|, so each r_k is off relatively by ~2 eps |l| and the sum by up
    to 2 K eps max |l|; |log p_t(x)| (≈ the largest logit) measures |l|. A factor 4 of headroom."""
    logits = float(fields.log_density.abs().max()) + 1.0
    return 4 * 2 * k * torch.finfo(F64).eps * logits


def test_stability_high_dimension():
    d = 1000
    gen = torch.Generator().manual_seed(8)
    target = GaussianMixture.two_mode(100.0, p=0.3, dim=d)
    u = torch.randn(6, d, generator=gen, dtype=F64)
    x = torch.cat([100 * u / u.norm(dim=1, keepdim=True), 100 * target.means[:1] / 100, -target.means[:1]])
    sv = vp(0.9)
    f = one_sided_fields(target, sv, x)
    for v in f:
        assert torch.isfinite(v).all()
    torch.testing.assert_close(f.responsibilities.sum(1), torch.ones(len(x), dtype=F64), rtol=0,
                               atol=softmax_sum_tol(f, 2))
    want = two_mode_tanh_velocity(target.means[0], 0.3, sv.beta, sv.beta_dot, x)
    torch.testing.assert_close(f.velocity, want, rtol=1e-10, atol=1e-10)
    # the same through the Cholesky path (a non-diagonal covariance), far from every mode
    v = u[0] / u[0].norm()
    cov = torch.eye(d, dtype=F64) + 0.5 * torch.outer(v, v)
    dense = GaussianMixture(target.weights, target.means, torch.stack([cov, cov]))
    fd = gmm_fields(GaussianMixture.gaussian(torch.zeros(d), 1.0), dense, linear_brownian(0.3), x)
    for v in fd:
        assert torch.isfinite(v).all()
    torch.testing.assert_close(fd.responsibilities.sum(1), torch.ones(len(x), dtype=F64), rtol=0,
                               atol=softmax_sum_tol(fd, 2))


def test_dtype_and_float32_inputs():
    f = gmm_fields(BASE7, TARGET7, linear_brownian(0.5), pts([1.0]).float())
    assert f.velocity.dtype == torch.float32 and f.log_density.dtype == torch.float32
    assert float(f.velocity[0, 0]) == pytest.approx(2.836978914685990, rel=1e-6)
    with pytest.raises(ShapeError):
        gmm_fields(BASE7, TARGET7, linear(0.5), torch.zeros(3, dtype=F64))
    with pytest.raises(ShapeError):
        gmm_fields(GaussianMixture.two_mode(1.0, dim=2), TARGET7, linear(0.5), torch.zeros(3, 1, dtype=F64))


# ---- the mixture object -----------------------------------------------------------------------------
def test_two_mode_constructor():
    g = GaussianMixture.two_mode(3.0, p=0.2, dim=4)
    assert g.dim == 4 and g.n_components == 2
    assert torch.allclose(g.means[0], torch.full((4,), 1.5, dtype=F64))
    assert torch.equal(g.means[1], -g.means[0])
    assert g.weights.tolist() == [0.2, 0.8] and torch.equal(g.covs[1], torch.eye(4, dtype=F64))


def test_dict_round_trip_and_cov_forms():
    full = GaussianMixture.from_dict({"weights": [0.25, 0.75], "means": [[0.0, 1.0], [2.0, -1.0]],
                                      "covs": [[[1.0, 0.2], [0.2, 2.0]], [[0.5, 0.0], [0.0, 0.5]]]})
    again = GaussianMixture.from_dict(json.loads(json.dumps(full.to_dict())))
    for k in ("weights", "means", "covs"):
        assert torch.equal(getattr(again, k), getattr(full, k))
    iso = GaussianMixture.from_dict({"means": [[0.0, 1.0], [2.0, -1.0]], "covs": [2.0, 3.0]})
    assert iso.weights.tolist() == [0.5, 0.5] and torch.equal(iso.covs[1], 3 * torch.eye(2, dtype=F64))
    diag = GaussianMixture.from_dict({"weights": [0.5, 0.5], "means": [[0.0, 1.0], [2.0, -1.0]],
                                      "covs": [[1.0, 2.0], [3.0, 4.0]]})
    assert torch.equal(diag.covs[1], torch.diag(torch.tensor([3.0, 4.0], dtype=F64)))
    assert torch.equal(GaussianMixture.from_dict({"means": [[1.0, 2.0]]}).covs[0], torch.eye(2, dtype=F64))
    g = GaussianMixture.gaussian([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert torch.equal(g.covs[0], torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=F64)))
    assert g.to(dtype=torch.float32).means.dtype == torch.float32


def test_log_prob_matches_scipy():
    g = _mixture_3(2)
    x = torch.randn(20, 2, generator=torch.Generator().manual_seed(9), dtype=F64) * 3
    want = np.log(sum(float(w) * multivariate_normal(m.numpy(), c.numpy()).pdf(x.numpy())
                      for w, m, c in zip(g.weights, g.means, g.covs)))
    np.testing.assert_allclose(g.log_prob(x).numpy(), want, rtol=1e-12)


def test_sampling_moments_and_reproducibility():
    g, n = _mixture_3(2), 200_000
    x, lab = g.sample_with_labels(n, generator=torch.Generator().manual_seed(10))
    assert x.shape == (n, 2) and lab.shape == (n,)
    assert torch.equal(g.sample(1000, generator=torch.Generator().manual_seed(10)),
                       g.sample(1000, generator=torch.Generator().manual_seed(10)))
    for k in range(3):
        nk = int((lab == k).sum())
        w = float(g.weights[k])
        assert abs(nk / n - w) < 5 * math.sqrt(w * (1 - w) / n)
        xk = x[lab == k]
        sd = math.sqrt(float(g.covs[k].diagonal().max()) / nk)
        assert float((xk.mean(0) - g.means[k]).abs().max()) < 5 * sd
        assert float((torch.cov(xk.T) - g.covs[k]).abs().max()) < 10 / math.sqrt(nk)


@pytest.mark.parametrize("spec, match", [
    ({"weights": [0.5, 0.6], "means": [0.0, 1.0]}, "sum to 1.1"),
    ({"weights": [1.2, -0.2], "means": [0.0, 1.0]}, "positive"),
    ({"weights": [0.5, 0.5], "means": [0.0, float("nan")]}, "non-finite"),
    ({"means": [[0.0, 0.0]], "covs": [[[1.0, 2.0], [2.0, 1.0]]]}, "positive definite"),
    ({"means": [[0.0, 0.0]], "covs": [[[1.0, 0.1], [0.0, 1.0]]]}, "symmetric"),
    ({"means": [0.0, 1.0], "covs": [1.0, -1.0]}, "positive definite"),
    ({"means": [0.0], "cov": [1.0]}, "unknown"),
    ({"means": [["a"]]}, "numeric|bad"),
])
def test_validation_errors(spec, match):
    with pytest.raises(ConfigError, match=match) as info:
        GaussianMixture.from_dict(spec)
    assert info.value.hint


def test_validation_misc():
    with pytest.raises(ShapeError):
        GaussianMixture(torch.ones(2, dtype=F64) / 2, torch.zeros(2, 3, dtype=F64), torch.eye(3)[None])
    with pytest.raises(ConfigError):
        GaussianMixture.two_mode(1.0, p=1.0)
    with pytest.raises(ConfigError):
        GaussianMixture.two_mode(1.0, dim=0)
    with pytest.raises(ConfigError):
        two_mode_tanh_velocity(torch.ones(1, dtype=F64), 0.0, 0.5, 1.0, pts([0.0]))
