"""Schedule design (sictl.core.design): the numerical clock reproduces the closed forms, the paper's
mixture schedules and A2 values, and the two-ratio closed form is a (global) optimum."""

from __future__ import annotations

import math

import pytest
import torch

from sictl.core import design
from sictl.core.gaussian import a2, a2_numeric, lipschitz
from sictl.core.gmm import GaussianMixture
from sictl.core.schedules import Designed, DesignedPair, Linear, Tabulated, Trig
from sictl.core.solvers import make_solver, time_grid
from sictl.core.two_mode import minority_weight, two_mode_a2

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
    from sictl.core.gaussian import mode_rate

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
