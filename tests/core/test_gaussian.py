"""Tests for sictl.core.exact.gaussian: Lipschitz constants, A2, per-mode rates and exact generated variances.

Check values: reference/lipschitz.md §2.3-2.4 and §7 items 4-7, reference/interpolants.md §5,
reference/scale_adaptive.md §7.1 (exact expected spectral errors) and §10.2 T8.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from sictl.core.exact.gaussian import (
    a2,
    a2_numeric,
    closed_form_a2,
    closed_form_lipschitz,
    flow_gain,
    generated_variance,
    graded_nodes,
    lipschitz,
    lipschitz_numeric,
    marginal_variance,
    mode_rate,
    ratio_extremes,
)
from sictl.core.fields.spectra import matern_power, shell_mean
from sictl.core.interpolants.schedules import Designed, Linear, PointSource, Trig
from sictl.core.sampling.diffusion import make_diffusion
from sictl.core.sampling.grids import time_grid
from sictl.core.sampling.solvers import make_solver
from sictl.errors import ConfigError

F64 = torch.float64
PI = math.pi
LAMS = [1e-12, 1e-6, 1e-4, 0.01, 0.25, 1.0, 4.0, 100.0]


# independent closed forms (lipschitz.md §2.4, interpolants.md §5)
def lip_linear(lam):
    return (1 + lam) / (2 * math.sqrt(lam))


def a2_linear(lam):
    return PI * (1 + lam) / (4 * math.sqrt(lam)) - 1


def lip_trig(lam):
    return PI / 4 * abs(lam - 1) / math.sqrt(lam)


def a2_trig(lam):
    return PI**2 / 4 * ((1 + lam) / (2 * math.sqrt(lam)) - 1)


def rel(a, b):
    return abs(a - b) / abs(b)


# ---- check values (lipschitz.md §7 items 4-6) ---------------------------------------------------------------
def test_exact_check_values():
    assert rel(lipschitz(Linear(), [1e-4]), 50.005) <= 1e-9
    assert rel(lipschitz(Linear(), [4.0]), 1.25) <= 1e-9
    assert rel(lipschitz(Linear(), [0.01]), 5.05) <= 1e-9
    assert rel(lipschitz(Linear(), [1e-6]), 500.0005) <= 1e-9
    assert rel(a2(Linear(), [4.0]), 5 * PI / 8 - 1) <= 1e-9
    assert rel(a2(Linear(), [0.25]), 5 * PI / 8 - 1) <= 1e-9
    assert rel(a2(Linear(), [1.0]), PI / 2 - 1) <= 1e-9
    assert rel(a2(Trig(), [4.0]), PI**2 / 16) <= 1e-9
    assert rel(lipschitz(Trig(), [4.0]), 3 * PI / 8) <= 1e-9
    for lam in (4.0, 0.1, 0.01, 1e-4, 1e-6, 1e-12):
        assert rel(a2(Designed(lam), [lam]), math.log(lam) ** 2 / 4) <= 1e-9
        assert rel(lipschitz(Designed(lam), [lam]), abs(math.log(lam)) / 2) <= 1e-9


# printed values: compared to half a unit of their last printed digit
PRINTED = [
    ("lip", "linear", 4.0, 1.25, 5e-3),
    ("lip", "linear", 0.01, 5.05, 5e-3),
    ("lip", "linear", 1e-4, 50.005, 5e-4),
    ("lip", "linear", 1e-6, 500.0005, 5e-5),
    ("a2", "linear", 4.0, 0.963495408494, 5e-13),
    ("a2", "linear", 0.25, 0.963495408494, 5e-13),
    ("a2", "linear", 0.01, 6.93252145, 5e-9),
    ("a2", "linear", 1e-4, 77.5477, 5e-5),
    ("a2", "linear", 1e-6, 784.399, 5e-4),
    ("a2", "linear", 1e-12, 785397.2, 5e-2),
    ("a2", "linear", 1.0, 0.570796, 5e-7),
    ("a2", "trig", 4.0, 0.616850275068, 5e-13),
    ("a2", "trig", 0.01, 9.99297, 5e-6),
    ("a2", "trig", 1e-4, 120.915, 5e-4),
    ("a2", "designed", 4.0, 0.480453013918, 5e-13),
    ("lip", "designed", 4.0, 0.693147, 5e-7),
    ("a2", "designed", 0.1, 1.32547, 5e-6),
    ("lip", "designed", 0.1, 1.15129, 5e-6),
    ("a2", "designed", 0.01, 5.30190, 5e-6),
    ("lip", "designed", 0.01, 2.30259, 5e-6),
    ("a2", "designed", 1e-4, 21.2076, 5e-5),
    ("lip", "designed", 1e-4, 4.60517, 5e-6),
    ("a2", "designed", 1e-6, 47.7171, 5e-5),
    ("lip", "designed", 1e-6, 6.90776, 5e-6),
    ("a2", "designed", 1e-12, 190.868, 5e-4),
    ("lip", "designed", 1e-12, 13.8155, 5e-5),
]


def make(name, lam):
    return {"linear": Linear(), "trig": Trig(), "designed": Designed(lam)}[name]


@pytest.mark.parametrize(("what", "name", "lam", "value", "tol"), PRINTED)
def test_printed_check_values(what, name, lam, value, tol):
    fn = lipschitz if what == "lip" else a2
    assert abs(fn(make(name, lam), [lam]) - value) <= tol


# ---- closed forms vs numerics ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lam", LAMS)
def test_closed_forms_equal_formulas(lam):
    assert rel(closed_form_lipschitz(Linear(), [lam]), lip_linear(lam)) <= 1e-12
    assert rel(closed_form_a2(Linear(), [lam]), a2_linear(lam)) <= 1e-12
    assert abs(closed_form_lipschitz(Trig(), [lam]) - lip_trig(lam)) <= 1e-12 * max(1.0, lip_trig(lam))
    assert abs(closed_form_a2(Trig(), [lam]) - a2_trig(lam)) <= 1e-12 * max(1.0, a2_trig(lam))
    ln = math.log(lam)
    assert abs(closed_form_lipschitz(Designed(lam), [lam]) - abs(ln) / 2) <= 1e-14
    assert abs(closed_form_a2(Designed(lam), [lam]) - ln * ln / 4) <= 1e-13 * max(1.0, ln * ln)


@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize("name", ["linear", "trig", "designed"])
def test_numeric_agrees_with_closed_forms(name, lam):
    sched = make(name, lam)
    lip_c, a2_c = closed_form_lipschitz(sched, [lam]), closed_form_a2(sched, [lam])
    lip_n, a2_n = lipschitz_numeric(sched, [lam]), a2_numeric(sched, [lam])
    assert abs(lip_n - lip_c) <= 1e-8 * lip_c + 1e-14, (lip_n, lip_c)
    assert abs(a2_n - a2_c) <= 1e-8 * a2_c + 1e-14, (a2_n, a2_c)


def test_sup_of_the_linear_rate_is_where_the_reference_says():
    """interpolants.md §7 item 2: λ = 4 → 1.25 at t = 0.6; λ = 0.25 → −1.25 at t = 0.4; λ = 0.01 → 5.05 at 0.9/1.01."""
    assert abs(float(mode_rate(Linear(), 0.6, 4.0)) - 1.25) <= 1e-14
    assert abs(float(mode_rate(Linear(), 0.4, 0.25)) + 1.25) <= 1e-14
    assert abs(float(mode_rate(Linear(), 0.9 / 1.01, 0.01)) + 5.05) <= 1e-12
    assert abs(float(mode_rate(Linear(), 11 / 101, 100.0)) - 5.05) <= 1e-12
    # trig λ = 4: A(0.5) = 3π/10, max 3π/8 at t = (2/π) atan(1/2) (item 3)
    assert abs(float(mode_rate(Trig(), 0.5, 4.0)) - 0.9424777960769379) <= 1e-14
    assert abs(float(mode_rate(Trig(), 0.2951672353008665, 4.0)) - 1.1780972450961724) <= 1e-13
    # every linear rate is −1 at t = 0 and +1 at t = 1
    for lam in (1e-6, 0.3, 7.0):
        assert float(mode_rate(Linear(), 0.0, lam)) == -1.0
        assert abs(float(mode_rate(Linear(), 1.0, lam)) - 1.0) <= 1e-15


@pytest.mark.parametrize("lam", [1e-8, 1e-3, 0.5, 3.0, 1e4])
def test_linear_is_symmetric_under_inversion(lam):
    assert rel(lipschitz(Linear(), [lam]), lipschitz(Linear(), [1 / lam])) <= 1e-12
    assert rel(a2(Linear(), [lam]), a2(Linear(), [1 / lam])) <= 1e-12
    assert rel(a2_numeric(Linear(), [lam]), a2_numeric(Linear(), [1 / lam])) <= 1e-9


@pytest.mark.parametrize("lam", LAMS + [0.1, 1e-3])
def test_designed_is_never_worse(lam):
    a2_d = a2(Designed(lam), [lam])
    assert a2_d <= a2(Trig(), [lam]) + 1e-15
    assert a2_d <= a2(Linear(), [lam])
    assert lipschitz(Designed(lam), [lam]) <= lipschitz(Linear(), [lam])


def test_at_lam_one_designed_and_trig_vanish_but_linear_does_not():
    assert a2(Designed(1.0), [1.0]) == 0.0 and a2(Trig(), [1.0]) == 0.0
    assert abs(a2(Linear(), [1.0]) - 0.570796) <= 5e-7
    assert lipschitz(Linear(), [1.0]) == 1.0


def test_a2_below_lipschitz_squared():
    for name in ("linear", "trig", "designed"):
        for lam in (1e-4, 0.3, 5.0):
            s = make(name, 1e-2)
            assert a2_numeric(s, [lam]) <= lipschitz_numeric(s, [lam]) ** 2 * (1 + 1e-12)


# ---- per-mode rate -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sched",
    [Linear(), Trig(), Designed(1e-3), PointSource("beta-t2")],
    ids=["linear", "trig", "designed", "point-source"],
)
def test_rate_is_monotone_in_ratio(sched):
    """∂a/∂r = αβW/(α² + β²r)² > 0: at every t, the extreme ratios give the extreme rates."""
    t = torch.linspace(0.01, 0.99, 25, dtype=F64)[:, None]
    r = torch.logspace(-10, 4, 60, dtype=F64)[None, :]
    a = mode_rate(sched, t, r)
    assert bool((torch.diff(a, dim=1) > 0).all())
    rr = r.expand(25, -1).clone().requires_grad_(True)
    (da,) = torch.autograd.grad(mode_rate(sched, t, rr).sum(), rr)
    v = sched(t)
    w = v.alpha * v.beta_dot - v.alpha_dot * v.beta
    expected = v.alpha * v.beta * w / (v.alpha**2 + v.beta**2 * rr.detach()) ** 2
    assert torch.allclose(da, expected, rtol=1e-8, atol=0)  # autograd's quotient rule cancels at large r


def test_rate_is_half_log_derivative_of_the_variance():
    """a = ½ d/dt log(α² + β² r) (lipschitz.md §2.3) by autograd."""
    for sched in (Linear(), Trig(), Designed(1e-2)):
        t = torch.linspace(0.05, 0.95, 19, dtype=F64).requires_grad_(True)
        for r in (1e-3, 0.7, 20.0):
            v = sched(t)
            (d,) = torch.autograd.grad(torch.log(v.alpha**2 + v.beta**2 * r).sum(), t)
            assert torch.allclose(mode_rate(sched, t.detach(), r), d / 2, rtol=1e-10, atol=1e-13)


def test_marginal_variance_ends_and_designed_identity():
    """D(0) = μ, D(1) = λ; the designed schedule's D for its own ratio is λ^t (lipschitz.md eq. 3.6)."""
    lam, mu = torch.tensor([1e-3, 0.5, 7.0], dtype=F64), torch.tensor([1.0, 2.0, 0.25], dtype=F64)
    for sched in (Linear(), Trig(), Designed(1e-3)):
        assert torch.allclose(marginal_variance(sched, 0.0, lam, mu), mu, rtol=1e-14, atol=0)
        assert torch.allclose(marginal_variance(sched, 1.0, lam, mu), lam, rtol=1e-14, atol=0)
    t = torch.linspace(0, 1, 41, dtype=F64)[:, None]
    d = marginal_variance(Designed(1e-3), t, torch.tensor([1e-3], dtype=F64))
    assert torch.allclose(d[:, 0], 1e-3 ** t[:, 0], rtol=1e-12, atol=0)


def test_flow_gain_is_the_exponential_of_the_integrated_rate():
    """G(s, t) = exp ∫_s^t a(u) du (adaptive quadrature); G² D(s) = D(t); G(0, 1) = √(λ/μ)."""
    from scipy.integrate import quad

    for sched in (Linear(), Trig(), Designed(1e-2)):
        for (s, t), r in itertools.product([(0.0, 1.0), (0.1, 0.7), (0.8, 0.3)], [1e-2, 0.4, 30.0]):
            integral, _ = quad(lambda u: float(mode_rate(sched, u, r)), s, t, epsabs=1e-14, epsrel=1e-13, limit=500)
            gain = float(flow_gain(sched, s, t, r))
            assert gain == pytest.approx(math.exp(integral), rel=1e-10)
            dv_s, dv_t = float(marginal_variance(sched, s, r)), float(marginal_variance(sched, t, r))
            assert gain**2 * dv_s == pytest.approx(dv_t, rel=1e-12)
        assert float(flow_gain(sched, 0.0, 1.0, 0.09, 4.0)) == pytest.approx(0.15, rel=1e-13)


def test_rk4_converges_to_the_exact_flow():
    """The real rk4 step on the exact drift approaches the exact flow gain at fourth order."""
    lam = torch.tensor([0.05, 3.0], dtype=F64)
    exact = flow_gain(Trig(), 0.05, 0.95, lam)
    errors = []
    for n in (8, 16, 32):
        var, _ = generated_variance(make_solver("rk4"), Trig(), lam, time_grid("uniform", n, 0.05, 0.95))
        errors.append(float((var.sqrt() - exact).abs().max()))  # base μ = 1: generated std = gain
    assert errors[2] < 1e-6
    assert all(e1 / e2 > 12 for e1, e2 in itertools.pairwise(errors))  # 2⁴ = 16 per halving


@pytest.mark.parametrize("lam", [1e-6, 1e-2, 0.5, 3.0])
def test_designed_rate_is_constant_for_its_own_ratio(lam):
    t = torch.linspace(0, 1, 101, dtype=F64)
    assert torch.allclose(
        mode_rate(Designed(lam), t, lam), torch.full_like(t, 0.5 * math.log(lam)), rtol=1e-12, atol=0
    )
    assert torch.allclose(mode_rate(Designed(lam), t, 1.0), torch.zeros_like(t), rtol=0, atol=1e-15)


# ---- multi-mode targets (lipschitz.md §2.3 multi-eigenvalue rule, §7 item 7) -------------------------------------
def test_multi_mode_designed_uses_the_smallest_ratio():
    ratios = torch.logspace(-6, 0, 40, dtype=F64)
    sched = Designed(1e-6)
    ln = math.log(1e-6)
    assert closed_form_lipschitz(sched, ratios) == abs(ln) / 2
    assert closed_form_a2(sched, ratios) == ln * ln / 4
    assert rel(lipschitz_numeric(sched, ratios), abs(ln) / 2) <= 1e-8
    assert rel(a2_numeric(sched, ratios), ln * ln / 4) <= 1e-8


def test_no_closed_form_falls_back_to_numerics():
    ratios = [1e-4, 0.5]
    sched = Designed(1e-2)  # designed for another ratio: no closed form
    assert closed_form_lipschitz(sched, ratios) is None and closed_form_a2(sched, ratios) is None
    assert lipschitz(sched, ratios) == lipschitz_numeric(sched, ratios)
    assert a2(sched, ratios) == a2_numeric(sched, ratios)
    # the worst mode of a linear multi-mode target is the more extreme ratio
    assert rel(lipschitz(Linear(), [1e-4, 0.5, 30.0]), lip_linear(1e-4)) <= 1e-12
    assert rel(lipschitz(Linear(), [0.5, 1e3]), lip_linear(1e3)) <= 1e-12


def test_ratio_extremes_validates():
    assert ratio_extremes([0.3, 2.0, 1e-5]) == (1e-5, 2.0)
    for bad in ([], [0.0, 1.0], [-1.0], [float("nan")], [float("inf")]):
        with pytest.raises(ConfigError):
            ratio_extremes(bad)
    with pytest.raises(ConfigError):
        lipschitz(Linear(), [0.0, 1.0])


def test_graded_nodes_integrate_exactly():
    t, w = graded_nodes()
    assert abs(float(w.sum()) - 1) <= 1e-14
    assert bool(((t > 0) & (t <= 1)).all()) and bool((w > 0).all())  # nodes within 2^-52 of 1 round to 1
    for k in (1, 5, 20):
        assert abs(float((w * t**k).sum()) - 1 / (k + 1)) <= 1e-14
    # an endpoint-concentrated integrand: ∫ 1/√t dt = 2
    assert abs(float((w / t.sqrt()).sum()) - 2) <= 1e-6


# ---- Matérn s = 3 Gaussian field, white base (lipschitz.md §6.1 / §7 item 7, scale_adaptive T8) ---------------------
MATERN = {  # N: (λ_min, Lip linear, Lip designed, A2 linear, A2 designed), tolerances = half a printed unit
    32: ((8.0300e-09, 5e-13), (5579.7, 0.05), (9.320, 5e-4), (8763.6, 0.05), (86.86, 5e-3)),
    64: ((1.2548e-10, 5e-15), (44635, 0.5), (11.40, 5e-3), (70112, 0.5), (129.9, 0.05)),
    128: ((1.9607e-12, 5e-17), (357076, 0.5), (13.48, 5e-3), (560893, 0.5), (181.7, 0.05)),
}


def matern_ratios(n):
    """Per-mode target/base ratios λ_k = S1_k / 1 (unit per-mode white base), the mean mode dropped."""
    return matern_power(n, 2).flatten()[1:]


@pytest.mark.parametrize("n", list(MATERN))
def test_matern_field_table(n):
    (lmin, tl), (lip_lin, t1), (lip_des, t2), (a2_lin, t3), (a2_des, t4) = MATERN[n]
    ratios = matern_ratios(n)
    r = float(ratios.min())
    assert abs(r - lmin) <= tl
    # the smallest ratio is the corner mode (N/2, N/2) (scale_adaptive §3.2)
    assert r == float(matern_power(n, 2)[n // 2, n // 2])
    designed = Designed(r)
    assert abs(lipschitz(Linear(), ratios) - lip_lin) <= t1
    assert abs(lipschitz(designed, ratios) - lip_des) <= t2
    assert abs(a2(Linear(), ratios) - a2_lin) <= t3
    assert abs(a2(designed, ratios) - a2_des) <= t4


def test_matern_resolution_scaling():
    """Lip_lin(2N)/Lip_lin(N) → 8 = 2^s and Lip_designed(2N) − Lip_designed(N) → 3 ln 2 (scale_adaptive T8)."""
    lin = [lipschitz(Linear(), matern_ratios(n)) for n in (32, 64, 128)]
    des = [lipschitz(Designed(float(matern_ratios(n).min())), matern_ratios(n)) for n in (32, 64, 128)]
    assert abs(lin[2] / lin[1] - 8) <= 1e-3 and abs(lin[1] / lin[0] - 8) <= 1e-3
    assert abs(des[2] - des[1] - 3 * math.log(2)) <= 1e-4 and abs(des[1] - des[0] - 3 * math.log(2)) <= 1e-4


# ---- exact spectral errors of generated Gaussian fields (scale_adaptive §7.1, T12) -----------------------------------
def spectral_error(n, kind, points, solver="rk4-38"):
    """Relative shell-spectrum error E_gen/E_true − 1 per κ = 1..N/2 for the rk4-38 flow of the Matérn field.

    white: S0 = 1 per mode; matched: S0 = S1. E(κ) = 2πκ × shell mean, so the 2πκ cancels in the ratio.
    The mean mode (excluded from the shells) is given variance 1 to keep every mode well defined."""
    s1 = matern_power(n, 2).clone()
    s1.view(-1)[0] = 1.0
    s0 = s1.clone() if kind == "matched" else torch.ones_like(s1)
    sched = Designed(float(s1[n // 2, n // 2])) if kind == "scaled" else Linear()
    ts = time_grid("uniform", points - 1, 1e-4, 1 - 1e-4)
    var, nfe = generated_variance(make_solver(solver), sched, s1.flatten(), ts, s0.flatten())
    assert nfe == 4 * (points - 1)
    return shell_mean(var.reshape(n, n), n, 2) / shell_mean(s1, n, 2) - 1


SPECTRAL_TABLE = [  # (setting, n grid points, {N: error at κ = N/2})
    ("matched", 2, {32: 0.1129457, 64: 0.1129457, 128: 0.1129457}),
    ("matched", 5, {32: 1.263131e-4, 64: 1.263131e-4, 128: 1.263131e-4}),
    ("matched", 10, {32: 2.422857e-6, 64: 2.422857e-6, 128: 2.422857e-6}),
    ("white", 20, {32: 505.530, 64: 482.247, 128: 772.161}),
    ("white", 40, {32: 122.227, 64: 149.222, 128: 699.688}),
    ("white", 80, {32: 30.7756, 64: 56.5054, 128: 666.132}),
    ("scaled", 10, {32: 0.346455, 64: 1.803566, 128: 16.5163}),
    ("scaled", 20, {32: 1.18948e-2, 64: 3.43671e-2, 128: 8.93449e-2}),
]


@pytest.mark.parametrize(
    ("kind", "points", "values"), SPECTRAL_TABLE, ids=[f"{k}-{p}" for k, p, _ in SPECTRAL_TABLE]
)
def test_exact_spectral_error_table(kind, points, values):
    for n, expected in values.items():
        err = spectral_error(n, kind, points)
        assert rel(float(err[-1]), expected) <= 1e-5, (n, float(err[-1]), expected)
        if kind == "matched":  # the matched base has the same error in every shell
            assert float((err - expected).abs().max()) <= 1e-5 * expected


def test_mean_shell_errors_at_n128_with_19_steps():
    """scale_adaptive §7.1 (N = 128, RK20 = 19 steps): designed mean error ≈ 0.065, linear ≈ 4e2."""
    designed = float(spectral_error(128, "scaled", 20).abs().mean())
    linear = float(spectral_error(128, "white", 20).abs().mean())
    assert 0.05 <= designed <= 0.08
    assert 100 <= linear <= 1000


# ---- generated_variance mechanics ----------------------------------------------------------------------------------
def test_generated_variance_ode_is_base_times_gain_squared():
    """Euler gain Π(1 + h a_i) for a mode with base μ, target λ: generated variance μ G²."""
    sched, lam, mu = Trig(), 0.3, 2.0
    ts = time_grid("uniform", 8, 0.0, 1.0)
    times = [float(t) for t in ts]
    g = 1.0
    for t0, t1 in itertools.pairwise(times):
        g *= 1 + (t1 - t0) * float(mode_rate(sched, t0, lam / mu))
    var, nfe = generated_variance(make_solver("euler"), sched, torch.tensor([lam], dtype=F64), ts, mu)
    assert nfe == 8
    assert abs(float(var[0]) - mu * g * g) <= 1e-13 * mu * g * g


def test_generated_variance_em_recursion():
    """EM step x ↦ g x + √(2εh)·√μ ξ with g = 1 + h(a − εμ/D): v ← g² v + 2εhμ from v = μ."""
    sched, lam, mu, eps = Linear(), 0.4, 1.5, 0.3
    ts = time_grid("uniform", 6, 0.0, 0.9)
    times = [float(t) for t in ts]
    v = mu
    for t0, t1 in itertools.pairwise(times):
        h = t1 - t0
        a_, b_ = 1 - t0, t0
        d = a_ * a_ * mu + b_ * b_ * lam
        g = 1 + h * ((-a_ * mu + b_ * lam) / d - eps * mu / d)
        v = g * g * v + 2 * eps * h * mu
    solver = make_solver("em", diffusion=make_diffusion(f"const:{eps}", sched))
    var, nfe = generated_variance(solver, sched, torch.tensor([lam], dtype=F64), ts, mu)
    assert nfe == 6
    assert abs(float(var[0]) - v) <= 1e-13 * v
