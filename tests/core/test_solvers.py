"""Tests for sictl.core.sampling.solvers: steps, gains, orders, NFE, grids, diffusion and Euler-Maruyama.

Check values: reference/interpolants.md §5 (Euler/Heun table), reference/lipschitz.md §4 and §7 items 11-12,
reference/scale_adaptive.md §5. Exact answers come from closed forms written here: for a Gaussian target the
ODE is linear mode by mode, x' = a(t) x with a = (αα̇ + ββ̇λ)/(α² + β²λ), and its flow map from s to t is
sqrt(D(t)/D(s)), D = α² + β²λ (interpolants.md §5).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from sictl.core.exact.drifts import DiagonalGaussianDrift
from sictl.core.exact.gaussian import generated_variance
from sictl.core.interpolants.schedules import Designed, Linear, PointSource, Trig, make_schedule
from sictl.core.sampling.diffusion import make_diffusion
from sictl.core.sampling.drift import Drift
from sictl.core.sampling.grids import GRIDS, time_grid
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import SOLVERS, EulerMaruyama, make_solver
from sictl.errors import ConfigError

F64 = torch.float64

# nominal orders of the deterministic solvers; a new solver must be added here (the test says so)
NOMINAL_ORDER = {
    "euler": 1,
    "heun": 2,
    "midpoint": 2,
    "rk4": 4,
    "rk4-38": 4,
    "expint1": 1,
    "expint2": 2,
    "em": 1,
    "expint3": 3,
    "unipc2": 3,
    "unipc3": 4,
    "sde-expint1": 1,  # without a diffusion: the ODE step of expint1
    "sde-expint2": 2,
    "sde-heun": 2,  # without a diffusion: the ODE step of heun
}
# multistep in log-SNR (orders measured on smooth log-SNR grids in tests/core/test_multistep.py)
MULTISTEP = {"expint2", "expint3", "unipc2", "unipc3", "sde-expint2"}


def rate(sched, t: float, lam: float, mu: float = 1.0) -> float:
    """a(t) = (αα̇μ + ββ̇λ)/(α²μ + β²λ), from the schedule's values."""
    a, b, ad, bd = (float(q) for q in sched(t))
    return (a * ad * mu + b * bd * lam) / (a * a * mu + b * b * lam)


def variance(sched, t: float, lam: float, mu: float = 1.0) -> float:
    a, b = (float(q) for q in sched(t)[:2])
    return a * a * mu + b * b * lam


def gain(solver_name, sched, lams, ts, base=1.0):
    drift = DiagonalGaussianDrift(sched, torch.as_tensor(lams, dtype=F64), base)
    return integrate(drift, make_solver(solver_name), torch.ones(len(lams), dtype=F64), ts).x


# ---- registry ---------------------------------------------------------------------------------------------
def test_registry_has_the_spec_solvers():
    for name in ("euler", "heun", "midpoint", "rk4", "rk4-38", "expint1", "expint2", "em"):
        assert name in SOLVERS


@pytest.mark.parametrize("name", list(SOLVERS))
def test_make_solver(name):
    s = make_solver(name)
    assert s.name == name and isinstance(s, SOLVERS[name])
    assert s.nfe_per_step >= 1


def test_make_solver_rejects_unknown():
    with pytest.raises(ConfigError):
        make_solver("rk45")


# ---- NFE accounting (lipschitz.md §7 item 12, scale_adaptive T13) -----------------------------------------------
class CountOnly(Drift):
    """A drift that records every evaluation time."""

    def __init__(self):
        self.schedule = Trig()
        self.times: list[float] = []

    def velocity(self, t, x):
        self.times.append(float(t))
        return -0.5 * x


@pytest.mark.parametrize("name", list(SOLVERS))
@pytest.mark.parametrize("steps", [1, 4, 9])
def test_nfe_is_steps_times_nfe_per_step(name, steps):
    drift = CountOnly()
    solver = (
        make_solver(name, diffusion=make_diffusion("const:0.2", drift.schedule))
        if name == "em"
        else make_solver(name)
    )
    ts = time_grid("uniform", steps, 0.05, 0.95)
    seen = []
    out = integrate(
        drift,
        solver,
        torch.ones(3, 2, dtype=F64),
        ts,
        generator=torch.Generator().manual_seed(0),
        callback=lambda i, t1, x: seen.append((i, t1)),
    )
    assert out.nfe == steps * solver.nfe_per_step == len(drift.times)
    assert seen == [(i, float(ts[i + 1])) for i in range(steps)]
    assert all(0.05 <= t <= 0.95 for t in drift.times)


def test_rk10_means_nine_steps_and_36_nfe():
    drift = CountOnly()
    out = integrate(
        drift, make_solver("rk4-38"), torch.ones(1, dtype=F64), torch.linspace(1e-4, 1 - 1e-4, 10, dtype=F64)
    )
    assert out.nfe == 36


def test_rk4_38_evaluates_at_the_three_eighths_nodes():
    drift = CountOnly()
    integrate(drift, make_solver("rk4-38"), torch.ones(1, dtype=F64), torch.tensor([0.0, 0.3], dtype=F64))
    assert drift.times == pytest.approx([0.0, 0.1, 0.2, 0.3], abs=1e-15)


# ---- steps never write into their inputs (the fused in-place arithmetic) ------------------------------------------------
class Growth(Drift):
    """b(t, x) = x, returned as the very tensor it was given (the worst case for in-place updates)."""

    def __init__(self):
        self.schedule = Linear()

    def velocity(self, t, x):
        return x


@pytest.mark.parametrize(
    ("name", "gain"),
    [
        ("euler", lambda h: 1 + h),
        ("heun", lambda h: 1 + h + h**2 / 2),
        ("midpoint", lambda h: 1 + h + h**2 / 2),
        ("rk4", lambda h: 1 + h + h**2 / 2 + h**3 / 6 + h**4 / 24),
        ("rk4-38", lambda h: 1 + h + h**2 / 2 + h**3 / 6 + h**4 / 24),
    ],
)
def test_runge_kutta_steps_on_x_prime_equals_x_even_when_the_drift_returns_its_input(name, gain):
    """One step of x' = x multiplies x by the method's stability polynomial, exactly; x itself is untouched."""
    x = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=F64)
    before = x.clone()
    for t0, t1 in [(0.1, 0.35), (0.5, 0.52)]:
        out = make_solver(name).step(Growth(), t0, t1, x, {})
        assert torch.allclose(out, gain(t1 - t0) * before, rtol=1e-15, atol=0)
        assert torch.equal(x, before) and out.data_ptr() != x.data_ptr()


@pytest.mark.parametrize("name", list(SOLVERS))
def test_steps_leave_the_state_and_the_drift_outputs_unchanged(name):
    """Every solver over a few steps of a non-linear drift: no input state and no drift output is modified."""
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    class Recording(WigglyDrift):
        def velocity(self, t, x):
            b = super().velocity(t, x)
            seen.append((x, x.clone()))
            seen.append((b, b.clone()))
            return b

    drift = Recording(Trig())
    solver = make_solver(name, diffusion=make_diffusion("const:0.3", drift.schedule)) if name == "em" else make_solver(name)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    states, memory = [(x, x.clone())], {}
    ts = [0.1, 0.3, 0.45, 0.7]
    for t0, t1 in zip(ts[:-1], ts[1:]):
        x = solver.step(drift, t0, t1, x, memory, noise=torch.ones_like(x))
        states.append((x, x.clone()))
    assert all(torch.equal(a, b) for a, b in states + seen)


# ---- exact per-mode gains of Euler and Heun ---------------------------------------------------------------------
GAIN_CASES = [
    ("linear", Linear(), [1e-4, 0.01, 0.3, 1.0, 4.0]),
    ("trig", Trig(), [1e-4, 0.3, 1.0, 4.0]),
    ("designed", Designed(1e-3), [1e-3, 0.1, 1.0]),
    ("point-source", PointSource("beta-2t2"), [0.2, 2.0]),
]


@pytest.mark.parametrize(("label", "sched", "lams"), GAIN_CASES, ids=[c[0] for c in GAIN_CASES])
@pytest.mark.parametrize("grid", ["uniform", "logsnr"])
def test_euler_and_heun_gains_are_closed_form_products(label, sched, lams, grid):
    ts = time_grid(grid, 13, 0.02, 0.97, sched)
    times = [float(t) for t in ts]
    for k, lam in enumerate(lams):
        a = [rate(sched, t, lam) for t in times]
        euler = math.prod(1 + (t1 - t0) * a0 for t0, t1, a0 in zip(times[:-1], times[1:], a[:-1]))
        heun = math.prod(
            1 + (t1 - t0) / 2 * (a0 + a1 * (1 + (t1 - t0) * a0))
            for t0, t1, a0, a1 in zip(times[:-1], times[1:], a[:-1], a[1:])
        )
        assert abs(float(gain("euler", sched, lams, ts)[k]) - euler) <= 1e-12 * abs(euler)
        assert abs(float(gain("heun", sched, lams, ts)[k]) - heun) <= 1e-12 * abs(heun)


def test_midpoint_gain_is_closed_form_product():
    sched, lam = Trig(), 0.05
    ts = time_grid("uniform", 11, 0.0, 1.0)
    times = [float(t) for t in ts]
    expected = 1.0
    for t0, t1 in itertools.pairwise(times):
        h = t1 - t0
        a0, am = rate(sched, t0, lam), rate(sched, t0 + h / 2, lam)
        expected *= 1 + h * am * (1 + h / 2 * a0)
    assert abs(float(gain("midpoint", sched, [lam], ts)[0]) - expected) <= 1e-12 * abs(expected)


# interpolants.md §5: 1-D, m = 0, x0 = 1, t_n = n/N
EULER_HEUN_TABLE = [
    ("linear", 4.0, 10, 1.723130419594493, 1.988280666332170),
    ("linear", 4.0, 20, 1.856990002934652, 1.997354785516325),
    ("linear", 4.0, 40, 1.927243322208251, 1.999375947322080),
    ("linear", 0.01, 10, 0.061724567139995, 0.108268598519806),
    ("trig", 4.0, 10, 1.927848484109758, 1.980796491369212),
    ("trig", 0.01, 10, 0.059920266555682, 0.122005065345422),
]


@pytest.mark.parametrize(("name", "lam", "n", "euler", "heun"), EULER_HEUN_TABLE)
def test_euler_heun_reference_table(name, lam, n, euler, heun):
    ts = time_grid("uniform", n, 0.0, 1.0)
    sched = make_schedule(name)
    assert abs(float(gain("euler", sched, [lam], ts)[0]) - euler) <= 1e-12
    assert abs(float(gain("heun", sched, [lam], ts)[0]) - heun) <= 1e-12


def test_heun_errors_quarter_per_doubling():
    """interpolants.md §5: linear λ = 4 Heun errors 1.17e-2, 2.65e-3, 6.24e-4, 1.51e-4, 3.72e-5 for N = 10..160."""
    errs = [
        2 - float(gain("heun", Linear(), [4.0], time_grid("uniform", n, 0.0, 1.0))[0])
        for n in (10, 20, 40, 80, 160)
    ]
    for got, ref in zip(errs, [1.17e-2, 2.65e-3, 6.24e-4, 1.51e-4, 3.72e-5]):
        assert abs(got - ref) <= 0.005 * ref


# ---- RK4 (3/8) std-ratio table (lipschitz.md §7 item 11) --------------------------------------------------------
ITEM11 = {
    1e-2: ([5, 10, 20], [0.97579, 0.99619, 0.99986], [1.00342, 1.00010, 1.00000]),
    1e-4: (
        [5, 10, 20, 40, 80],
        [3.2242, 1.6120, 1.0857, 0.98598, 0.99471],
        [1.19043, 1.00405, 1.00016, 1.00001, 1.00000],
    ),
    1e-6: (
        [5, 10, 20, 40, 80],
        [31.26, 13.912, 6.6282, 3.3063, 1.7833],
        [5.83924, 1.03874, 1.00136, 1.00007, 1.00000],
    ),
}
ITEM11_ROWS = [
    (lam, n, lin, des) for lam, (ns, lins, dess) in ITEM11.items() for n, lin, des in zip(ns, lins, dess)
]


@pytest.mark.parametrize(("lam", "points", "linear", "designed"), ITEM11_ROWS)
def test_rk4_38_std_ratio_table(lam, points, linear, designed):
    ts = time_grid("uniform", points - 1, 0.0, 1.0)
    target = torch.tensor([lam], dtype=F64)
    var_lin, nfe = generated_variance(make_solver("rk4-38"), Linear(), target, ts)
    var_des, _ = generated_variance(make_solver("rk4-38"), Designed(lam), target, ts)
    assert nfe == 4 * (points - 1)
    assert abs(math.sqrt(float(var_lin[0]) / lam) - linear) <= 1e-4 * linear
    assert abs(math.sqrt(float(var_des[0]) / lam) - designed) <= 1e-4 * designed


@pytest.mark.parametrize("solver", ["rk4", "rk4-38"])
@pytest.mark.parametrize("lam", [1e-2, 1e-4, 1e-6])
@pytest.mark.parametrize("points", [5, 10, 20, 80])
def test_four_stage_rk_gain_under_designed_schedule(solver, lam, points):
    """Constant rate a = ½ ln λ: gain R(a h)^{n−1}, R(z) = 1 + z + z²/2 + z³/6 + z⁴/24, h = 1/(n−1)."""
    a, steps = 0.5 * math.log(lam), points - 1
    z = a / steps
    expected = (1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24) ** steps
    got = float(gain(solver, Designed(lam), [lam], time_grid("uniform", steps, 0.0, 1.0))[0])
    assert abs(got - expected) <= 1e-12 * abs(expected)


# ---- convergence orders ---------------------------------------------------------------------------------------------
def observed_order(solver, sched, lam, grid, t0, t1, steps=(16, 32, 64, 128)):
    exact = math.sqrt(variance(sched, t1, lam) / variance(sched, t0, lam))
    errs = [
        abs(float(gain(solver, sched, [lam], time_grid(grid, n, t0, t1, sched))[0]) - exact) for n in steps
    ]
    return -np.polyfit(np.log(steps), np.log(errs), 1)[0], errs


@pytest.mark.parametrize("solver", [name for name in SOLVERS if name not in MULTISTEP])
@pytest.mark.parametrize("lam", [4.0, 0.25])
def test_order_on_uniform_grid_to_exact_endpoint(solver, lam):
    """trig schedule on [0, 1]: the exact endpoint is X_1 = sqrt(λ) x0 for every schedule.

    expint2 and the other multistep solvers are excluded here: on a uniform t-grid from t = 0 the log-SNR
    steps near both ends do not shrink with N (log((k+1)/k)), so a multistep method in log-SNR has no clean
    asymptotic order there.
    """
    assert solver in NOMINAL_ORDER, f"add the nominal order of new solver {solver!r} to NOMINAL_ORDER"
    exact = math.sqrt(lam)
    steps = (16, 32, 64, 128)
    errs = [
        abs(float(gain(solver, Trig(), [lam], time_grid("uniform", n, 0.0, 1.0))[0]) - exact) for n in steps
    ]
    slope = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
    assert abs(slope - NOMINAL_ORDER[solver]) <= 0.3, (slope, errs)


@pytest.mark.parametrize("solver", [name for name in SOLVERS if name != "expint3"])
def test_order_on_logsnr_grid(solver):
    """designed(0.01) schedule, target ratio 0.1, logsnr grid on [0.02, 0.98]; exact flow sqrt(D(t1)/D(t0)).

    expint3 is excluded: its first-order first step leaves an O(h²) error ∝ SNR(t_min), large at
    t_min = 0.02 here (see tests/core/test_multistep.py)."""
    assert solver in NOMINAL_ORDER, f"add the nominal order of new solver {solver!r} to NOMINAL_ORDER"
    slope, errs = observed_order(solver, Designed(0.01), 0.1, "logsnr", 0.02, 0.98)
    assert abs(slope - NOMINAL_ORDER[solver]) <= 0.3, (slope, errs)


def test_deterministic_solvers_reach_the_exact_endpoint():
    for name in SOLVERS:
        got = float(gain(name, Trig(), [0.3], time_grid("logsnr", 400, 0.001, 0.999, Trig()))[0])
        exact = math.sqrt(variance(Trig(), 0.999, 0.3) / variance(Trig(), 0.001, 0.3))
        assert abs(got - exact) <= 0.01 * exact, name


# ---- exponential integrators ------------------------------------------------------------------------------------------
class WigglyDrift(Drift):
    """An arbitrary non-linear velocity field (the schedule only enters through the solver)."""

    def __init__(self, schedule):
        self.schedule = schedule

    def velocity(self, t, x):
        return torch.sin(3 * x) * (1 + float(t)) - 0.3 * x


def test_expint1_is_euler_under_the_linear_schedule():
    """α = 1 − t, β = t: (α1/α0)x + (β1 − α1β0/α0)η_x with η_x = x + (1 − t0) b equals x + h b, for any b."""
    drift = WigglyDrift(Linear())
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    for t0, t1 in [(0.0, 0.1), (0.3, 0.55), (0.9, 1.0)]:
        e = make_solver("expint1").step(drift, t0, t1, x, {})
        f = make_solver("euler").step(drift, t0, t1, x, {})
        assert torch.allclose(e, f, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("sched", [Trig(), Linear(), Designed(0.02)], ids=["trig", "linear", "designed"])
@pytest.mark.parametrize("lam", [0.05, 1.0, 3.0])
def test_expint1_one_step_formula(sched, lam):
    """x1 = (α1/α0) x0 + (β1 − α1β0/α0) η_x(t0, x0), η_x = β0λx0/(α0² + β0²λ) for the Gaussian."""
    drift = DiagonalGaussianDrift(sched, torch.tensor([lam], dtype=F64))
    x = torch.tensor([[0.7], [-1.3]], dtype=F64)
    for t0, t1 in [(0.1, 0.35), (0.5, 0.6), (0.8, 0.99)]:
        a0, b0 = (float(q) for q in sched(t0)[:2])
        a1, b1 = (float(q) for q in sched(t1)[:2])
        eta = b0 * lam / (a0 * a0 + b0 * b0 * lam) * x
        expected = a1 / a0 * x + (b1 - a1 * b0 / a0) * eta
        got = make_solver("expint1").step(drift, t0, t1, x, {})
        assert torch.allclose(got, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["linear", "trig", "designed", "beta-3t2"])
@pytest.mark.parametrize("solver", ["expint1", "expint2"])
def test_expint_exact_when_the_data_denoiser_is_constant(name, solver):
    """Target variance 0 (a point mass at the origin): η_x ≡ 0, and the flow X_t = α(t)/α(t0) x is reproduced
    exactly in one step or many (the exponential integrators are exact for frozen η_x)."""
    sched = make_schedule(name, default_lam=1e-3)
    drift = DiagonalGaussianDrift(sched, torch.tensor([0.0], dtype=F64))
    for ts in (torch.tensor([0.05, 0.9], dtype=F64), time_grid("uniform", 7, 0.05, 0.9)):
        got = integrate(drift, make_solver(solver), torch.ones(1, dtype=F64), ts).x
        expected = float(sched(0.9).alpha / sched(0.05).alpha)
        assert abs(float(got[0]) - expected) <= 1e-13 * expected
    if name in ("trig", "designed"):  # α not linear in t: Euler is visibly inexact on the same problem
        euler = integrate(
            drift, make_solver("euler"), torch.ones(1, dtype=F64), time_grid("uniform", 7, 0.05, 0.9)
        ).x
        assert abs(float(euler[0]) - expected) > 1e-4


@pytest.mark.parametrize(
    "sched", [Trig(), Designed(1e-3), Designed(5.0)], ids=["trig", "designed-1e-3", "designed-5"]
)
def test_expint1_gain_when_target_equals_base(sched):
    """λ = 1 under a VP schedule: b ≡ 0 and the exact flow is the identity, but the data-prediction step
    with frozen η_x = β0 x is not exact: its gain per step is α1α0 + β1β0 (= cos Δθ for trig), which tends to 1."""
    drift = DiagonalGaussianDrift(sched, torch.tensor([1.0], dtype=F64))
    assert float(drift.velocity(0.4, torch.ones(1, dtype=F64))[0]) == pytest.approx(0.0, abs=1e-15)
    gains = []
    for steps in (4, 32, 256):
        ts = time_grid("uniform", steps, 0.0, 1.0)
        v = sched(ts)
        expected = float(torch.prod(v.alpha[1:] * v.alpha[:-1] + v.beta[1:] * v.beta[:-1]))
        got = float(integrate(drift, make_solver("expint1"), torch.ones(1, dtype=F64), ts).x[0])
        assert abs(got - expected) <= 1e-12
        gains.append(got)
    assert gains[0] < gains[1] < gains[2] < 1.0 and gains[2] > 0.97  # tends to, but is not, the identity


def test_expint2_second_step_formula():
    """Second step: D = (1 + 1/(2r)) η1 − η0/(2r), r = h0/h1 in log-SNR, x2 = (α2/α1) x1 + β2 (1 − e^{−h1}) D."""
    sched, lam = Trig(), 0.2
    drift = DiagonalGaussianDrift(sched, torch.tensor([lam], dtype=F64))
    t = [0.1, 0.3, 0.65]
    v = [tuple(float(q) for q in sched(s)[:2]) for s in t]
    ell = [math.log(b / a) for a, b in v]

    def eta(i, x):
        a, b = v[i]
        return b * lam / (a * a + b * b * lam) * x

    x0 = 1.0
    x1 = v[1][0] / v[0][0] * x0 + v[1][1] * (1 - math.exp(-(ell[1] - ell[0]))) * eta(0, x0)
    r = (ell[1] - ell[0]) / (ell[2] - ell[1])
    d = (1 + 0.5 / r) * eta(1, x1) - 0.5 / r * eta(0, x0)
    x2 = v[2][0] / v[1][0] * x1 + v[2][1] * (1 - math.exp(-(ell[2] - ell[1]))) * d
    got = integrate(drift, make_solver("expint2"), torch.ones(1, dtype=F64), torch.tensor(t, dtype=F64)).x
    assert abs(float(got[0]) - x2) <= 1e-13
    # its first step is the first-order one
    first = integrate(
        drift, make_solver("expint2"), torch.ones(1, dtype=F64), torch.tensor(t[:2], dtype=F64)
    ).x
    assert abs(float(first[0]) - x1) <= 1e-14


# ---- time grids -------------------------------------------------------------------------------------------------------
def test_uniform_grid():
    ts = time_grid("uniform", 9, 1e-4, 1 - 1e-4)
    assert ts.dtype == F64 and ts.numel() == 10
    assert float(ts[0]) == 1e-4 and float(ts[-1]) == 1 - 1e-4
    assert torch.allclose(torch.diff(ts), torch.full((9,), (1 - 2e-4) / 9, dtype=F64), rtol=1e-12, atol=0)


def test_grid_registry():
    assert set(GRIDS) == {"uniform", "logsnr"}


@pytest.mark.parametrize(
    "name", ["linear", "trig", "designed", "lin-beta", "beta-t2", "beta-2t2", "beta-3t2"]
)
@pytest.mark.parametrize(("t_min", "t_max"), [(1e-4, 1 - 1e-4), (0.2, 0.7)])
def test_logsnr_grid_has_equal_log_snr_steps(name, t_min, t_max):
    sched = make_schedule(name, default_lam=1e-4)
    ts = time_grid("logsnr", 12, t_min, t_max, sched)
    assert ts.numel() == 13 and float(ts[0]) == t_min and float(ts[-1]) == t_max
    assert bool((torch.diff(ts) > 0).all())
    d = torch.diff(sched.log_snr(ts))
    assert torch.allclose(d, d.mean().expand_as(d), rtol=1e-9, atol=0)


def test_logsnr_grid_under_the_linear_schedule_is_a_sigmoid_grid():
    ts = time_grid("logsnr", 4, 0.1, 0.9, Linear())
    ell = torch.linspace(math.log(0.1 / 0.9), math.log(0.9 / 0.1), 5, dtype=F64)
    assert torch.allclose(ts, torch.sigmoid(ell), rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    ("kind", "steps", "t_min", "t_max"),
    [
        ("uniform", 0, 0.0, 1.0),
        ("uniform", -3, 0.0, 1.0),
        ("uniform", 2.5, 0.0, 1.0),
        ("uniform", 10, 0.5, 0.5),
        ("uniform", 10, 0.7, 0.2),
        ("uniform", 10, -0.1, 1.0),
        ("uniform", 10, 0.0, 1.1),
        ("cosine", 10, 0.0, 1.0),
        ("logsnr", 10, 0.0, 0.9),
        ("logsnr", 10, 0.1, 1.0),
    ],
)
def test_time_grid_rejects_bad_arguments(kind, steps, t_min, t_max):
    with pytest.raises(ConfigError):
        time_grid(kind, steps, t_min, t_max, Trig())


def test_logsnr_grid_needs_a_schedule():
    with pytest.raises(ConfigError):
        time_grid("logsnr", 10, 0.1, 0.9)


# ---- diffusion coefficients ---------------------------------------------------------------------------------------------
def test_make_diffusion():
    sched = Trig()
    t = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    assert make_diffusion("0", sched) is None and make_diffusion("none", sched) is None
    assert torch.equal(make_diffusion("const:0.25", sched)(t), torch.full_like(t, 0.25))
    assert torch.allclose(
        make_diffusion("optimal", sched)(t), (math.pi / 2) / torch.tan(math.pi * t / 2), rtol=1e-12
    )
    lin = make_diffusion("optimal", Linear())(t)
    assert torch.allclose(lin, (1 - t) / t, rtol=1e-13)


@pytest.mark.parametrize(
    "spec", ["const", "const:abc", "const:-1", "const:nan", "const:inf", "bogus", "follmer:x"]
)
def test_make_diffusion_rejects_bad_specs(spec):
    with pytest.raises(ConfigError):
        make_diffusion(spec, Trig())


# ---- Euler–Maruyama -----------------------------------------------------------------------------------------------------
def test_em_without_diffusion_is_euler():
    drift = DiagonalGaussianDrift(Trig(), torch.tensor([0.1, 2.0], dtype=F64))
    ts = time_grid("uniform", 20, 0.0, 1.0)
    z = torch.randn(4, 2, generator=torch.Generator().manual_seed(5), dtype=F64)
    assert torch.equal(
        integrate(drift, make_solver("em"), z, ts).x, integrate(drift, make_solver("euler"), z, ts).x
    )


@pytest.mark.parametrize("mu", [1.0, 2.5])
def test_em_step_formula(mu):
    """x + h(b + ε C0 s) + √(2εh) n, with s = −x/D and C0 = μ for the 1-D Gaussian, D = α²μ + β²λ."""
    sched, lam, eps = Linear(), 0.3, 0.7
    drift = DiagonalGaussianDrift(sched, torch.tensor([lam], dtype=F64), mu)
    solver = EulerMaruyama(lambda t: torch.full_like(t, eps))
    x = torch.tensor([[0.4], [-1.1]], dtype=F64)
    n = torch.tensor([[0.3], [-0.8]], dtype=F64)
    t0, t1 = 0.35, 0.4
    d = variance(sched, t0, lam, mu)
    expected = (
        x + (t1 - t0) * (rate(sched, t0, lam, mu) * x - eps * mu * x / d) + math.sqrt(2 * eps * (t1 - t0)) * n
    )
    got = solver.step(drift, t0, t1, x, {}, noise=n)
    assert torch.allclose(got, expected, rtol=1e-13, atol=0)


def test_em_same_seed_same_samples_and_explicit_noises():
    sched = Trig()
    drift = DiagonalGaussianDrift(sched, torch.tensor([0.5], dtype=F64))
    solver = make_solver("em", diffusion=make_diffusion("optimal", sched))
    ts = time_grid("uniform", 10, 0.05, 0.95)
    z = torch.ones(6, 1, dtype=F64)
    a = integrate(drift, solver, z, ts, generator=torch.Generator().manual_seed(9)).x
    b = integrate(drift, solver, z, ts, generator=torch.Generator().manual_seed(9)).x
    c = integrate(drift, solver, z, ts, generator=torch.Generator().manual_seed(10)).x
    assert torch.equal(a, b) and not torch.equal(a, c)
    noises = [torch.zeros(6, 1, dtype=F64)] * 10
    quiet = integrate(drift, solver, z, ts, noises=noises).x
    # zero noise: the deterministic part b − ε η_z/α only, the same on every path
    assert torch.equal(quiet, quiet[:1].expand_as(quiet))


def designed_variance_reference(lam: float, t0: float, t1: float) -> float:
    """Continuous variance of the ε*-SDE for the designed(λ) schedule and its own mode λ, started from the
    base variance 1 at t0: D = λ^t, a = ½ ln λ, ε* = β̇/β = ½ λ^t ln λ/(λ^t − 1);
    v' = 2(a − ε/D) v + 2ε (independent of the code: every term is written out)."""
    ln = math.log(lam)

    def rhs(t, v):
        eps = 0.5 * lam**t * ln / (lam**t - 1)
        return [2 * (0.5 * ln - eps / lam**t) * v[0] + 2 * eps]

    sol = solve_ivp(rhs, (t0, t1), [1.0], method="DOP853", rtol=1e-12, atol=1e-15)
    return float(sol.y[0, -1])


@pytest.mark.parametrize(("lam", "t_min"), [(0.01, 0.05), (0.01, 1e-3), (1e-4, 0.05)])
def test_em_optimal_diffusion_variance_converges_first_order(lam, t_min):
    """generated_variance for em + ε*: the error against the continuous SDE variance halves per doubling.

    Observed relative errors for 100, 200, 400, 800 steps (all positive, ratio → 2.0):
    λ = 0.01 on [0.05, 0.999]: 2.35e-2, 1.16e-2, 5.72e-3, 2.85e-3; on [1e-3, 0.999]: 2.89e-2, 1.31e-2, 6.32e-3,
    3.12e-3; λ = 1e-4 on [0.05, 0.999]: 4.71e-2, 2.27e-2, 1.11e-2, 5.51e-3. The SDE forgets the start-up mismatch (base variance 1 at t_min, marginal λ^t_min), so its
    final variance is within 1e-3 of the marginal λ^t_max, whereas the ODE would keep the mismatch."""
    sched, t_max = Designed(lam), 0.999
    ref = designed_variance_reference(lam, t_min, t_max)
    solver = make_solver("em", diffusion=make_diffusion("optimal", sched))
    errs = []
    for steps in (100, 200, 400, 800):
        var, nfe = generated_variance(
            solver, sched, torch.tensor([lam], dtype=F64), time_grid("uniform", steps, t_min, t_max)
        )
        assert nfe == steps
        errs.append(abs(float(var[0]) - ref) / ref)
    ratios = [e0 / e1 for e0, e1 in itertools.pairwise(errs)]
    assert all(1.7 <= r <= 2.7 for r in ratios), (errs, ratios)
    assert errs[-1] <= 1e-2
    assert abs(ref / lam**t_max - 1) <= 1e-3
    ode_var, _ = generated_variance(
        make_solver("rk4-38"), sched, torch.tensor([lam], dtype=F64), time_grid("uniform", 100, t_min, t_max)
    )
    assert (
        abs(float(ode_var[0]) / lam**t_max - lam ** (-t_min)) <= 1e-6
    )  # the ODE keeps the start-up mismatch


def test_em_monte_carlo_matches_exact_chain_variance():
    """20000 paths, const diffusion 0.5, linear schedule on [0, 1], 50 steps, modes λ = 0.25, 1, 4.

    The sample variance must match the exact variance of the EM chain (generated_variance) within 5 standard
    errors, 5·sqrt(2/M) = 5% relative, and the chain's variance is within the O(h) bias (≤ 5%) of λ."""
    sched = Linear()
    lams = torch.tensor([0.25, 1.0, 4.0], dtype=F64)
    solver = make_solver("em", diffusion=make_diffusion("const:0.5", sched))
    ts = time_grid("uniform", 50, 0.0, 1.0)
    exact_chain, _ = generated_variance(solver, sched, lams, ts)
    assert bool(((exact_chain / lams - 1).abs() <= 0.05).all())
    g = torch.Generator().manual_seed(2024)
    m = 20000
    z = torch.randn(m, 3, generator=g, dtype=F64)
    out = integrate(DiagonalGaussianDrift(sched, lams), solver, z, ts, generator=g)
    assert out.nfe == 50
    sample_var = out.x.var(0)
    assert bool(((sample_var / exact_chain - 1).abs() <= 5 * math.sqrt(2 / m)).all()), (
        sample_var / exact_chain
    )
    assert bool((out.x.mean(0).abs() <= 5 * torch.sqrt(exact_chain / m)).all())
