"""Point-source interpolants (sictl.core.interpolants.point_source) and the point-source drift contract
(sictl.core.sampling.point_source).

Check values: the schedule registry (T1), the Föllmer coefficient (T2) and the drift retuning (T4) of the
forecasting paper (arXiv 2403.13724, App. A.1 and eqs. 8, 10, 13) and of its authors' code, written out here
independently of the code under test. Closed forms are compared at 1e-10 in float64.
"""

from __future__ import annotations

import math

import pytest
import torch

from sictl.core.interpolants import conversions as cv
from sictl.core.interpolants.point_source import (
    POINT_SOURCE_BETAS,
    POINT_SOURCE_FAMILIES,
    PointSource,
    TabulatedPointSource,
    forecast_from_endpoint,
    interpolant,
    point_source_diffusion,
    point_source_g2,
    regression_target,
    retuned_target,
    source_endpoints,
)
from sictl.core.interpolants.schedules import SCHEDULES, Tabulated, make_schedule
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.point_source import PointSourceDrift
from sictl.core.sampling.solvers import make_solver
from sictl.errors import ConfigError

F64 = torch.float64
GEN = torch.Generator().manual_seed(7)
T_IN = torch.tensor([1e-3, 0.05, 0.1, 0.25, 0.3, 0.5, 0.6, 0.75, 0.9, 0.99], dtype=F64)


def rand(*shape):
    return torch.randn(*shape, generator=GEN, dtype=F64)


def close(a, b, tol=1e-10):
    a, b = torch.as_tensor(a, dtype=F64), torch.as_tensor(b, dtype=F64)
    err = float((a - b).abs().max())
    assert err <= tol * (1 + float(b.abs().max())), err


# ---- T1: the schedule registry, as the forecasting code writes it -------------------------------------------
T1 = {  # β, β̇, σ/c, γ/c = σ√t/c
    "lin-beta": (lambda t: t, lambda t: 1.0 + 0 * t, lambda t: 1 - t, lambda t: (1 - t) * t.sqrt()),
    "beta-t2": (lambda t: t**2, lambda t: 2 * t, lambda t: 1 - t, lambda t: (1 - t) * t.sqrt()),
    "beta-2t2": (lambda t: 2 * t**2 / (t + 1), lambda t: (2 * t**2 + 4 * t) / (t + 1) ** 2, lambda t: 1 - t,
                 lambda t: (1 - t) * t.sqrt()),
    "beta-3t2": (lambda t: 3 * t**2 / (2 * t + 1), lambda t: (6 * t**2 + 6 * t) / (2 * t + 1) ** 2, lambda t: 1 - t,
                 lambda t: (1 - t) * t.sqrt()),
    "follmer-g-1": (lambda t: t, lambda t: 1.0 + 0 * t, lambda t: (1 - t).sqrt(), lambda t: (t * (1 - t)).sqrt()),
    "g-sqrt1-t": (lambda t: 2 * t - t**2, lambda t: 2 - 2 * t, lambda t: (1 - t) * ((2 - t) / 2).sqrt(),
                  lambda t: ((2 * t - t**2) * (1 - t) ** 2 / 2).sqrt()),
}


def test_registry_holds_the_six_families():
    assert set(POINT_SOURCE_FAMILIES) == set(T1)
    assert set(T1) <= set(SCHEDULES)
    assert set(POINT_SOURCE_BETAS) == {"lin-beta", "beta-t2", "beta-2t2", "beta-3t2"}  # σ = c(1 − t)
    p = make_schedule("g-sqrt1-t:0.5")
    assert isinstance(p, PointSource) and p.family == "g-sqrt1-t" and p.c == 0.5
    assert p.describe() == {"name": "g-sqrt1-t", "c": 0.5}
    with pytest.raises(ConfigError):
        make_schedule("follmer-g-1:-1")


@pytest.mark.parametrize("family", list(T1))
@pytest.mark.parametrize("c", [1.0, 0.35])
def test_t1_schedule_values(family, c):
    beta, beta_dot, shape, gamma = T1[family]
    s = PointSource(family, c)
    t = T_IN
    v = s(t)
    close(v.beta, beta(t))
    close(v.beta_dot, beta_dot(t))
    close(v.alpha, 1 - t)
    close(v.alpha_dot, -torch.ones_like(t))
    close(s.sigma(t)[0], c * shape(t))
    close(s.noise_scale(t), c * gamma(t))
    ends = s(torch.tensor([0.0, 1.0], dtype=F64))
    assert ends.beta.tolist() == [0.0, 1.0] and ends.alpha.tolist() == [1.0, 0.0]
    assert float(s.sigma(1.0)[0]) == 0.0
    # β̇ against a central difference (T1: 1e-6), σ̇ and σσ̇ against forward-mode AD
    h = 1e-5
    fd = (s(t + h).beta - s(t - h).beta) / (2 * h)
    assert float((fd - v.beta_dot).abs().max()) < 1e-6
    sd = torch.func.jacfwd(lambda x: s.sigma(x)[0])(t).diagonal()
    close(s.sigma(t)[1], sd)
    close(s.sigma_rate(t), s.sigma(t)[0] * sd)
    close(s.beta_order(t), t * v.beta_dot / v.beta)


def test_beta_order_limits_at_zero():
    expected = {"lin-beta": 1.0, "beta-t2": 2.0, "beta-2t2": 2.0, "beta-3t2": 2.0, "follmer-g-1": 1.0, "g-sqrt1-t": 1.0}
    for family, r0 in expected.items():
        assert float(PointSource(family).beta_order(0.0)) == r0, family


# ---- T2: the Föllmer coefficient -----------------------------------------------------------------------------
G_F2 = {  # closed forms for c = 1 (scale with c²)
    "lin-beta": lambda t: (1 - t) * (1 + t),
    "beta-t2": lambda t: (1 - t) * (3 - t),
    "beta-2t2": lambda t: (1 - t) * (3 + t**2) / (1 + t),
    "beta-3t2": lambda t: (1 - t) * (2 * t**2 + t + 3) / (2 * t + 1),
    "follmer-g-1": lambda t: torch.ones_like(t),
    "g-sqrt1-t": lambda t: 1 - t,
}
T2_TABLE = {  # t = 0⁺, 0.25, 0.5, 0.75, 1
    "lin-beta": [1, 0.9375, 0.75, 0.4375, 0],
    "beta-t2": [3, 2.0625, 1.25, 0.5625, 0],
    "beta-2t2": [3, 1.8375, 1.083333, 0.508929, 0],
    "beta-3t2": [3, 1.6875, 1.0, 0.4875, 0],
}


@pytest.mark.parametrize("family", list(G_F2))
@pytest.mark.parametrize("c", [1.0, 0.3, 2.5])
def test_t2_follmer_closed_forms(family, c):
    s = PointSource(family, c)
    t = torch.cat([torch.tensor([0.0], dtype=F64), T_IN, torch.tensor([1.0], dtype=F64)])
    close(s.follmer_g2(t), c * c * G_F2[family](t))
    # the general formula of conversions agrees in the interior
    sigma, sigma_dot = s.sigma(T_IN)
    close(cv.follmer_g2(T_IN, s(T_IN), sigma, sigma_dot), c * c * G_F2[family](T_IN))
    # g_F² = −β² dκ/dt with κ = tσ²/β²
    kd = torch.func.jacfwd(lambda x: x * s.sigma(x)[0] ** 2 / s(x).beta ** 2)(T_IN).diagonal()
    close(-(s(T_IN).beta ** 2) * kd, c * c * G_F2[family](T_IN), tol=1e-9)


@pytest.mark.parametrize("family", list(T2_TABLE))
def test_t2_reference_table(family):
    got = PointSource(family, 1.0).follmer_g2(torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0], dtype=F64))
    assert float((got - torch.tensor(T2_TABLE[family], dtype=F64)).abs().max()) < 1e-6
    # lim_{t→1} g_F²/σ = −2σ̇(1) = 2c
    s = PointSource(family, 0.7)
    assert abs(float(s.follmer_g2(1 - 1e-8) / s.sigma(1 - 1e-8)[0]) - 1.4) < 1e-6


@pytest.mark.parametrize("family", ["follmer-g-1", "g-sqrt1-t"])
@pytest.mark.parametrize("c", [1.0, 0.4])
def test_t2_coded_g_is_the_follmer_coefficient(family, c):
    s = PointSource(family, c)
    close(s.follmer_g2(T_IN), s.coded_g2(T_IN), tol=1e-12)
    assert PointSource("beta-t2").coded_g2(0.5) is None


def test_tabulated_point_source_uses_the_table_beta():
    t = torch.linspace(0, 1, 401, dtype=F64)
    table = Tabulated(t, 1 - t, t * t, -torch.ones_like(t), 2 * t)
    s = TabulatedPointSource(table, 0.5)
    close(s(T_IN).beta, T_IN**2, tol=1e-9)
    close(s.follmer_g2(T_IN), 0.25 * (1 - T_IN) * (3 - T_IN), tol=1e-8)
    assert abs(float(s.follmer_g2(0.0)) - 0.75) < 1e-12  # the t² limit at 0: 3c²


# ---- T4: drift retuning -----------------------------------------------------------------------------------
def _score(s, t, x, x0, b):
    t = torch.as_tensor(t, dtype=F64)
    sigma, sigma_dot = s.sigma(t)
    return cv.point_source_score(t, s(t), sigma, sigma_dot, x, x0, b)


def _retuned(s, t, x, x0, b, g2):
    sigma = s.sigma(torch.as_tensor(t, dtype=F64))[0]
    return cv.retuned_drift(b, _score(s, t, x, x0, b), g2, sigma**2)


@pytest.mark.parametrize("t", [0.05, 0.3, 0.5, 0.8, 0.97])
def test_t4_retuning_closed_forms_zero_source(t):
    x, b, x0 = rand(64), rand(64), torch.zeros(64, dtype=F64)
    g2 = 0.37
    lin, sq = PointSource("lin-beta"), PointSource("beta-t2")
    close(_retuned(lin, t, x, x0, b, g2), b + (g2 - (1 - t) ** 2) * (t * b - x) / (2 * t * (1 - t)))
    close(_retuned(lin, t, x, x0, b, lin.follmer_g2(t)), (1 + t) * b - x)
    close(_retuned(sq, t, x, x0, b, g2), b + (g2 - (1 - t) ** 2) * (t * t * b - 2 * t * x) / (2 * t * t * (1 - t) * (2 - t)))
    close(_retuned(sq, t, x, x0, b, sq.follmer_g2(t)), (3 - t) / (2 - t) * b - 2 * x / (t * (2 - t)))
    close(_retuned(sq, t, x, x0, b, 0.0), (3 - t) / (4 - 2 * t) * b + (1 - t) / (2 * t - t * t) * x)
    # c cancels in b^F and in the probability-flow velocity
    for c in (0.2, 3.0):
        sc = PointSource("beta-t2", c)
        close(_retuned(sc, t, x, x0, b, sc.follmer_g2(t)), (3 - t) / (2 - t) * b - 2 * x / (t * (2 - t)))
        close(_retuned(sc, t, x, x0, b, 0.0), (3 - t) / (4 - 2 * t) * b + (1 - t) / (2 * t - t * t) * x)
    # g = σ returns b exactly
    sigma2 = float(sq.sigma(t)[0]) ** 2
    assert torch.equal(_retuned(sq, t, x, x0, b, sigma2), b)


@pytest.mark.parametrize("family", list(POINT_SOURCE_BETAS))
def test_t4_last_state_source_adds_the_x0_terms(family):
    s, t, c = PointSource(family, 0.8), 0.4, 0.8
    x, b, x0 = rand(32), rand(32), rand(32)
    v = s(t)
    sigma, sigma_dot = c * (1 - t), -c
    a = 1 / (t * sigma * (float(v.beta_dot) * sigma - float(v.beta) * sigma_dot))
    cterm = float(v.beta_dot) * x + (float(v.beta) * -1 - float(v.beta_dot) * (1 - t)) * x0
    for g2 in (0.0, 0.5, float(s.follmer_g2(t))):
        close(_retuned(s, t, x, x0, b, g2), b + 0.5 * (g2 - sigma**2) * a * (float(v.beta) * b - cterm))


# ---- interpolant, targets and sources ---------------------------------------------------------------------
def test_interpolant_endpoints_and_target():
    s = PointSource("beta-2t2", 0.6)
    x0, x1, xi = rand(5, 3), rand(5, 3), rand(5, 3)
    assert torch.equal(interpolant(s, 0.0, x0, x1, xi), x0)
    assert torch.equal(interpolant(s, 1.0, x0, x1, xi), x1)
    t = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=F64)
    v, (sigma, sigma_dot) = s(t), s.sigma(t)
    col = t[:, None]
    close(interpolant(s, t, x0, x1, xi), v.alpha[:, None] * x0 + v.beta[:, None] * x1 + (sigma * t.sqrt())[:, None] * xi)
    target = regression_target(s, t, x0, x1, xi)
    close(target, -x0 + v.beta_dot[:, None] * x1 + (sigma_dot * t.sqrt())[:, None] * xi)
    g2 = 0.3 + col * 0
    close(retuned_target(s, t, x0, x1, xi, g2[:, 0]), target - (g2 - sigma[:, None] ** 2) / (2 * sigma[:, None] * col.sqrt()) * xi)
    # the time derivative of x_t is R_t plus the Itô part σ ξ/(2√t) (R_t is not ∂_t x_t)
    dx = torch.func.jacfwd(lambda tt: interpolant(s, tt, x0[0], x1[0], xi[0]))(torch.tensor(0.4, dtype=F64))
    tt = torch.tensor(0.4, dtype=F64)
    close(dx, regression_target(s, tt, x0[0], x1[0], xi[0]) + s.sigma(tt)[0] / (2 * tt.sqrt()) * xi[0])


def test_sources():
    cur, fut = rand(4, 6), rand(4, 6)
    x0, x1 = source_endpoints("zero", cur, fut)
    assert torch.equal(x0, torch.zeros_like(cur)) and torch.equal(x1, fut - cur)
    assert torch.equal(forecast_from_endpoint("zero", cur, x1), cur + x1)
    x0, x1 = source_endpoints("state", cur, fut)
    assert x0 is cur and x1 is fut and forecast_from_endpoint("state", cur, fut) is fut
    with pytest.raises(ConfigError):
        source_endpoints("last", cur, fut)


def test_point_source_diffusions():
    s = PointSource("beta-t2", 0.5)
    t = T_IN
    close(point_source_g2("sigma", s)(t), 0.25 * (1 - t) ** 2)
    close(point_source_g2("follmer", s)(t), s.follmer_g2(t))
    close(point_source_g2("const:2", s)(t), torch.full_like(t, 4.0))
    close(point_source_diffusion("const:2", s)(t), torch.full_like(t, 2.0))  # ε = g²/2
    assert point_source_g2("0", s) is None and point_source_diffusion("0", s) is None
    for bad in ("bogus", "const:x", "const:-1", "optimal"):
        with pytest.raises(ConfigError):
            point_source_g2(bad, s)


# ---- the drift contract: em integrates dX = b^g dt + g dW --------------------------------------------------
class AffineDrift(PointSourceDrift):
    """b = w1 x + w0 x0 + 0.3; its score follows from it by P1 eq. 10 (the default)."""

    def drift(self, t, x):
        return 0.7 * x - 0.4 * self.start.to(x) + 0.3


def test_em_step_is_euler_maruyama_of_the_retuned_sde():
    s = PointSource("beta-3t2", 0.9)
    cond = rand(6, 4)
    drift = AffineDrift(s, cond, "state")
    x = drift.sample_base((6, 4), generator=None, like=cond)
    assert torch.equal(x, cond) and x is not cond
    noise = rand(6, 4)
    t0, t1 = 0.3, 0.32
    for spec in ("sigma", "follmer", "const:1.3"):
        g2 = float(point_source_g2(spec, s)(torch.tensor(t0, dtype=F64)))
        out, nfe = integrate(drift, make_solver("em", diffusion=point_source_diffusion(spec, s)), x,
                             torch.tensor([t0, t1], dtype=F64), noises=[noise])
        expected = x + (t1 - t0) * drift.retuned(t0, x, g2) + math.sqrt(g2 * (t1 - t0)) * noise
        close(out, expected, tol=1e-13)
        assert nfe == 1
    # an ODE solver integrates the probability-flow velocity (g = 0)
    out, _ = integrate(drift, make_solver("euler"), x, torch.tensor([t0, t1], dtype=F64))
    close(out, x + (t1 - t0) * drift.retuned(t0, x, 0.0), tol=1e-13)
    # the first step from t = 0 uses b_0(x0, x0) and g(0)
    out, _ = integrate(drift, make_solver("em", diffusion=point_source_diffusion("sigma", s)), x,
                       torch.tensor([0.0, 0.01], dtype=F64), noises=[noise])
    close(out, x + 0.01 * drift.drift(0.0, x) + 0.9 * math.sqrt(0.01) * noise, tol=1e-13)


def test_point_source_drift_starts_and_noise():
    s = PointSource("lin-beta")
    cond = rand(1, 5)
    zero = AffineDrift(s, cond, "zero")
    start = zero.sample_base((3, 5), generator=None, like=cond)
    assert torch.equal(start, torch.zeros(3, 5, dtype=F64))
    state = AffineDrift(s, cond, "state")
    assert torch.equal(state.sample_base((3, 5), generator=None, like=cond), cond.expand(3, 5))
    n = state.sample_noise((2000, 5), generator=torch.Generator().manual_seed(0), like=cond)
    assert abs(float(n.var()) - 1) < 0.05 and not torch.equal(n[0], cond[0])
    assert torch.equal(zero.forecast(torch.ones(1, 5, dtype=F64)), cond + 1)
    with pytest.raises(ValueError):
        AffineDrift(s, rand(2, 5)).sample_base((3, 5), generator=None, like=cond)
    with pytest.raises(ConfigError):
        AffineDrift(make_schedule("linear"), cond)
    with pytest.raises(ConfigError):  # the score needs the velocity's solver contract: no Gaussian-base SDE solver
        integrate(state, make_solver("sde-expint1", diffusion=lambda t: t * 0 + 0.1), start, torch.tensor([0.2, 0.3], dtype=F64))
