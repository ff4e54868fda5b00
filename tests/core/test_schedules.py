"""Tests for sictl.core.interpolants.schedules.

Check values: SPEC §1, reference/lipschitz.md §2.3 and §7 items 1, 2, 10; reference/follmer.md §7 T1.
Derivatives are checked against forward-mode automatic differentiation of the schedule's own values
(torch.func.jacfwd, float64), never against the schedule's own derivative formulas.
"""

from __future__ import annotations

import math

import pytest
import torch

from sictl.core.interpolants.schedules import (
    POINT_SOURCE_BETAS,
    SCHEDULES,
    Designed,
    Linear,
    PointSource,
    Schedule,
    ScheduleValues,
    Tabulated,
    Trig,
    VariancePreserving,
    make_schedule,
)
from sictl.errors import ConfigError

F64 = torch.float64


def trig_table(points: int) -> Tabulated:
    """A Tabulated schedule built from exact trig values on a uniform table."""
    t = torch.linspace(0, 1, points, dtype=F64)
    h = math.pi / 2
    return Tabulated(
        t, torch.cos(h * t), torch.sin(h * t), -h * torch.sin(h * t), h * torch.cos(h * t), label="trig-table"
    )


DESIGNED_LAMS = [1e-5, 4e-4, 0.5, 4.0, 1 + 1e-9, 1.0]

# every registry entry (new ones included automatically) plus the explicit extra instances
CASES: list[tuple[str, Schedule]] = [(f"registry:{n}", make_schedule(n, default_lam=1e-3)) for n in SCHEDULES]
CASES += [(f"designed:{lam!r}", Designed(lam)) for lam in DESIGNED_LAMS]
CASES += [(f"point-source:{fam}:c=0.5", PointSource(fam, 0.5)) for fam in POINT_SOURCE_BETAS]
CASES += [("tabulated-trig", trig_table(1001))]
CASES += [
    ("vp-linear", VariancePreserving(Linear())),
    ("vp-beta-3t2", VariancePreserving(PointSource("beta-3t2"))),
]
IDS = [c[0] for c in CASES]
SCHEDS = [c[1] for c in CASES]

INTERIOR = torch.tensor(
    [1e-3, 0.01, 0.05, 0.1, 0.2377, 0.3, 0.4142, 0.5, 0.6, 0.7071, 0.8, 0.9, 0.95, 0.99, 1 - 1e-3], dtype=F64
)


def elementwise_derivative(fn, t: torch.Tensor) -> torch.Tensor:
    """d fn(t)_i / d t_i for an elementwise fn, by forward-mode AD (diagonal of the Jacobian)."""
    return torch.func.jacfwd(fn)(t).diagonal()


def assert_close(actual, expected, *, rtol, atol=0.0, msg=""):
    actual = torch.as_tensor(actual, dtype=F64)
    expected = torch.as_tensor(expected, dtype=F64)
    err = torch.where(actual == expected, 0.0, (actual - expected).abs())  # equal infinities agree
    bound = atol + rtol * expected.abs()
    assert bool((err <= bound).all()), (
        f"{msg}: max excess {float((err - bound).max()):.3e}, max err {float(err.max()):.3e}"
    )


# ---- registry and construction ------------------------------------------------------------------------
def test_registry_holds_the_spec_schedules():
    for name in ("linear", "trig", "designed", "lin-beta", "beta-t2", "beta-2t2", "beta-3t2"):
        assert name in SCHEDULES


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_registry_name_builds_from_its_spec(name):
    s = make_schedule(name, default_lam=0.01)
    assert isinstance(s, Schedule)
    v = s(torch.tensor([0.25, 0.5], dtype=F64))
    assert all(x.shape == (2,) and x.dtype == F64 for x in v)


def test_make_schedule_parses_parameters():
    d = make_schedule("designed:1e-4")
    assert isinstance(d, Designed) and d.lam == 1e-4
    assert make_schedule("designed", default_lam=0.5).lam == 0.5
    p = make_schedule("beta-2t2:0.25")
    assert isinstance(p, PointSource) and p.family == "beta-2t2" and p.c == 0.25
    assert make_schedule("lin-beta").c == 1.0
    assert isinstance(make_schedule("linear"), Linear) and isinstance(make_schedule("trig"), Trig)


@pytest.mark.parametrize(
    "spec",
    [
        "bogus",
        "designed",
        "designed:abc",
        "designed:0",
        "designed:-1",
        "designed:nan",
        "designed:inf",
        "linear:3",
        "trig:1",
        "beta-t2:0",
        "beta-t2:-1",
    ],
)
def test_make_schedule_rejects_bad_specs(spec):
    with pytest.raises(ConfigError):
        make_schedule(spec)


def test_constructors_validate():
    with pytest.raises(ConfigError):
        PointSource("beta-t5")
    with pytest.raises(ConfigError):
        PointSource("lin-beta", c=float("nan"))
    with pytest.raises(ConfigError):
        Designed(float("nan"))


def test_python_float_and_tensor_times_agree():
    for s in SCHEDS:
        a = s(0.3)
        b = s(torch.tensor([0.3], dtype=F64))
        for x, y in zip(a, b):
            assert x.dtype == F64 and x.shape == ()
            assert float(x) == float(y[0])


def test_float32_time_keeps_its_dtype():
    v = Designed(0.01)(torch.tensor([0.5], dtype=torch.float32))
    assert all(x.dtype == torch.float32 for x in v)


# ---- boundary values and monotonicity (lipschitz.md §7 item 1, SPEC §1) ------------------------------------
@pytest.mark.parametrize("sched", SCHEDS, ids=IDS)
def test_boundary_values(sched):
    v = sched(torch.tensor([0.0, 1.0], dtype=F64))
    assert_close(v.alpha, [1.0, 0.0], rtol=0, atol=1e-15, msg="alpha(0), alpha(1)")
    assert_close(v.beta, [0.0, 1.0], rtol=0, atol=1e-15, msg="beta(0), beta(1)")


@pytest.mark.parametrize("sched", SCHEDS, ids=IDS)
def test_alpha_decreases_beta_increases(sched):
    v = sched(INTERIOR)
    assert bool((v.alpha_dot < 0).all()) and bool((v.beta_dot > 0).all())
    dense = sched(torch.linspace(0, 1, 2001, dtype=F64))
    assert bool((torch.diff(dense.alpha) < 0).all()) and bool((torch.diff(dense.beta) > 0).all())


# ---- derivatives against automatic differentiation ------------------------------------------------------
@pytest.mark.parametrize("sched", SCHEDS, ids=IDS)
def test_derivatives_equal_autodiff(sched):
    v = sched(INTERIOR)
    da = elementwise_derivative(lambda t: sched(t).alpha, INTERIOR)
    db = elementwise_derivative(lambda t: sched(t).beta, INTERIOR)
    assert_close(v.alpha_dot, da, rtol=1e-10, atol=1e-12, msg="alpha_dot vs jacfwd")
    assert_close(v.beta_dot, db, rtol=1e-10, atol=1e-12, msg="beta_dot vs jacfwd")


@pytest.mark.parametrize("sched", SCHEDS, ids=IDS)
def test_derivatives_equal_backward_autograd(sched):
    t = INTERIOR.clone().requires_grad_(True)
    v = sched(t)
    (ga,) = torch.autograd.grad(v.alpha.sum(), t, retain_graph=True)
    (gb,) = torch.autograd.grad(v.beta.sum(), t)
    assert_close(v.alpha_dot.detach(), ga, rtol=1e-10, atol=1e-12, msg="alpha_dot vs autograd")
    assert_close(v.beta_dot.detach(), gb, rtol=1e-10, atol=1e-12, msg="beta_dot vs autograd")


@pytest.mark.parametrize("sched", SCHEDS, ids=IDS)
def test_half_square_rates_are_products(sched):
    v = sched(INTERIOR)
    aad, bbd = sched.half_square_rates(INTERIOR)
    assert_close(aad, v.alpha * v.alpha_dot, rtol=1e-12, atol=1e-15, msg="alpha*alpha_dot")
    assert_close(bbd, v.beta * v.beta_dot, rtol=1e-12, atol=1e-15, msg="beta*beta_dot")
    # and they are the half derivatives of the squares (autodiff of α², β²)
    d_a2 = elementwise_derivative(lambda t: sched(t).alpha ** 2, INTERIOR)
    d_b2 = elementwise_derivative(lambda t: sched(t).beta ** 2, INTERIOR)
    assert_close(aad, d_a2 / 2, rtol=1e-10, atol=1e-13, msg="half d(alpha^2)/dt")
    assert_close(bbd, d_b2 / 2, rtol=1e-10, atol=1e-13, msg="half d(beta^2)/dt")


@pytest.mark.parametrize("lam", DESIGNED_LAMS)
def test_designed_half_square_rates_finite_at_endpoints(lam):
    # α̇ and β̇ are infinite at one end each, but αα̇ = −ββ̇ = −½ d(β²)/dt with β² = (λ^t − 1)/(λ − 1)
    ends = torch.tensor([0.0, 1.0], dtype=F64)
    aad, bbd = Designed(lam).half_square_rates(ends)
    ln = math.log(lam)
    expected = [0.5 * ln / (lam - 1) * lam**t if abs(ln) > 0 else 0.5 for t in (0.0, 1.0)]
    assert_close(bbd, expected, rtol=1e-9, msg="½ d(β²)/dt at the ends")
    assert_close(aad, [-e for e in expected], rtol=1e-9, msg="½ d(α²)/dt at the ends")


# ---- designed schedule closed forms (lipschitz.md §2.3, §7 items 1-2) --------------------------------------
@pytest.mark.parametrize("lam", DESIGNED_LAMS)
def test_designed_identities(lam):
    t = torch.linspace(0, 1, 401, dtype=F64)
    v = Designed(lam)(t)
    a2, b2 = v.alpha**2, v.beta**2
    assert_close(a2 + b2, torch.ones_like(t), rtol=0, atol=1e-12, msg="alpha^2 + beta^2 = 1")
    lam_t = torch.exp(t * math.log(lam))
    assert_close(a2 + lam * b2, lam_t, rtol=1e-12, msg="alpha^2 + lam beta^2 = lam^t")


@pytest.mark.parametrize("lam", [1e-5, 4e-4, 0.5, 4.0])
def test_designed_matches_eq_3_6(lam):
    """α = √((λ − λ^t)/(λ − 1)), β = √((λ^t − 1)/(λ − 1)), α̇ = −λ^t ln λ/(2α(λ−1)), β̇ = λ^t ln λ/(2β(λ−1))."""
    t = INTERIOR
    lt = lam**t
    alpha = torch.sqrt((lam - lt) / (lam - 1))
    beta = torch.sqrt((lt - 1) / (lam - 1))
    v = Designed(lam)(t)
    assert_close(v.alpha, alpha, rtol=1e-12, msg="alpha")
    assert_close(v.beta, beta, rtol=1e-12, msg="beta")
    assert_close(v.alpha_dot, -lt * math.log(lam) / (2 * alpha * (lam - 1)), rtol=1e-11, msg="alpha_dot")
    assert_close(v.beta_dot, lt * math.log(lam) / (2 * beta * (lam - 1)), rtol=1e-11, msg="beta_dot")


# lipschitz.md §7 item 2: α, β, α̇, β̇, t† = β/(α+β), ε* = β̇/β (printed to 6 decimals)
ITEM2 = [
    (1e-5, 0.1, (0.562335, 0.826909, -3.237164, 2.201416, 0.595222, 2.662222)),
    (1e-5, 0.5, (0.056145, 0.998423, -0.324224, 0.018232, 0.946760, 0.018261)),
    (4e-4, 0.5, (0.140028, 0.990148, -0.558972, 0.079051, 0.876101, 0.079837)),
    (4.0, 0.5, (0.816497, 0.577350, -0.565952, 0.800377, 0.414214, 1.386294)),
]


@pytest.mark.parametrize(("lam", "t", "row"), ITEM2)
def test_designed_reference_values(lam, t, row):
    v = Designed(lam)(t)
    got = [v.alpha, v.beta, v.alpha_dot, v.beta_dot, v.beta / (v.alpha + v.beta), v.beta_dot / v.beta]
    for g, r, what in zip(got, row, ("alpha", "beta", "alpha_dot", "beta_dot", "t_dag", "eps*")):
        assert abs(float(g) - r) <= 1e-6, f"{what}: {float(g)} vs {r}"


def test_designed_lam4_eps_star_is_ln4():
    v = Designed(4.0)(0.5)
    assert abs(float(v.beta_dot / v.beta) - math.log(4)) < 1e-12


@pytest.mark.parametrize("lam", [1 + 1e-9, 1 - 1e-9, 1 + 1e-6])
def test_designed_tends_to_beta2_equals_t(lam):
    t = torch.linspace(0, 1, 101, dtype=F64)
    ln = math.log(lam)
    b2 = Designed(lam)(t).beta ** 2
    # β² = (e^{tL} − 1)/(e^L − 1) = t + t(t − 1) L/2 + O(L²)
    assert_close(b2, t + t * (t - 1) * ln / 2, rtol=0, atol=1e-14 + ln * ln, msg="first-order expansion")
    exact_limit = Designed(1.0)(t)
    assert_close(exact_limit.beta**2, t, rtol=0, atol=1e-15, msg="lam = 1: beta^2 = t")
    assert_close(exact_limit.alpha**2, 1 - t, rtol=0, atol=1e-15, msg="lam = 1: alpha^2 = 1 - t")
    interior = Designed(lam)(INTERIOR)
    limit = Designed(1.0)(INTERIOR)
    for x, y in zip(interior, limit):
        assert_close(x, y, rtol=10 * abs(ln) + 1e-13, msg="close to the lam = 1 limit")


# ---- inverse of the log-SNR ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sched", SCHEDS, ids=IDS)
def test_log_snr_is_increasing(sched):
    ell = sched.log_snr(torch.linspace(0, 1, 1001, dtype=F64))
    # −∞ at t = 0 exactly; at t = 1 only "very large" for trig, whose cos(π/2) rounds to 6e-17
    assert float(ell[0]) == -math.inf and float(ell[-1]) > 30
    assert bool((torch.diff(ell) > 0).all())


@pytest.mark.parametrize("sched", SCHEDS, ids=IDS)
def test_time_at_log_snr_inverts_log_snr(sched):
    ell = sched.log_snr(INTERIOR)
    closed = sched.time_at_log_snr(ell)
    generic = Schedule.time_at_log_snr(sched, ell)
    assert_close(closed, INTERIOR, rtol=0, atol=1e-12, msg="schedule's own inverse")
    assert_close(generic, INTERIOR, rtol=0, atol=1e-12, msg="generic bisection")


@pytest.mark.parametrize("sched", SCHEDS, ids=IDS)
def test_at_log_snr_gives_time_and_values(sched):
    ell = sched.log_snr(INTERIOR)
    t, v = sched.at_log_snr(ell)
    ref = sched(INTERIOR)
    assert_close(t, INTERIOR, rtol=0, atol=1e-12, msg="time")
    for name in ScheduleValues._fields:
        assert_close(getattr(v, name), getattr(ref, name), rtol=1e-10, atol=1e-14, msg=name)
    assert_close(torch.log(v.beta / v.alpha), ell, rtol=0, atol=1e-12, msg="log(beta/alpha) = ell")
    t_gen, v_gen = Schedule.at_log_snr(sched, ell)  # the generic (bisection) version agrees
    assert_close(t_gen, INTERIOR, rtol=0, atol=1e-12, msg="generic time")
    for name in ScheduleValues._fields:
        assert_close(getattr(v_gen, name), getattr(ref, name), rtol=1e-9, atol=1e-13, msg=f"generic {name}")


@pytest.mark.parametrize(
    "sched",
    [Linear(), Trig(), Designed(1e-4), Designed(0.5), Designed(1.0)],
    ids=["linear", "trig", "designed-1e-4", "designed-0.5", "designed-1"],
)
def test_at_log_snr_keeps_alpha_accurate_near_the_data_end(sched):
    """Where 1 − t is below float64 resolution of t, α must still follow from ℓ: β/α = e^ℓ, α² + β² known."""
    ell = torch.tensor([15.0, 20.0, 30.0], dtype=F64)
    _, v = sched.at_log_snr(ell)
    assert_close(v.beta / v.alpha, torch.exp(ell), rtol=1e-13, msg="beta/alpha = e^ell")
    assert bool((v.alpha > 0).all())


def test_variance_preserving_wrapper():
    t = torch.linspace(0, 1, 101, dtype=F64)
    vp = VariancePreserving(Linear())(t)
    assert_close(vp.alpha, torch.sqrt(1 - t * t), rtol=0, atol=1e-15, msg="alpha = sqrt(1 - t^2)")
    assert_close(vp.beta, t, rtol=0, atol=0, msg="beta = t")
    # already variance preserving: unchanged (up to the rounding of √(1 − β²) where α is small)
    for x, y in zip(VariancePreserving(Trig())(INTERIOR), Trig()(INTERIOR)):
        assert_close(x, y, rtol=1e-10, atol=1e-12, msg="VP(trig) = trig")
    for x, y in zip(VariancePreserving(Designed(0.01))(INTERIOR), Designed(0.01)(INTERIOR)):
        assert_close(x, y, rtol=1e-10, atol=1e-12, msg="VP(designed) = designed")


def test_closed_inverses_have_known_forms():
    ell = torch.linspace(-6, 6, 25, dtype=F64)
    assert_close(Linear().time_at_log_snr(ell), 1 / (1 + torch.exp(-ell)), rtol=1e-15, msg="linear: sigmoid")
    assert_close(
        Trig().time_at_log_snr(ell),
        torch.atan(torch.exp(ell)) * 2 / math.pi,
        rtol=1e-15,
        msg="trig: (2/π) atan e^ℓ",
    )


@pytest.mark.parametrize("lam", [1e-5, 4e-4, 0.01, 0.5, 4.0, 1 + 1e-9, 1.0, 1 - 2e-5])
def test_inverse_time_map_item10(lam):
    """lipschitz.md §7 item 10: t = ln((1 + ρ²λ)/(1 + ρ²))/ln λ, ρ = t†/(1 − t†), t† = β/(α + β)."""
    sched = Designed(lam)
    t = torch.tensor([1e-4, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1 - 1e-4], dtype=F64)
    v = sched(t)
    t_dag = v.beta / (v.alpha + v.beta)
    rho = t_dag / (1 - t_dag)
    if abs(math.log(lam)) > 1e-3:  # the formula itself cancels as ln λ → 0 (error ≈ 1e-16/|ln λ|)
        formula = torch.log((1 + rho**2 * lam) / (1 + rho**2)) / math.log(lam)
        assert_close(formula, t, rtol=0, atol=1e-12, msg="item 10 formula")
    # the schedule's inverse of log(β/α) = log ρ is the same map
    assert_close(sched.time_at_log_snr(torch.log(rho)), t, rtol=0, atol=1e-12, msg="time_at_log_snr(log ρ)")


# ---- Tabulated ------------------------------------------------------------------------------------------------
def test_tabulated_reproduces_its_table_at_the_nodes():
    t = torch.linspace(0, 1, 257, dtype=F64)
    lam = 0.01
    ref = Designed(lam)(t)
    # the designed table has β̇(0) = ∞; the schedule must still reproduce every finite entry exactly
    tab = Tabulated(t, *ref)
    got = tab(t)
    for name in ("alpha", "beta"):
        assert_close(getattr(got, name), getattr(ref, name), rtol=0, atol=1e-12, msg=name)
    assert_close(got.alpha_dot, ref.alpha_dot, rtol=1e-12, atol=1e-12, msg="alpha_dot at nodes")
    assert_close(got.beta_dot[1:], ref.beta_dot[1:], rtol=1e-12, atol=1e-12, msg="beta_dot at nodes")
    assert float(got.beta_dot[0]) == math.inf  # the tabulated singularity is kept (√ end profile)
    aad, bbd = tab.half_square_rates(t[:3])
    ref_aad, ref_bbd = Designed(lam).half_square_rates(t[:3])
    assert bool(torch.isfinite(bbd).all()) and float(bbd[0]) == pytest.approx(float(ref_bbd[0]), rel=1e-2)


def test_tabulated_trig_values_and_derivatives_at_nodes():
    tab = trig_table(1001)
    t = torch.linspace(0, 1, 1001, dtype=F64)
    got, ref = tab(t), Trig()(t)
    for x, y in zip(got, ref):
        assert_close(x, y, rtol=0, atol=1e-12, msg="node values")


def test_tabulated_interpolates_trig_to_hermite_accuracy():
    points = 201
    tab = trig_table(points)
    t = torch.rand(2000, generator=torch.Generator().manual_seed(0), dtype=F64)
    h = 1 / (points - 1)
    # cubic Hermite error ≤ h⁴/384 · max|f''''| with |f''''| ≤ (π/2)⁴ for cos and sin of πt/2
    bound = h**4 / 384 * (math.pi / 2) ** 4 + 1e-15
    got, ref = tab(t), Trig()(t)
    assert float((got.alpha - ref.alpha).abs().max()) <= bound
    assert float((got.beta - ref.beta).abs().max()) <= bound


def test_tabulated_derivative_is_derivative_of_its_values_between_nodes():
    tab = trig_table(51)  # coarse table, so the interpolant differs visibly from trig between nodes
    t = torch.rand(500, generator=torch.Generator().manual_seed(1), dtype=F64) * 0.998 + 0.001
    v = tab(t)
    da = elementwise_derivative(lambda s: tab(s).alpha, t)
    db = elementwise_derivative(lambda s: tab(s).beta, t)
    assert_close(v.alpha_dot, da, rtol=1e-10, atol=1e-11, msg="alpha_dot vs jacfwd")
    assert_close(v.beta_dot, db, rtol=1e-10, atol=1e-11, msg="beta_dot vs jacfwd")
    # the derivative is continuous across nodes (C¹ Hermite)
    nodes = torch.linspace(0, 1, 51, dtype=F64)[1:-1]
    left, right = tab(nodes - 1e-12), tab(nodes + 1e-12)
    assert_close(left.beta_dot, right.beta_dot, rtol=0, atol=1e-9, msg="beta_dot continuous at nodes")


def _table(p=11):
    t = torch.linspace(0, 1, p, dtype=F64)
    return [t, 1 - t, t.clone(), -torch.ones_like(t), torch.ones_like(t)]


def test_tabulated_accepts_a_valid_table():
    tab = Tabulated(*_table())
    v = tab(torch.tensor([0.05, 0.55], dtype=F64))
    assert_close(v.alpha, [0.95, 0.45], rtol=0, atol=1e-15, msg="linear table")


@pytest.mark.parametrize("column", [1, 2])
def test_tabulated_rejects_non_monotone_table(column):
    cols = _table()
    bad = cols[column].clone()
    bad[5], bad[6] = bad[6].item(), bad[5].item()
    cols[column] = bad
    with pytest.raises(ConfigError):
        Tabulated(*cols)


def test_tabulated_rejects_bad_time_columns():
    cols = _table()
    cols[0] = cols[0] * 0.9  # does not reach 1
    with pytest.raises(ConfigError):
        Tabulated(*cols)
    cols = _table()
    cols[0] = cols[0].flip(0)  # decreasing
    with pytest.raises(ConfigError):
        Tabulated(*cols)
    cols = _table()
    cols[3] = cols[3][:-1]  # unequal lengths
    with pytest.raises(ConfigError):
        Tabulated(*cols)
    with pytest.raises(ConfigError):
        Tabulated([0.0], [1.0], [0.0], [-1.0], [1.0])


# ---- point-source families (follmer.md §7 T1) -----------------------------------------------------------------
FOLLMER_BETAS = {
    "lin-beta": (lambda t: t, lambda t: 1.0),
    "beta-t2": (lambda t: t * t, lambda t: 2 * t),
    "beta-2t2": (lambda t: 2 * t * t / (t + 1), lambda t: (2 * t * t + 4 * t) / (t + 1) ** 2),
    "beta-3t2": (lambda t: 3 * t * t / (2 * t + 1), lambda t: (6 * t * t + 6 * t) / (2 * t + 1) ** 2),
}


def test_point_source_families_are_the_reference_ones():
    assert set(POINT_SOURCE_BETAS) == set(FOLLMER_BETAS)


@pytest.mark.parametrize("family", list(FOLLMER_BETAS))
@pytest.mark.parametrize("c", [1.0, 0.3])
def test_point_source_schedule(family, c):
    s = PointSource(family, c)
    t = torch.linspace(0, 1, 41, dtype=F64)
    v = s(t)
    beta, dbeta = FOLLMER_BETAS[family]
    assert_close(
        v.beta, torch.tensor([beta(float(x)) for x in t], dtype=F64), rtol=1e-14, atol=1e-16, msg="beta"
    )
    assert_close(
        v.beta_dot,
        torch.tensor([dbeta(float(x)) for x in t], dtype=F64),
        rtol=1e-14,
        atol=1e-16,
        msg="beta_dot",
    )
    assert_close(v.alpha, 1 - t, rtol=0, atol=1e-16, msg="alpha = 1 - t")
    assert float(v.beta[0]) == 0.0 and float(v.beta[-1]) == 1.0
    assert_close(
        elementwise_derivative(lambda x: s(x).beta, INTERIOR),
        s(INTERIOR).beta_dot,
        rtol=1e-12,
        msg="beta_dot vs jacfwd",
    )
    sigma, sigma_dot = s.sigma(t)
    assert_close(sigma, c * (1 - t), rtol=0, atol=1e-16, msg="sigma = c(1 - t)")
    assert float(sigma[-1]) == 0.0
    assert_close(sigma_dot, torch.full_like(t, -c), rtol=0, atol=0, msg="sigma_dot = -c")
    assert_close(
        elementwise_derivative(lambda x: s.sigma(x)[0], INTERIOR),
        torch.full_like(INTERIOR, -c),
        rtol=1e-14,
        msg="sigma_dot vs jacfwd",
    )


def test_describe_is_json_friendly():
    import json

    for s in SCHEDS:
        d = s.describe()
        assert isinstance(d, dict) and "name" in d
        json.dumps(d)
    assert Designed(0.25).describe() == {"name": "designed", "lam": 0.25}
