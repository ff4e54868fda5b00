"""Tests for sictl.core.interpolants.transfer and drifts.TransferredDrift: schedule transfer by SNR matching.

Check values: reference/lipschitz.md §3 and §7 items 9-10, reference/scale_adaptive.md §3.2 and §10.2 T11.
The reference drifts are exact Gaussian drifts written from their closed forms.
"""

from __future__ import annotations

import math

import pytest
import torch

from sictl.core.exact.drifts import DiagonalGaussianDrift
from sictl.core.interpolants.schedules import Designed, Linear, PointSource, Schedule, Tabulated, Trig
from sictl.core.interpolants.transfer import transfer_denoiser, transfer_time, transfer_velocity
from sictl.core.sampling.drift import TransferredDrift
from sictl.core.sampling.grids import time_grid
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import make_solver

F64 = torch.float64
LAMS = [1e-4, 1e-2, 0.5, 1.0]
TIMES = [1e-4, 0.1, 0.5, 0.9, 1 - 1e-4]


def trig_table(points: int = 2001) -> Tabulated:
    """Tabulated trig: it has no closed log-SNR inverse, so transfers to or from it bisect."""
    t = torch.linspace(0, 1, points, dtype=F64)
    h = math.pi / 2
    return Tabulated(t, torch.cos(h * t), torch.sin(h * t), -h * torch.sin(h * t), h * torch.cos(h * t))


TAB = trig_table()


def linear_drift(lam):
    """Exact linear-schedule drift of the 1-D Gaussian N(0, λ) (lipschitz.md §7 item 9)."""
    return lambda s, y: ((1 + lam) * s - 1) / ((1 + lam) * s**2 - 2 * s + 1) * y


def x_states():
    return torch.tensor([[1.0], [-2.5], [0.3], [7.0]], dtype=F64)


def assert_rel(got, ref, x, rtol, msg):
    """|got − ref| ≤ rtol · max(|ref|, |x|) elementwise (|x| sets the scale where the drift vanishes, λ = 1)."""
    err = (got - ref).abs()
    scale = torch.maximum(ref.abs(), x.abs())
    worst = float((err / scale).max())
    assert worst <= rtol, f"{msg}: relative error {worst:.2e}"


def s_resolution(old: Schedule, new: Schedule, t: float) -> float:
    """Floor on the attainable relative accuracy: the old field is evaluated at a float64 time s, which
    fixes 1 − s (or s) only to relative precision ε/(1 − s); quantities like α'(s) ∝ √(1 − s) inherit it.
    Zero in practice except at the data end of a transfer into a stiffer-ended schedule."""
    s = float(transfer_time(old, new, t).s)
    return 4 * 2.3e-16 / min(s, 1 - s)


def code_form(lam_model, sched: Schedule, t: float, x):
    """The authors' new_drift_bt (lipschitz.md §3.3), with the exact linear Gaussian drift as the 'model'."""
    v = sched(t)
    a, b, ad, bd = (float(q) for q in v)
    orig_t = 1 / (1 + a / b)
    orig_x = orig_t / b * x
    orig_b = linear_drift(lam_model)(orig_t, orig_x)
    return (ad / a) * x + (bd - ad * b / a) * ((1 - orig_t) * orig_b + orig_x)


def simplified_form(lam_model, sched: Schedule, t: float, x):
    """b = ((α̇+β̇)/(α+β)) x + ((αβ̇ − α̇β)/(α+β)) b†(t†, x/(α+β)), t† = β/(α+β) (lipschitz.md §3.2)."""
    a, b, ad, bd = (float(q) for q in sched(t))
    return (ad + bd) / (a + b) * x + (a * bd - ad * b) / (a + b) * linear_drift(lam_model)(
        b / (a + b), x / (a + b)
    )


# ---- item 9 / T11: linear → designed -----------------------------------------------------------------------
@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize("t", TIMES)
def test_linear_to_designed_equals_designed_drift(lam, t):
    x = x_states()
    designed = Designed(lam)
    direct = DiagonalGaussianDrift(designed, torch.tensor([lam], dtype=F64)).velocity(t, x)
    # the designed drift of the λ mode is the constant ½ ln λ (lipschitz.md §2.3)
    assert_rel(direct, 0.5 * math.log(lam) * x, x, 1e-12, "direct designed drift = ½ ln λ x")
    got = transfer_velocity(linear_drift(lam), Linear(), designed, t, x)
    assert_rel(got, direct, x, 1e-10, "scale-time form")
    # the paper's code form and the simplified form are the same drift
    assert_rel(code_form(lam, designed, t, x), direct, x, 1e-10, "code form (new_drift_bt)")
    assert_rel(simplified_form(lam, designed, t, x), direct, x, 1e-10, "simplified form")


@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize("t", TIMES)
def test_designed_to_linear(lam, t):
    x = x_states()
    designed = Designed(lam)
    source = DiagonalGaussianDrift(designed, torch.tensor([lam], dtype=F64))
    got = transfer_velocity(source.velocity, designed, Linear(), t, x)
    assert_rel(got, linear_drift(lam)(t, x), x, 1e-10, "designed -> linear")


# ---- other pairs of schedules, several modes at once -------------------------------------------------------
MODES = torch.tensor([1e-4, 0.05, 1.0, 3.0], dtype=F64)
PAIRS = {
    "trig->designed": (Trig(), Designed(1e-4)),
    "designed->trig": (Designed(1e-4), Trig()),
    "linear->trig": (Linear(), Trig()),
    "tabulated->designed": (TAB, Designed(1e-2)),
    "designed->tabulated": (Designed(1e-2), TAB),
    "linear->tabulated": (Linear(), TAB),
    "point-source->linear": (PointSource("beta-3t2"), Linear()),
    "designed->designed": (Designed(1e-3), Designed(0.2)),
}


@pytest.mark.parametrize("pair", list(PAIRS))
@pytest.mark.parametrize("t", TIMES)
def test_transfer_between_schedules_equals_direct_drift(pair, t):
    old, new = PAIRS[pair]
    x = torch.randn(6, MODES.numel(), generator=torch.Generator().manual_seed(3), dtype=F64)
    source = DiagonalGaussianDrift(old, MODES)
    got = transfer_velocity(source.velocity, old, new, t, x)
    ref = DiagonalGaussianDrift(new, MODES).velocity(t, x)
    assert_rel(got, ref, x, 1e-10, pair)


@pytest.mark.parametrize("pair", list(PAIRS))
def test_transfer_drift_class(pair):
    old, new = PAIRS[pair]
    moved = TransferredDrift(DiagonalGaussianDrift(old, MODES), new)
    assert moved.schedule is new
    x = torch.randn(3, MODES.numel(), generator=torch.Generator().manual_seed(4), dtype=F64)
    for t in (0.05, 0.5, 0.95):
        assert_rel(moved.velocity(t, x), DiagonalGaussianDrift(new, MODES).velocity(t, x), x, 1e-10, pair)


# ---- denoisers -------------------------------------------------------------------------------------------------
def eta_fields(sched, lam):
    """(η_x, η_z) of the 1-D Gaussian N(0, λ) over N(0, 1): η_x = βλx/D, η_z = αx/D, D = α² + β²λ."""

    def eta_x(t, y):
        v = sched(t)
        return v.beta * lam / (v.alpha**2 + v.beta**2 * lam) * y

    def eta_z(t, y):
        v = sched(t)
        return v.alpha / (v.alpha**2 + v.beta**2 * lam) * y

    return eta_x, eta_z


@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize(
    ("old", "new"),
    [(Linear(), Designed(1e-4)), (Trig(), Linear()), (TAB, Designed(0.3)), (Designed(0.01), Trig())],
    ids=["lin->des", "trig->lin", "tab->des", "des->trig"],
)
def test_transfer_denoiser(lam, old, new):
    x = x_states()
    old_x, old_z = eta_fields(old, lam)
    new_x, new_z = eta_fields(new, lam)
    for t in TIMES:
        rtol = 1e-10 + s_resolution(old, new, t)
        assert_rel(transfer_denoiser(old_x, old, new, t, x), new_x(t, x), x, rtol, f"eta_x t={t}")
        assert_rel(transfer_denoiser(old_z, old, new, t, x), new_z(t, x), x, rtol, f"eta_z t={t}")


# ---- the time map ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new"),
    [
        (Linear(), Designed(1e-4)),
        (Trig(), Designed(4.0)),
        (TAB, Linear()),
        (Designed(0.01), TAB),
        (PointSource("beta-t2"), Trig()),
    ],
    ids=["lin->des", "trig->des", "tab->lin", "des->tab", "ps->trig"],
)
def test_interpolants_are_equal_up_to_scale(old, new):
    """x_t = c · x'_s as random variables: the same (z, x1) pair under both schedules."""
    g = torch.Generator().manual_seed(7)
    z, x1 = torch.randn(100, generator=g, dtype=F64), torch.randn(100, generator=g, dtype=F64) * 3
    t = torch.tensor([1e-3, 0.2, 0.5, 0.8, 0.999], dtype=F64)
    m = transfer_time(old, new, t)
    v, w = new(t), old(m.s)
    xt = v.alpha[:, None] * z + v.beta[:, None] * x1
    xs = w.alpha[:, None] * z + w.beta[:, None] * x1
    assert float((xt - m.c[:, None] * xs).abs().max()) <= 1e-12 * float(xt.abs().max())
    assert bool(((m.s > 0) & (m.s < 1)).all())


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (Linear(), Designed(1e-4)),
        (Trig(), Designed(4.0)),
        (Designed(0.02), Linear()),
        (Designed(1e-3), Trig()),
    ],
    ids=["lin->des", "trig->des", "des->lin", "des->trig"],
)
def test_time_map_rates_equal_autodiff(old, new):
    """ṡ and ċ/c against forward-mode AD of s(t) and log c(t) (closed inverses are differentiable)."""
    t = torch.tensor([1e-3, 0.1, 0.4, 0.6, 0.9, 0.99], dtype=F64)
    m = transfer_time(old, new, t)
    ds = torch.func.jacfwd(lambda u: transfer_time(old, new, u).s)(t).diagonal()
    dlogc = torch.func.jacfwd(lambda u: torch.log(transfer_time(old, new, u).c))(t).diagonal()
    assert torch.allclose(m.s_dot, ds, rtol=1e-9, atol=0)
    assert torch.allclose(m.log_c_dot, dlogc, rtol=1e-8, atol=1e-10)


def test_time_map_rates_through_bisection_by_finite_differences():
    t = torch.tensor([0.05, 0.3, 0.7, 0.95], dtype=F64)
    h = 1e-6
    m = transfer_time(TAB, Designed(0.01), t)
    hi, lo = transfer_time(TAB, Designed(0.01), t + h), transfer_time(TAB, Designed(0.01), t - h)
    assert torch.allclose(m.s_dot, (hi.s - lo.s) / (2 * h), rtol=1e-6)
    assert torch.allclose(m.log_c_dot, (torch.log(hi.c) - torch.log(lo.c)) / (2 * h), rtol=1e-6, atol=1e-8)


def test_identity_transfer():
    for sched in (Linear(), Trig(), Designed(1e-3), TAB):
        t = torch.tensor([0.01, 0.5, 0.99], dtype=F64)
        m = transfer_time(sched, sched, t)
        assert torch.allclose(m.s, t, rtol=0, atol=1e-12)
        assert torch.allclose(m.c, torch.ones_like(t), rtol=0, atol=1e-12)
        assert torch.allclose(m.s_dot, torch.ones_like(t), rtol=0, atol=1e-9)
        assert torch.allclose(m.log_c_dot, torch.zeros_like(t), rtol=0, atol=1e-9)


def test_linear_reference_time_map():
    """From the linear schedule: s = t† = β/(α+β), c = α + β (lipschitz.md §3.2)."""
    t = torch.linspace(0.01, 0.99, 11, dtype=F64)
    for new in (Designed(1e-5), Trig(), TAB):
        v = new(t)
        m = transfer_time(Linear(), new, t)
        assert torch.allclose(m.s, v.beta / (v.alpha + v.beta), rtol=1e-14, atol=0)
        assert torch.allclose(m.c, v.alpha + v.beta, rtol=1e-13, atol=0)


@pytest.mark.parametrize(
    ("lam", "t_min", "t_max", "expected", "c_max"),
    [
        (
            1e-5,
            1e-3,
            1 - 1e-3,
            [0.0972, 0.6184, 0.7760, 0.8710, 0.9280, 0.9608, 0.9791, 0.9892, 0.9949, 0.9997],
            1.376,
        ),
        (
            4e-4,
            1e-4,
            1 - 1e-4,
            [0.0272, 0.5409, 0.6844, 0.7805, 0.8494, 0.8987, 0.9336, 0.9584, 0.9770, 0.9994],
            None,
        ),
    ],
)
def test_equivalent_linear_time_grid(lam, t_min, t_max, expected, c_max):
    """lipschitz.md §3.2: 10 uniform designed points seen in linear time (values printed to 4 decimals)."""
    m = transfer_time(Linear(), Designed(lam), torch.linspace(t_min, t_max, 10, dtype=F64))
    assert torch.allclose(m.s, torch.tensor(expected, dtype=F64), rtol=0, atol=5e-5 + 1e-12)
    if c_max is not None:
        assert abs(float(m.c.max()) - c_max) <= 5e-4


# ---- integrating a transferred drift ------------------------------------------------------------------------------
@pytest.mark.parametrize("lam", [1e-4, 1e-2, 0.5])
def test_transferred_drift_integrates_like_the_direct_one(lam):
    """rk4-38 on one grid: the transferred and the direct designed drift agree pointwise to ~1e-12, so the
    integrated results agree to 1e-9 relative (accumulated rounding over 4·19 stages); both are within the
    RK error of the exact flow sqrt(D(t_max)/D(t_min)) = λ^{(t_max − t_min)/2}."""
    designed = Designed(lam)
    modes = torch.tensor([lam], dtype=F64)
    ts = time_grid("uniform", 19, 1e-4, 1 - 1e-4)
    z = torch.randn(64, 1, generator=torch.Generator().manual_seed(11), dtype=F64)
    direct = integrate(DiagonalGaussianDrift(designed, modes), make_solver("rk4-38"), z, ts)
    moved = integrate(
        TransferredDrift(DiagonalGaussianDrift(Linear(), modes), designed), make_solver("rk4-38"), z, ts
    )
    assert direct.nfe == moved.nfe == 4 * 19
    assert float(((moved.x - direct.x).abs() / direct.x.abs()).max()) <= 1e-9
    exact = lam ** ((ts[-1] - ts[0]) / 2) * z
    # constant rate a = ½ ln λ: the 4-stage RK gain per step is R(ah) = Σ_{j≤4} (ah)^j/j!
    h = float(ts[1] - ts[0])
    a = 0.5 * math.log(lam)
    rk_gain = sum((a * h) ** j / math.factorial(j) for j in range(5)) ** 19
    assert torch.allclose(direct.x, rk_gain * z, rtol=1e-10, atol=0)
    assert (
        float(((direct.x - exact) / exact).abs().max())
        <= abs(rk_gain / math.exp(a * float(ts[-1] - ts[0])) - 1) + 1e-12
    )
