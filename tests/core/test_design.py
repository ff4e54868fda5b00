"""Schedule design (sictl.core.exact.design): the numerical clock reproduces the closed forms, the paper's
mixture schedules and A2 values, and the two-ratio closed form is a (global) optimum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sictl.core.exact import design
from sictl.core.exact.gaussian import a2, a2_numeric
from sictl.core.exact.gmm import GaussianMixture
from sictl.core.exact.two_mode import minority_weight, two_mode_a2
from sictl.core.interpolants.schedules import Designed, DesignedPair, Linear, Tabulated, Trig
from sictl.core.sampling.grids import time_grid
from sictl.core.sampling.solvers import make_solver

F64 = torch.float64


@pytest.mark.parametrize("lam", [1e-4, 0.05, 20.0])
def test_numerical_clock_reproduces_designed_closed_form(lam):
    clock = design.optimal_vp_clock(design.gaussian_profile(torch.tensor([lam], dtype=F64)))
    assert clock.value == pytest.approx(math.log(lam) ** 2 / 4, rel=1e-7)
    t = torch.linspace(0.001, 0.999, 37, dtype=F64)
    got, ref = clock.schedule(t), Designed(lam)(t)
    assert float((got.beta - ref.beta).abs().max()) < 1e-8
    assert float((got.alpha - ref.alpha).abs().max()) < 1e-8
    assert float(((got.beta_dot - ref.beta_dot) / ref.beta_dot).abs().max()) < 1e-6


def test_closed_form_rule_one_side_of_one():
    assert design.designed_closed_form(torch.tensor([0.3, 1e-3, 1.0], dtype=F64)).lam == 1e-3
    assert design.designed_closed_form(torch.tensor([1.0, 7.0, 3.0], dtype=F64)).lam == 7.0
    assert design.designed_closed_form(torch.tensor([0.5, 2.0], dtype=F64)) is None


# reference/lipschitz.md §6.2: A2 (p = 1/2) and the saved optimal β at t = linspace(0,1,200)[0,20,...,180,199]
GMM_A2 = {5: (2.54399, 1.50771), 10: (5.08801, 1.51093), 20: (10.1760, 1.51093)}
GMM_BETA = {
    5: [0, .1051, .1564, .2015, .2451, .2897, .3379, .3928, .4610, .5623, 1],
    10: [0, .0526, .0783, .1008, .1226, .1450, .1691, .1966, .2309, .2818, 1],
    20: [0, .0263, .0391, .0504, .0613, .0725, .0845, .0983, .1154, .1409, 1],
}


@pytest.mark.parametrize("M", [5, 10, 20])
def test_two_mode_optimal_schedule_matches_paper(M):
    clock = design.optimal_vp_clock(design.two_mode_profile(M, 0.5))
    lin_ref, opt_ref = GMM_A2[M]
    assert two_mode_a2(Linear(), M) == pytest.approx(lin_ref, rel=5e-5)
    assert clock.value == pytest.approx(opt_ref, rel=5e-5)
    assert two_mode_a2(clock.schedule, M) == pytest.approx(opt_ref, rel=5e-5)
    t = torch.linspace(0, 1, 200, dtype=F64)[[0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 199]]
    beta = clock.schedule(t).beta
    assert float((beta - torch.tensor(GMM_BETA[M], dtype=F64)).abs().max()) < 1e-3


def test_clock_obeys_euler_lagrange():
    """β̇ √G(β) is constant (= H(1)) along the designed clock."""
    profile = design.two_mode_profile(10, 0.3)
    clock = design.optimal_vp_clock(profile)
    t = torch.linspace(0.05, 0.95, 19, dtype=F64)
    v = clock.schedule(t)
    const = v.beta_dot * profile(v.beta).sqrt()
    assert float((const / math.sqrt(clock.value) - 1).abs().max()) < 1e-6


MIXED = torch.tensor([0.01, 1.0, 50.0], dtype=F64)


def test_mixed_ratios_pair_beats_every_alternative():
    pair = DesignedPair(0.01, 50.0)
    best = a2(pair, MIXED)
    assert best == pytest.approx(math.log(0.01) ** 2 / 4, rel=1e-12)
    assert a2_numeric(pair, MIXED) == pytest.approx(best, rel=1e-9)
    for other in (Linear(), Trig(), Designed(0.01), Designed(50.0)):
        assert a2(other, MIXED) > best
    vp = design.optimal_vp_clock(design.gaussian_profile(MIXED))
    assert vp.value > best  # the variance-preserving optimum; rescaling saves the difference
    assert a2_numeric(vp.schedule, MIXED) == pytest.approx(vp.value, rel=1e-6)


def test_pair_mode_rates_are_constant():
    from sictl.core.exact.gaussian import mode_rate

    t = torch.linspace(0.0, 1.0, 101, dtype=F64)
    pair = DesignedPair(0.01, 50.0)
    assert float((mode_rate(pair, t, 0.01) - 0.5 * math.log(0.01)).abs().max()) < 1e-12
    assert float((mode_rate(pair, t, 50.0) - 0.5 * math.log(50.0)).abs().max()) < 1e-12
    v = pair(t)
    assert float((v.alpha**2 + 0.01 * v.beta**2 - 0.01**t).abs().max()) < 1e-12
    assert float((v.alpha**2 + 50 * v.beta**2 - 50**t).abs().max()) < 1e-11
    assert DesignedPair(0.3, 1.0)(t).beta.allclose(Designed(0.3)(t).beta, atol=1e-12)


@pytest.mark.parametrize("eps", [0.05, -0.05, 0.2])
def test_perturbing_the_clock_does_not_lower_a2(eps):
    """Local optimality: re-time a design by t ↦ t + ε sin(πt)/π (a monotone reparametrisation)."""

    def perturbed(sched):
        t = torch.linspace(0.0, 1.0, 4001, dtype=F64)
        tt = (t + eps * torch.sin(math.pi * t) / math.pi).clamp(0.0, 1.0)
        dtt = 1 + eps * torch.cos(math.pi * t)
        v = sched(tt)
        return Tabulated(t, v.alpha, v.beta, v.alpha_dot * dtt, v.beta_dot * dtt)

    pair = DesignedPair(0.01, 50.0)
    assert a2_numeric(perturbed(pair), MIXED) > a2(pair, MIXED)
    vp = design.optimal_vp_clock(design.gaussian_profile(MIXED))
    assert a2_numeric(perturbed(vp.schedule), MIXED) > vp.value


def test_kinetic_design_reaches_w2_for_one_mode():
    """The kinetic optimum of N(0,1) → N(0,λ) is the squared W2 distance (1 − √λ)²."""
    lam = torch.tensor([0.01], dtype=F64)
    clock = design.optimal_vp_clock(design.gaussian_profile(lam, "kinetic"))
    assert clock.value == pytest.approx((1 - 0.1) ** 2, rel=1e-7)


def test_few_step_mode_collapse_is_cured():
    """reference/lipschitz.md §6.2: 1-D, M = 100, p = 0.3, rk4-38 on 4 steps over [1e-3, 1 − 1e-3]."""
    clock = design.optimal_vp_clock(design.two_mode_profile(100.0, 0.3))
    ts = time_grid("uniform", 4, 1e-3, 1 - 1e-3)
    solver = make_solver("rk4-38")
    linear = minority_weight(solver, Linear(), ts, 100.0, 0.3)
    designed = minority_weight(solver, clock.schedule, ts, 100.0, 0.3)
    assert linear == pytest.approx(0.0271, abs=0.003)
    assert designed >= 0.2


def test_mixture_profile_matches_two_mode_closed_form():
    """Monte-Carlo G(β) on the general mixture code vs the two-mode quadrature (M = 3)."""
    mix = GaussianMixture.two_mode(3.0, 0.5, dim=2)
    beta = torch.tensor([0.1, 0.3, 0.6], dtype=F64)
    mc = design.mixture_profile(mix, samples=4000, seed=1)(beta)
    exact = design.two_mode_profile(3.0, 0.5)(beta)
    # per-sample ‖∇f‖² ≤ β²M⁴, so the Monte-Carlo s.d. is below β²M⁴/√4000 ≈ 1.3 % of that bound
    assert float(((mc - exact).abs() / (beta**2 * 3.0**4)).max()) < 0.05


# ----------------------------------------------------------------- general mixtures, robust clocks

from sictl.core.exact import mixture_profile as mp  # noqa: E402


def _full_cov_mixture(dim: int, seed: int = 0) -> GaussianMixture:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(3, dim, dim, generator=gen, dtype=F64) / math.sqrt(dim)
    covs = a @ a.mT + 0.3 * torch.eye(dim, dtype=F64)
    means = 2.0 * torch.randn(3, dim, generator=gen, dtype=F64)
    return GaussianMixture(torch.tensor([0.5, 0.3, 0.2], dtype=F64), means, covs)


@pytest.mark.parametrize("dim, tol", [(2, 1e-9), (3, 1e-9), (40, 5e-3)])  # 40: block subspace iteration
def test_analytic_jacobian_matches_autograd_of_exact_velocity(dim, tol):
    """‖∇f‖₂² and ‖f‖² (f = b/β̇ on the VP path) against torch.func on sictl.core.exact.gmm's exact velocity."""
    from sictl.core.exact.gmm import gmm_fields
    from sictl.core.interpolants.schedules import ScheduleValues

    mix, base_var = _full_cov_mixture(dim), 1.7
    base = GaussianMixture.gaussian(torch.zeros(dim, dtype=F64), base_var)
    beta = torch.tensor([0.25, 0.8, 0.999], dtype=F64)
    x = 2.0 * torch.randn(3, 6, dim, generator=torch.Generator().manual_seed(1), dtype=F64)
    jac2, f2 = mp.mixture_vp_norms(mix, beta, x, base_var=base_var)
    for i, b in enumerate(beta.tolist()):
        a = math.sqrt(1 - b * b)
        sv = ScheduleValues(*(torch.tensor(v, dtype=F64) for v in (a, b, -b / a, 1.0)))
        vel = lambda y: gmm_fields(base, mix, sv, y[None]).velocity[0]  # noqa: E731
        jac = torch.func.vmap(torch.func.jacrev(vel))(x[i])
        ref = torch.linalg.matrix_norm(jac, ord=2) ** 2
        assert float(((jac2[i] - ref) / ref).abs().max()) < tol
        ref_f2 = (gmm_fields(base, mix, sv, x[i]).velocity ** 2).sum(-1)
        assert float(((f2[i] - ref_f2) / ref_f2).abs().max()) < 1e-12


def test_single_gaussian_file_reproduces_the_closed_form():
    """One component N(0, Q diag(λ) Qᵀ): ∇f is the same for every x, so the Monte-Carlo profile is
    exactly the Gaussian one, and the designed A2 is (ln λ_min)²/4 (all λ ≤ 1)."""
    lam = torch.tensor([0.05, 0.3], dtype=F64)
    q = torch.linalg.qr(torch.tensor([[1.0, 2.0], [-0.5, 1.0]], dtype=F64))[0]
    mix = GaussianMixture(torch.ones(1, dtype=F64), torch.zeros(1, 2, dtype=F64), (q @ torch.diag(lam) @ q.T)[None])
    prof = mp.mixture_profile_table(mix, samples=64)
    exact = design.gaussian_profile(lam)
    nodes = prof.nodes[1:]
    assert float((prof.root_a2[1:] ** 2 / exact(nodes) - 1).abs().max()) < 1e-12  # exact at the nodes
    assert prof.slope0 == pytest.approx(0.95, rel=1e-12)  # ‖Cov − I‖₂ = 1 − 0.05
    beta = torch.linspace(0.0, 1.0, 4001, dtype=F64)[1:]
    assert float((prof.root_profile()(beta) ** 2 / exact(beta) - 1).abs().max()) < 2e-3  # interpolation
    clock = design.optimal_vp_clock(prof.profile())
    best = math.log(0.05) ** 2 / 4
    assert clock.value == pytest.approx(best, rel=2e-4)
    assert a2(clock.schedule, lam) == pytest.approx(best, rel=1e-5)  # the optimum is flat: 2nd order
    assert prof.lipschitz_ratio() == pytest.approx(1.0, rel=1e-12)  # x-independent Jacobian: sup = mean


def test_rounding_residue_at_zero_is_treated_as_zero():
    """Regression (gap 1): G(0) = 1e-33 instead of 0 made β̇(0) finite (~1e16) and the tabulated A2 ~1e17."""
    lam = torch.tensor([0.05], dtype=F64)
    exact = design.gaussian_profile(lam)
    clock = design.optimal_vp_clock(lambda b: exact(b) + 1e-33)
    table = clock.schedule
    assert table.singular_ends["beta"] == (True, False)  # β̇(0) = ∞: the β ~ √t start
    assert a2(table, lam) == pytest.approx(math.log(0.05) ** 2 / 4, rel=1e-6)
    assert float(table(torch.tensor([0.0], dtype=F64)).alpha_dot[0]) == pytest.approx(
        -math.sqrt(clock.value) / 0.95, rel=1e-6)  # α̇(0) = −H(1) lim β/√G


def test_final_jump_is_tabulated_monotone():
    """M = 20: E sech⁴ ~ e^{−200} at β = 1, so β jumps from ~0.56 to 1 in the last table interval. The
    stored β̇(1) keeps the reader's cubic there monotone, and the table's A2 stays the optimum."""
    clock = design.optimal_vp_clock(design.two_mode_profile(20.0))
    s = clock.schedule
    assert math.isfinite(float(s.beta_dot[-1])) and float(s.beta[-2]) < 0.6
    t = torch.linspace(float(s.t[-2]), 1.0, 2001, dtype=F64)
    beta = s(t).beta
    assert bool((torch.diff(beta) >= 0).all()) and float(beta.min()) >= float(s.beta[-2]) and float(beta.max()) <= 1.0
    assert two_mode_a2(s, 20.0) == pytest.approx(1.51093, rel=5e-5)


def test_own_pchip_matches_scipy():
    from scipy.interpolate import PchipInterpolator

    gen = np.random.default_rng(0)
    x = np.unique(np.concatenate([[0.0, 1.0], gen.random(30)]))
    t = np.linspace(0.0, 1.0, 5001)
    for y in (np.exp(-5 * x) * (1 + 0.3 * np.sin(20 * x)), gen.random(x.size), np.abs(np.sin(7 * x))):
        assert np.abs(mp._pchip(x, y)(t) - PchipInterpolator(x, y)(t)).max() < 1e-13
