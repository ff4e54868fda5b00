"""The A2-profile estimator (sictl.models.jacobian) on drifts whose Jacobian is known exactly.

* The exact Gaussian-field drift (no network): its Jacobian is the same at every x, so the spectral
  estimate has no sampling error and must match the closed-form G(β) of the designer
  (sictl.core.exact.design.gaussian_profile) up to the power iteration's bias, measured ≤ 3e-4 with a
  block of 8 and 20 iterations: the bound is 1e-3. Hutchinson's E‖(∇f)v‖² must match ‖∇f‖_F² = Σ_k f_k²
  within 4 of its own reported standard errors (and the error bars must not be vacuous: ≤ 10 %).
* A small non-linear, non-symmetric field: the estimate per draw against the explicit Jacobian's 2-norm.
"""

from __future__ import annotations

import math

import pytest
import torch

from sictl.core.exact.design import gaussian_profile
from sictl.core.exact.drifts import FourierGaussianDrift
from sictl.core.exact.tabulated import TabulatedProfile, TabulatedTarget
from sictl.core.exact.targets import GaussianTarget
from sictl.core.fields.spectra import matern_power
from sictl.core.interpolants.schedules import make_schedule
from sictl.core.sampling.grids import time_grid
from sictl.core.sampling.noise import FourierNoise
from sictl.models.jacobian import drift_profile, fourier_projector, vp_coefficients

N = 16


@pytest.fixture(scope="module")
def gaussian():
    """Matérn s = 3 on 16 points over a white unit base (mean mode empty), linear schedule, 24 draws."""
    power = matern_power(N, 1)
    base = torch.ones_like(power)
    base[0] = 0.0
    schedule = make_schedule("linear")
    drift = FourierGaussianDrift(schedule, power, base)
    gen = torch.Generator().manual_seed(0)
    like = torch.empty(0, dtype=torch.float64)
    x1 = FourierNoise(power).sample((24, 1, N), generator=gen, like=like)
    z = drift.sample_base((24, 1, N), generator=gen, like=like)
    ratios = power[1:] / base[1:]
    return drift, schedule, x1, z, ratios, base > 0


def test_vp_coefficients_match_the_gaussian_rates():
    """∇f = a ∇b + d I turns the linear schedule's mode rate into the VP one, β(λ−1)/(1 + β²(λ−1))."""
    sched = make_schedule("linear")
    lam = torch.tensor([1e-4, 0.3, 1.0, 5.0], dtype=torch.float64)
    for s in (1e-3, 0.2, 0.5, 0.9, 0.999):
        c = vp_coefficients(sched, s)
        v = sched(torch.tensor(s, dtype=torch.float64))
        rate = (v.alpha * v.alpha_dot + v.beta * v.beta_dot * lam) / (v.alpha**2 + v.beta**2 * lam)
        b = c["beta"]
        assert torch.allclose(c["a"] * rate + c["d"], b * (lam - 1) / (1 + b * b * (lam - 1)), rtol=1e-9)


def test_exact_gaussian_profile_matches_the_closed_form(gaussian):
    drift, schedule, x1, z, ratios, mask = gaussian
    times = time_grid("logsnr", 11, 1e-4, 1 - 1e-4, schedule)
    prof = drift_profile(drift.velocity, schedule, times, x1, z, width=8, iterations=20, project=fourier_projector(mask))
    exact = gaussian_profile(ratios)(prof.beta)
    rel = (prof.g / exact - 1).abs()
    assert float(rel.max()) < 1e-3, rel
    assert bool((prof.g <= exact * (1 + 1e-9)).all())  # a Rayleigh quotient: never above the top singular value
    # Hutchinson: ‖∇f‖_F² = Σ_k f_k² over the 15 non-empty modes, within its reported Monte-Carlo error
    b = prof.beta[:, None]
    frob = (b * (ratios - 1) / (1 + b * b * (ratios - 1))).pow(2).sum(1)
    assert bool(((prof.frobenius - frob).abs() <= 4 * prof.frobenius_se).all()), (prof.frobenius / frob - 1)
    assert float((prof.frobenius_se / frob).max()) < 0.1
    # the same seed gives the same numbers
    again = drift_profile(drift.velocity, schedule, times, x1, z, width=8, iterations=20, project=fourier_projector(mask))
    assert torch.equal(again.g, prof.g) and torch.equal(again.frobenius, prof.frobenius)


def test_design_from_the_exact_tabulated_profile(gaussian):
    """The clock designed from the estimated profile is A2-optimal for the Gaussian: within 2 % of the
    closed-form optimum (the rest is the interpolation between 24 log-SNR nodes)."""
    drift, schedule, x1, z, ratios, mask = gaussian
    times = time_grid("logsnr", 23, 1e-4, 1 - 1e-4, schedule)
    prof = drift_profile(drift.velocity, schedule, times, x1[:4], z[:4], width=8, iterations=20,
                         project=fourier_projector(mask))
    made = TabulatedTarget(TabulatedProfile(prof.beta, prof.g, prof.kinetic, prof.g_max)).design()
    power = matern_power(N, 1)
    base = torch.ones_like(power)
    base[0] = 0.0
    exact = GaussianTarget(power, base, 1, N, {})
    optimum = exact.a2(exact.design().schedule)
    assert optimum == pytest.approx(math.log(float(ratios.min())) ** 2 / 4, rel=1e-6)
    assert exact.a2(made.schedule) < 1.02 * optimum
    assert made.info["criterion_value"] == pytest.approx(optimum, rel=0.05)


def test_spectral_norm_of_a_nonlinear_field():
    """A non-symmetric, x-dependent Jacobian: per-draw estimates vs torch.linalg on the explicit Jacobian."""
    gen = torch.Generator().manual_seed(1)
    d = 6
    w1 = torch.randn(d, d, generator=gen, dtype=torch.float64)
    w2 = torch.randn(d, d, generator=gen, dtype=torch.float64)
    sched = make_schedule("trig")

    def velocity(s, y):
        return torch.tanh(y @ w1) @ w2 * (1 + s) - y

    x1 = torch.randn(40, d, generator=gen, dtype=torch.float64)
    z = torch.randn(40, d, generator=gen, dtype=torch.float64)
    times = torch.tensor([0.2, 0.7], dtype=torch.float64)
    prof = drift_profile(velocity, sched, times, x1, z, width=6, iterations=30)
    for i, s in enumerate(times.tolist()):
        c = vp_coefficients(sched, s)
        v = sched(torch.tensor(s, dtype=torch.float64))
        y = float(v.alpha) * z + float(v.beta) * x1
        norms = []
        for row in y:
            jb = torch.autograd.functional.jacobian(lambda u: velocity(s, u[None])[0], row)
            norms.append(torch.linalg.matrix_norm(c["a"] * jb + c["d"] * torch.eye(d, dtype=torch.float64), 2) ** 2)
        norms = torch.stack(norms)
        assert float(prof.g[i]) == pytest.approx(float(norms.mean()), rel=1e-8)
        assert float(prof.g_max[i]) == pytest.approx(float(norms.max()), rel=1e-8)
        assert float(prof.g_se[i]) == pytest.approx(float(norms.std() / math.sqrt(40)), rel=1e-6)
