"""The stochastic Heun solver (``sde-heun``) on the exact Ornstein–Uhlenbeck forecasting target.

With the exact point-source drift every solver step is affine in (state, increment), so the law of X_N
is Gaussian and is computed exactly, with no sampling: the mean is the step applied to the mean with a
zero increment, and the covariance follows C' = J C Jᵀ + D Dᵀ, where the columns of J (of D) are the
step's responses to unit perturbations of the state (of the increment). The probes run the solver's
own ``step``, so this checks the code, not a re-derivation of it; for ``em`` it agrees with the
independent per-mode recursion :func:`sictl.core.exact.forecast.em_moments`.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from sictl.core.exact.forecast import OUField, em_moments
from sictl.core.interpolants.point_source import PointSource, point_source_diffusion
from sictl.core.sampling.solvers import SOLVERS, make_solver

F64 = torch.float64
RES = 16


@pytest.fixture(scope="module")
def setup():
    torch.set_num_threads(1)
    target = OUField(res=RES, dim=1).forecast(0.5)
    schedule = PointSource("beta-t2", 1.0)
    x0 = target.sample_conditions(1, generator=torch.Generator().manual_seed(3), like=torch.empty(0, dtype=F64))
    return target, schedule, x0


def exact_law(solver_name: str, diffusion: str, steps: int, setup, t_max: float = 1.0):
    """(mean (RES,), covariance (RES, RES)) of X at t_max after ``steps`` uniform steps from X_0 = x0."""
    target, schedule, x0 = setup
    solver = make_solver(solver_name, diffusion=point_source_diffusion(diffusion, schedule))
    eye = torch.eye(RES, dtype=F64)
    drift = target.drift(schedule, x0.expand(2 * RES + 1, RES).clone(), "state")
    ts = torch.linspace(0.0, t_max, steps + 1, dtype=F64).tolist()
    mean, cov, memory = x0[0].clone(), torch.zeros(RES, RES, dtype=F64), {}
    zero = torch.zeros(RES, dtype=F64)
    for t0, t1 in itertools.pairwise(ts):
        x = torch.cat([mean[None], mean + eye, mean.expand(RES, RES)])
        noise = torch.cat([zero[None], torch.zeros(RES, RES, dtype=F64), eye])
        out = solver.step(drift, t0, t1, x, memory, noise=noise)
        new = out[0]
        jac, dif = (out[1 : RES + 1] - new).T, (out[RES + 1 :] - new).T
        mean, cov = new, jac @ cov @ jac.T + dif @ dif.T
    return mean, cov


def target_law(setup):
    """N(A x0, Σ) in pixels: Cov[a, b] = n · ifft(Σ_k)[a − b] for per-mode powers Σ_k (norm="forward")."""
    target, _, x0 = setup
    row = RES * np.fft.ifft(target.cov_power.numpy()).real
    cov = np.array([[row[(a - b) % RES] for b in range(RES)] for a in range(RES)])
    return target.conditional_mean(x0)[0].numpy(), cov


def errors(solver: str, diffusion: str, steps: int, setup) -> tuple[float, float]:
    mean, cov = exact_law(solver, diffusion, steps, setup)
    m, c = target_law(setup)
    return float(np.abs(mean.numpy() - m).max()), float(np.abs(cov.numpy() - c).max())


def test_registered_with_what_it_needs():
    cls = SOLVERS["sde-heun"]
    assert cls.nfe_per_step == 2 and cls.stochastic and cls.takes_diffusion
    assert make_solver("sde-heun", diffusion=lambda t: t).needs_score and not make_solver("sde-heun").needs_score


def test_the_probes_reproduce_the_exact_em_recursion(setup):
    """em's covariance from the probes equals em_moments' per-mode variance (an independent recursion)."""
    target, schedule, _ = setup
    steps = 25
    _, cov = exact_law("em", "sigma", steps, setup)
    per_mode = np.fft.fft(cov[:, 0].numpy()).real / RES
    ts = torch.linspace(0.0, 1.0, steps + 1, dtype=F64)
    ref = em_moments(schedule, ts, target.cov_power, target.white_noise_power(),
                     lambda t: schedule.sigma(torch.as_tensor(t, dtype=F64))[0] ** 2).variance
    np.testing.assert_allclose(per_mode, ref.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("diffusion", ["sigma", "const:1", "follmer"])
def test_heun_converges_at_second_order_and_em_at_first(setup, diffusion):
    """Observed orders log2(e_N / e_2N) of the X_1 mean and covariance errors (max abs), N = 20 … 160.

    No sampling: the laws are exact, so the orders are those of the schemes (em: 1; stochastic Heun: 2,
    the trapezoid rule in the drift and in g²), up to pre-asymptotic terms that shrink with N (at
    N = 80 → 160 the observed orders are 0.97–0.99 for em and 1.89–2.02 for Heun). g_F included: its
    retuned drift is stiff at t = 0 (rate ≈ −1/t) and Heun keeps its order. Heun's error is below
    em's at every N."""
    sizes = [20, 40, 80, 160]
    em = np.array([errors("em", diffusion, n, setup) for n in sizes])
    heun = np.array([errors("sde-heun", diffusion, n, setup) for n in sizes])
    em_order, heun_order = np.log2(em[:-1] / em[1:]), np.log2(heun[:-1] / heun[1:])
    assert np.all(heun < em / 10), (heun, em)
    assert np.all(np.abs(em_order[-1] - 1) < 0.1), em_order
    assert np.all(np.abs(heun_order[-1] - 2) < 0.2), heun_order


def test_monte_carlo_agrees_with_the_exact_law(setup):
    """Sampling with the same solver (4000 paths, fixed seed) matches the probed law within 5 standard
    errors: mean error ≤ 5 √(C_aa/n), variance ratio within 5 √(2/n)."""
    from sictl.core.sampling.integrate import integrate

    target, schedule, x0 = setup
    n, steps = 4000, 20
    mean, cov = exact_law("sde-heun", "sigma", steps, setup)
    drift = target.drift(schedule, x0.expand(n, RES).clone(), "state")
    solver = make_solver("sde-heun", diffusion=point_source_diffusion("sigma", schedule))
    x = drift.sample_base((n, RES), generator=None, like=x0)
    out = integrate(drift, solver, x, torch.linspace(0.0, 1.0, steps + 1, dtype=F64),
                    generator=torch.Generator().manual_seed(11)).x
    var = torch.diagonal(cov)
    assert bool(((out.mean(0) - mean).abs() <= 5 * torch.sqrt(var / n)).all())
    assert bool(((out.var(0) / var - 1).abs() <= 5 * math.sqrt(2 / n)).all())


def gaussian_base_variance(solver_name: str, diffusion: str, steps: int, lam: torch.Tensor, t0=0.02, t1=0.98) -> torch.Tensor:
    """Var X_{t1} per mode for a Gaussian-base drift (the score from the velocity), exactly by probing:
    V' = a² V + d² with a the step's gain on the state and d its gain on the increment."""
    from sictl.core.exact.drifts import DiagonalGaussianDrift
    from sictl.core.interpolants.schedules import make_schedule
    from sictl.core.sampling.diffusion import make_diffusion

    sched = make_schedule("linear")
    drift = DiagonalGaussianDrift(sched, lam)
    solver = make_solver(solver_name, diffusion=make_diffusion(diffusion, sched))
    v = sched(torch.tensor(t0, dtype=F64))
    var, memory = v.alpha**2 + v.beta**2 * lam, {}
    ts = torch.linspace(t0, t1, steps + 1, dtype=F64).tolist()
    one, zero = torch.ones_like(lam), torch.zeros_like(lam)
    for a, b in itertools.pairwise(ts):
        gain = solver.step(drift, a, b, one, memory, noise=zero)
        kick = solver.step(drift, a, b, zero, memory, noise=one)
        var = gain**2 * var + kick**2
    return var


@pytest.mark.parametrize("diffusion, t0", [("const:0.5", 0.02), ("optimal", 0.1)])
def test_gaussian_base_sde_is_second_order_too(diffusion, t0):
    """The Gaussian-base SDE dX = (b + ε s) dt + √(2ε) dW (ε* or a constant) from the exact law at t0:
    the variance at t = 0.98 is exact for every ε, and Heun's error falls at order 2, em's at order 1.
    (ε* ~ 1/t is stiff near t = 0: from t0 = 0.02 em's error changes sign at these N, so ε* starts at 0.1.)"""
    from sictl.core.interpolants.schedules import make_schedule

    lam = torch.tensor([0.05, 0.3, 1.0, 4.0], dtype=F64)
    v = make_schedule("linear")(torch.tensor(0.98, dtype=F64))
    exact = v.alpha**2 + v.beta**2 * lam
    sizes = [40, 80, 160]
    err = {s: np.array([float((gaussian_base_variance(s, diffusion, n, lam, t0) - exact).abs().max()) for n in sizes])
           for s in ("em", "sde-heun")}
    assert abs(np.log2(err["em"][-2] / err["em"][-1]) - 1) < 0.15, err
    assert abs(np.log2(err["sde-heun"][-2] / err["sde-heun"][-1]) - 2) < 0.25, err
    assert np.all(err["sde-heun"] < err["em"]), err
