"""Tests for sictl.core.interpolants.conversions: velocity ↔ denoisers ↔ score, ε*, the Föllmer coefficient.

Check values: SPEC §1, reference/interpolants.md §5 and §7 item 2, reference/lipschitz.md §7 items 2 and 8,
reference/follmer.md §7 T2-T3. Gaussian fields are written out here from interpolants.md §5, independently
of the code under test.
"""

from __future__ import annotations

import math

import pytest
import torch

from sictl.core.interpolants import conversions as cv
from sictl.core.interpolants.schedules import Designed, Linear, PointSource, Tabulated, Trig

F64 = torch.float64
GEN = torch.Generator().manual_seed(1234)


def trig_table(points: int = 501) -> Tabulated:
    t = torch.linspace(0, 1, points, dtype=F64)
    h = math.pi / 2
    return Tabulated(t, torch.cos(h * t), torch.sin(h * t), -h * torch.sin(h * t), h * torch.cos(h * t))


SCHEDULES = {
    "linear": Linear(),
    "trig": Trig(),
    "designed-1e-4": Designed(1e-4),
    "designed-4": Designed(4.0),
    "point-source-beta-t2": PointSource("beta-t2"),
    "tabulated-trig": trig_table(),
}
TIMES = [1e-3, 0.1, 0.37, 0.5, 0.83, 0.999]


def close(a, b, rtol=1e-12, atol=1e-12):
    a, b = torch.as_tensor(a, dtype=F64), torch.as_tensor(b, dtype=F64)
    err = (a - b).abs()
    ok = bool((err <= atol + rtol * b.abs()).all())
    return ok, float(err.max())


def rand(*shape):
    return torch.randn(*shape, generator=GEN, dtype=F64)


# ---- round trips ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("t", TIMES)
def test_round_trips(name, t):
    v = SCHEDULES[name](t)
    x, b = rand(4, 2, 8), rand(4, 2, 8)
    scale = 1 + float(b.abs().max()) + float(x.abs().max())
    checks = {
        "b -> eta_x -> b": cv.velocity_from_eta_x(v, x, cv.eta_x_from_velocity(v, x, b)),
        "b -> eta_z -> b": cv.velocity_from_eta_z(v, x, cv.eta_z_from_velocity(v, x, b)),
        "b -> score -> b": cv.velocity_from_score(v, x, cv.score_from_velocity(v, x, b)),
    }
    for what, got in checks.items():
        ok, err = close(got, b, rtol=1e-12, atol=1e-12 * scale)
        assert ok, f"{what}: {err:.2e}"
    eta_z = rand(4, 2, 8)
    ok, err = close(
        cv.eta_z_from_eta_x(v, x, cv.eta_x_from_eta_z(v, x, eta_z)), eta_z, atol=1e-12 * scale / float(v.beta)
    )
    assert ok, f"eta_z -> eta_x -> eta_z: {err:.2e}"
    ok, err = close(cv.eta_z_from_score(v, cv.score_from_eta_z(v, eta_z)), eta_z)
    assert ok, f"eta_z -> score -> eta_z: {err:.2e}"


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("t", TIMES)
def test_denoisers_reconstruct_state_and_velocity(name, t):
    """x = α η_z + β η_x and b = α̇ η_z + β̇ η_x for the denoisers derived from any b."""
    v = SCHEDULES[name](t)
    x, b = rand(3, 16), rand(3, 16)
    eta_x, eta_z = cv.eta_x_from_velocity(v, x, b), cv.eta_z_from_velocity(v, x, b)
    scale = 1 + float(b.abs().max()) + float(x.abs().max())
    assert close(v.alpha * eta_z + v.beta * eta_x, x, atol=1e-12 * scale)[0]
    assert close(
        v.alpha_dot * eta_z + v.beta_dot * eta_x, b, atol=1e-12 * scale * (1 + float(v.alpha_dot.abs()))
    )[0]


def test_round_trip_with_a_coloured_base():
    """Score with C0 = diag(μ): s = −C0⁻¹ η_z/α and back with C0."""
    mu = torch.rand(8, generator=GEN, dtype=F64) + 0.1
    for sched in SCHEDULES.values():
        v = sched(0.4)
        x, b = rand(5, 8), rand(5, 8)
        s = cv.score_from_velocity(v, x, b, base_precision=lambda u: u / mu)
        assert close(cv.velocity_from_score(v, x, s, base_cov=lambda u: u * mu), b, atol=1e-12)[0]
        assert close(s, -cv.eta_z_from_velocity(v, x, b) / (mu * v.alpha))[0]


def test_wronskian_values():
    t = torch.rand(5, generator=GEN, dtype=F64)
    assert close(cv.wronskian(Linear()(t)), torch.ones(5, dtype=F64), rtol=1e-15, atol=0)[0]
    assert close(cv.wronskian(Trig()(t)), torch.full((5,), math.pi / 2, dtype=F64), rtol=1e-14, atol=0)[0]
    t = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    lam = 1e-3
    v = Designed(lam)(t)
    # VP: W = αβ̇ − α̇β = ½ d(β²)/dt / (αβ), ½ d(β²)/dt = ½ λ^t ln λ/(λ − 1)
    expected = 0.5 * lam**t * math.log(lam) / (lam - 1) / (v.alpha * v.beta)
    assert close(cv.wronskian(v), expected)[0]


# ---- Gaussian closed forms (interpolants.md §5) ---------------------------------------------------------------
def gaussian_fields(v, lam, mu, x):
    """1-D Gaussian target N(0, λ), base N(0, μ): b = A x, η_z = αμx/D, η_x = βλx/D, s = −x/D."""
    d = v.alpha**2 * mu + v.beta**2 * lam
    a = (v.alpha * v.alpha_dot * mu + v.beta * v.beta_dot * lam) / d
    return a * x, v.alpha * mu * x / d, v.beta * lam * x / d, -x / d


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("lam", [1e-4, 0.3, 4.0])
@pytest.mark.parametrize("mu", [1.0, 2.5])
def test_conversions_agree_with_gaussian_closed_forms(name, lam, mu):
    x = rand(64)
    for t in TIMES:
        v = SCHEDULES[name](t)
        b, eta_z, eta_x, score = gaussian_fields(v, lam, mu, x)
        prec, cov = (lambda u: u / mu), (lambda u: u * mu)
        tol = {"rtol": 1e-10, "atol": 1e-12 * (1 + float(score.abs().max()))}
        assert close(cv.eta_z_from_velocity(v, x, b), eta_z, **tol)[0], (t, "eta_z")
        assert close(cv.eta_x_from_velocity(v, x, b), eta_x, **tol)[0], (t, "eta_x")
        assert close(cv.score_from_velocity(v, x, b, prec), score, **tol)[0], (t, "score")
        assert close(cv.velocity_from_score(v, x, score, cov), b, **tol)[0], (t, "b from score")
        assert close(cv.velocity_from_eta_x(v, x, eta_x), b, **tol)[0], (t, "b from eta_x")
        assert close(cv.velocity_from_eta_z(v, x, eta_z), b, **tol)[0], (t, "b from eta_z")


def test_interpolants_item2_numbers():
    """λ = 4, t = 0.5, linear: D = 1.25, A = 1.2, s = −0.8x, E[z|x] = 0.4x, E[x1|x] = 1.6x."""
    lam, t = 4.0, 0.5
    v = Linear()(t)
    x = torch.tensor([1.0, -2.0, 0.7], dtype=F64)
    d = (1 - t) ** 2 + lam * t**2
    assert d == 1.25
    a = (lam * t - (1 - t)) / d
    assert abs(a - 1.2) < 1e-15
    b = 1.2 * x
    assert close(cv.score_from_velocity(v, x, b), -0.8 * x, rtol=1e-14, atol=0)[0]
    assert close(cv.eta_z_from_velocity(v, x, b), 0.4 * x, rtol=1e-14, atol=0)[0]
    assert close(cv.eta_x_from_velocity(v, x, b), 1.6 * x, rtol=1e-14, atol=0)[0]
    # "inverse map s = (β̇x − βb)/(α(α̇β − αβ̇))"
    s_alt = (v.beta_dot * x - v.beta * b) / (v.alpha * (v.alpha_dot * v.beta - v.alpha * v.beta_dot))
    assert close(s_alt, -0.8 * x, rtol=1e-14, atol=0)[0]
    assert close(cv.velocity_from_score(v, x, -0.8 * x), b, rtol=1e-14, atol=0)[0]


def test_sde_drift():
    b, s = rand(7), rand(7)
    assert torch.equal(cv.sde_drift(b, s, 0.0), b)
    assert close(cv.sde_drift(b, s, 0.3), b + 0.3 * s, rtol=1e-15, atol=0)[0]


# ---- ε* (lipschitz.md §1.4, §7 items 2 and 8) -------------------------------------------------------------------
def test_eps_star_linear():
    t = torch.tensor([1e-3, 0.1, 0.5, 0.75, 0.999], dtype=F64)
    assert close(cv.eps_star(Linear()(t)), (1 - t) / t, rtol=1e-13)[0]
    assert abs(float(cv.eps_star(Linear()(0.5))) - 1.0) < 1e-15


@pytest.mark.parametrize("sched", [Linear(), Trig(), Designed(1e-3), Designed(20.0)], ids=lambda s: s.name)
def test_optimal_diffusion_on_the_closed_interval(sched):
    """ε* of the schedule equals α²β̇/β − αα̇ inside, is finite at t = 1 (designed: ½ λ ln λ/(λ − 1);
    linear, trig: 0) and +∞ at t = 0."""
    t = torch.tensor([1e-3, 0.1, 0.5, 0.75, 0.999], dtype=F64)
    assert close(cv.optimal_diffusion(sched, t), cv.eps_star(sched(t)), rtol=1e-12)[0]
    ends = cv.optimal_diffusion(sched, torch.tensor([0.0, 1.0], dtype=F64))
    assert math.isinf(float(ends[0])) and float(ends[0]) > 0
    lam = getattr(sched, "lam", None)
    expected = 0.0 if lam is None else 0.5 * lam * math.log(lam) / (lam - 1)
    assert float(ends[1]) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_euler_maruyama_refuses_an_infinite_diffusion_at_the_start():
    from sictl.core.exact.drifts import DiagonalGaussianDrift
    from sictl.core.sampling.diffusion import make_diffusion
    from sictl.core.sampling.grids import time_grid
    from sictl.core.sampling.integrate import integrate
    from sictl.core.sampling.solvers import make_solver
    from sictl.errors import ConfigError

    drift = DiagonalGaussianDrift(Linear(), torch.tensor([0.3], dtype=F64))
    solver = make_solver("em", diffusion=make_diffusion("optimal", Linear()))
    x0 = torch.ones(4, 1, dtype=F64)
    with pytest.raises(ConfigError, match="not finite at t = 0") as info:
        integrate(drift, solver, x0, time_grid("uniform", 4, 0.0, 1.0), generator=torch.Generator().manual_seed(0))
    assert "--t-min" in info.value.hint
    out, _ = integrate(drift, solver, x0, time_grid("uniform", 4, 1e-3, 1.0), generator=torch.Generator().manual_seed(0))
    assert bool(torch.isfinite(out).all())


def test_eps_star_trig():
    t = torch.tensor([1e-3, 0.1, 0.5, 0.75, 0.999], dtype=F64)
    expected = (math.pi / 2) / torch.tan(math.pi * t / 2)
    assert close(cv.eps_star(Trig()(t)), expected, rtol=1e-12)[0]
    assert abs(float(cv.eps_star(Trig()(0.5))) - math.pi / 2) < 1e-14


@pytest.mark.parametrize(
    "sched",
    [Trig(), Designed(1e-5), Designed(0.3), Designed(7.0), Designed(1.0)],
    ids=["trig", "designed-1e-5", "designed-0.3", "designed-7", "designed-1"],
)
def test_eps_star_variance_preserving_is_beta_dot_over_beta(sched):
    t = torch.linspace(0.01, 0.99, 33, dtype=F64)
    v = sched(t)
    assert close(cv.eps_star(v), v.beta_dot / v.beta, rtol=1e-11)[0]


@pytest.mark.parametrize(
    ("lam", "t", "expected"),
    [(1e-5, 0.1, 2.662222), (1e-5, 0.5, 0.018261), (4e-4, 0.5, 0.079837), (4.0, 0.5, 1.386294)],
)
def test_eps_star_designed_reference_column(lam, t, expected):
    assert abs(float(cv.eps_star(Designed(lam)(t))) - expected) <= 1e-6


def test_eps_star_general_formula_on_a_non_vp_schedule():
    s = PointSource("beta-3t2")
    t = torch.tensor([0.2, 0.5, 0.8], dtype=F64)
    a, b = 1 - t, 3 * t * t / (2 * t + 1)
    db = (6 * t * t + 6 * t) / (2 * t + 1) ** 2
    assert close(cv.eps_star(s(t)), a * a * db / b + a, rtol=1e-13)[0]


# ---- Föllmer coefficient (follmer.md §7 T2) ----------------------------------------------------------------------
T2 = {
    "lin-beta": {0.25: 0.9375, 0.5: 0.75, 0.75: 0.4375, 0.0: 1.0},
    "beta-t2": {0.25: 2.0625, 0.5: 1.25, 0.75: 0.5625, 0.0: 3.0},
    "beta-2t2": {0.25: 1.8375, 0.5: 1.083333, 0.75: 0.508929, 0.0: 3.0},
    "beta-3t2": {0.25: 1.6875, 0.5: 1.0, 0.75: 0.4875, 0.0: 3.0},
}


def g2(sched: PointSource, t):
    t = torch.as_tensor(t, dtype=F64)
    sigma, sigma_dot = sched.sigma(t)
    return cv.follmer_g2(t, sched(t), sigma, sigma_dot)


@pytest.mark.parametrize("family", list(T2))
def test_follmer_table(family):
    s = PointSource(family, 1.0)
    for t, expected in T2[family].items():
        if t == 0.0:
            # 0⁺: the limit, approached linearly in t
            assert abs(float(g2(s, 1e-9)) - expected) <= 1e-7
        else:
            assert abs(float(g2(s, t)) - expected) <= 1e-6, (t, float(g2(s, t)))
    assert float(g2(s, 1.0)) == 0.0
    assert abs(float(g2(s, 1 - 1e-9))) < 1e-8


def test_follmer_closed_forms_lin_beta_and_t2():
    t = torch.linspace(0.01, 0.99, 41, dtype=F64)
    assert close(g2(PointSource("lin-beta"), t), 1 - t * t, rtol=1e-13, atol=1e-15)[0]
    assert close(g2(PointSource("beta-t2"), t), (1 - t) * (3 - t), rtol=1e-13, atol=1e-15)[0]


@pytest.mark.parametrize("family", list(T2))
def test_follmer_scales_with_c_squared(family):
    t = torch.linspace(0.05, 0.95, 19, dtype=F64)
    base = g2(PointSource(family, 1.0), t)
    for c in (0.1, 3.0):
        assert close(g2(PointSource(family, c), t), c * c * base, rtol=1e-13)[0]


@pytest.mark.parametrize("family", list(T2))
@pytest.mark.parametrize("c", [1.0, 0.4])
def test_follmer_equals_minus_beta2_dkappa(family, c):
    """g_F² = −β² dκ/dt with κ = tσ²/β² (κ differentiated by autograd)."""
    s = PointSource(family, c)
    t = torch.linspace(0.05, 0.95, 19, dtype=F64).requires_grad_(True)
    beta = s(t).beta
    sigma = s.sigma(t)[0]
    kappa = t * sigma**2 / beta**2
    (dkappa,) = torch.autograd.grad(kappa.sum(), t)
    expected = -(beta**2) * dkappa
    assert close(g2(s, t.detach()), expected.detach(), rtol=1e-12, atol=1e-14)[0]


@pytest.mark.parametrize("family", list(T2))
def test_follmer_limit_at_one(family):
    """lim_{t→1} g_F²/σ = −2σ̇(1) = 2c."""
    c = 0.7
    s = PointSource(family, c)
    t = 1 - 1e-7
    ratio = float(g2(s, t) / s.sigma(t)[0])
    assert abs(ratio - 2 * c) < 1e-5


# ---- point-source score (follmer.md §7 T3) ---------------------------------------------------------------------
@pytest.mark.parametrize("family", list(T2))
@pytest.mark.parametrize("x0_mode", ["zero", "last-state"])
def test_point_source_score_gaussian(family, x0_mode):
    """Target x1 | x0 ~ N(μ, λ): m = αx0 + βμ, C = β²λ + tσ², b = α̇x0 + β̇μ + k(x − m), s = −(x − m)/C."""
    c, lam, mean = 0.8, 0.35, 0.6
    s = PointSource(family, c)
    x = rand(50)
    x0 = torch.zeros(50, dtype=F64) if x0_mode == "zero" else rand(50)
    for t in (0.1, 0.4, 0.77):
        tt = torch.tensor(t, dtype=F64)
        v = s(tt)
        sigma, sigma_dot = s.sigma(tt)
        m = v.alpha * x0 + v.beta * mean
        cov = v.beta**2 * lam + tt * sigma**2
        k = (v.beta_dot * v.beta * lam + tt * sigma * sigma_dot) / cov
        b = v.alpha_dot * x0 + v.beta_dot * mean + k * (x - m)
        score = -(x - m) / cov
        got = cv.point_source_score(tt, v, sigma, sigma_dot, x, x0, b)
        assert close(got, score, rtol=1e-11, atol=1e-13)[0], t
        # b = α̇x0 + (β̇/β)(x − αx0) + ½(g_F² + σ²)s
        gf2 = cv.follmer_g2(tt, v, sigma, sigma_dot)
        rebuilt = v.alpha_dot * x0 + v.beta_dot / v.beta * (x - v.alpha * x0) + 0.5 * (gf2 + sigma**2) * score
        assert close(rebuilt, b, rtol=1e-11, atol=1e-13)[0], t
