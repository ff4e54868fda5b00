"""Tests for sictl.core.simulators.navier_stokes (reference/data_and_metrics.md §2.4–2.6, reference/follmer.md §4.1).

Check values: Taylor–Green decay e^{−(α+2ν)t}; Galerkin-truncated Euler conserves energy and enstrophy
(error O(dt³) with the third-order stepper); the advection-free dynamics is an exact Ornstein–Uhlenbeck
process with E|ω̂_k|² = ε²Σ_j σ_j²|φ̂_j(k)|²(1 − e^{−2λt})/(2λ), λ = α + ν|k|², |φ̂_j(±k_j)|² = ¼; the
paper's injection rates 2 (enstrophy) and 0.0380 (energy).
"""

from __future__ import annotations

import math

import pytest
import torch

from sictl.core.simulators.navier_stokes import (
    PAPER_FORCING,
    PRESETS,
    ForcingMode,
    NavierStokes2D,
    NSConfig,
    dealias_cutoff,
    energy,
    enstrophy,
    palinstrophy,
    spectral_truncate,
)
from sictl.errors import ConfigError, ConvergenceError, ShapeError

F64 = torch.float64


@pytest.fixture(autouse=True)
def one_thread():
    """The fields are small (≤ 64²): on a shared machine a second intra-op thread mostly waits (a run of
    test_stationary_budgets_short went from 8 s to 146 s with two threads on a busy 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def grid(n):
    x = 2 * math.pi * torch.arange(n, dtype=F64) / n
    return torch.meshgrid(x, x, indexing="ij")


# ---- configuration -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"n": 7}, {"n": 33}, {"n": 4}, {"nu": -1e-3}, {"alpha": float("nan")}, {"eps": -1.0}, {"dt": 0.0},
    {"dtype": torch.float16}, {"cfl_max": 0.0}, {"n": 16},  # 8(x+y) lies outside the 2/3 box |k| ≤ 5 of n=16
    {"forcing": [(0, 0, "sin")]}, {"forcing": [(1, 2, "tan")]}, {"forcing": [(1, 2, "sin", -1.0)]},
    {"forcing": [(1,)]},
])
def test_config_rejects_bad_parameters(kwargs):
    with pytest.raises(ConfigError) as err:
        NSConfig(**kwargs)
    assert err.value.hint


def test_defaults_are_the_papers():
    c = NSConfig()
    assert (c.n, c.nu, c.alpha, c.eps, c.dtype, c.advection) == (64, 1e-3, 0.1, 1.0, F64, True)
    assert c.forcing == PAPER_FORCING and len(c.forcing) == 8
    assert NSConfig(forcing=[(3, 1, "cos", 0.5)]).forcing == (ForcingMode(3, 1, "cos", 0.5),)
    assert dealias_cutoff(32) == 10 and dealias_cutoff(64) == 21 and dealias_cutoff(128) == 42
    assert (PRESETS["small"].n, PRESETS["small"].dt) == (64, 2e-3)
    assert (PRESETS["medium"].n, PRESETS["medium"].dt) == (128, 1e-3)
    assert (PRESETS["paper"].n, PRESETS["paper"].dt, PRESETS["paper"].store_n) == (256, 1e-4, 128)
    assert all(p.dtype == torch.float32 and (p.burn_in, p.snapshot_dt, p.n_snapshots) == (50.0, 0.5, 100)
               for p in PRESETS.values())
    assert PRESETS["small"].config(nu=2e-3).nu == 2e-3


def test_paper_injection_rates():
    energy_rate, enstrophy_rate = NavierStokes2D(NSConfig(n=32)).injection_rates()
    assert enstrophy_rate == pytest.approx(2.0, rel=1e-12)  # ½ε²Σσ²⟨φ²⟩ = ½·8·½
    assert energy_rate == pytest.approx(0.25 * 2 * (1 / 36 + 1 / 49 + 1 / 50 + 1 / 128), rel=1e-12)
    assert energy_rate == pytest.approx(0.0380, abs=5e-5)
    assert NavierStokes2D(NSConfig(n=16, forcing=[])).injection_rates() == (0.0, 0.0)
    e2, z2 = NavierStokes2D(NSConfig(n=32, eps=0.5, forcing=[(0, 3, "sin", 2.0)])).injection_rates()
    assert (e2, z2) == (pytest.approx(0.25 * 4 * 0.5 / 2 / 9), pytest.approx(0.25 * 4 * 0.5 / 2))


# ---- diagnostics and the operators ---------------------------------------------------------------------------
def test_diagnostics_of_taylor_green():
    x, y = grid(16)
    w = (2 * torch.cos(x) * torch.cos(y))[None]
    assert energy(w).item() == pytest.approx(0.25, abs=1e-14)  # ψ = cos x cos y, ⟨|v|²⟩ = ½
    assert enstrophy(w).item() == pytest.approx(0.5, abs=1e-14)
    assert palinstrophy(w).item() == pytest.approx(1.0, abs=1e-14)


def test_velocity_sign_convention_and_advection_term():
    n = 32
    x, y = grid(n)
    w = (torch.cos(x) + torch.cos(2 * y))[None]  # ψ = cos x + cos(2y)/4
    solver = NavierStokes2D(NSConfig(n=n))
    vel = solver.velocity(w)[0]
    torch.testing.assert_close(vel[0], -0.5 * torch.sin(2 * y), atol=1e-13, rtol=0)  # v_x = ∂_yψ
    torch.testing.assert_close(vel[1], torch.sin(x), atol=1e-13, rtol=0)  # v_y = −∂_xψ, so curl v = ω
    adv = solver.advection(w)[0]
    torch.testing.assert_close(adv, -1.5 * torch.sin(x) * torch.sin(2 * y), atol=1e-13, rtol=0)


# ---- deterministic solutions --------------------------------------------------------------------------------
@pytest.mark.parametrize("nu,alpha", [(1e-3, 0.1), (0.05, 0.0)])
def test_taylor_green_decays_exactly(nu, alpha):
    """ω₀ = 2cos x cos y (|k|² = 2) is a steady Euler solution; the full solver decays it at rate α + 2ν."""
    n, dt, steps = 32, 1e-2, 200
    x, y = grid(n)
    w0 = torch.stack([2 * torch.cos(x) * torch.cos(y), 2 * torch.sin(x) * torch.sin(y)])
    solver = NavierStokes2D(NSConfig(n=n, nu=nu, alpha=alpha, eps=0.0, dt=dt))
    assert solver.advection(w0).abs().max() < 1e-12
    w = solver.step(w0, steps=steps)
    exact = w0 * math.exp(-(alpha + 2 * nu) * steps * dt)
    assert (w - exact).abs().max() < 1e-10


def _band_limited(solver, batch, seed, rms=3.0):
    xi = torch.randn(batch, solver.config.n, solver.config.n, generator=gen(seed), dtype=F64)
    w = solver.to_physical(solver.to_spectral(xi))  # flat spectrum filling the 2/3 box
    return w * rms / w.square().mean((-2, -1), keepdim=True).sqrt()


def test_inviscid_conservation_third_order():
    """ν = α = ε = 0: the dealiased system conserves E and Z exactly; the stepper's drift is O(dt³)."""
    drift = {}
    for dt in (4e-3, 2e-3):
        solver = NavierStokes2D(NSConfig(n=32, nu=0.0, alpha=0.0, eps=0.0, dt=dt))
        w0 = _band_limited(solver, 2, seed=0)
        w = solver.step(w0, steps=round(1.0 / dt))
        assert (w - w0).abs().max() > 1.0  # the field really moved
        drift[dt] = max(((energy(w) / energy(w0)) - 1).abs().max().item(),
                        ((enstrophy(w) / enstrophy(w0)) - 1).abs().max().item())
    assert drift[2e-3] < 1e-6
    assert 2 ** 2.5 < drift[4e-3] / drift[2e-3] < 2 ** 3.5  # third order


# ---- stochastic checks --------------------------------------------------------------------------------------
def test_ornstein_uhlenbeck_variance_without_advection():
    """Advection off: every forced mode is an exact OU process, at any dt (here dt = 1)."""
    n, batch, eps, nu, alpha = 32, 4096, 0.7, 5e-3, 0.1
    forcing = [(6, 0, "sin", 1.5), (6, 0, "cos", 1.5), (5, 5, "sin"), (5, 5, "cos"), (8, 8, "sin", 0.5),
               (8, 8, "cos", 0.5), (0, 3, "cos"), (2, -7, "sin")]
    solver = NavierStokes2D(NSConfig(n=n, nu=nu, alpha=alpha, eps=eps, dt=1.0, forcing=forcing, advection=False))
    g = gen(3)
    w = torch.zeros(batch, n, n, dtype=F64)
    for t, steps in ((1.0, 1), (30.0, 29)):
        w = solver.step(w, g, steps=steps)
        power = torch.fft.fft2(w, norm="forward").abs().square().mean(0)  # E|ω̂_k|², full grid
        expected = torch.zeros(n, n, dtype=F64)
        for kx, ky, _, *amp in forcing:
            lam = alpha + nu * (kx * kx + ky * ky)
            var = eps ** 2 * (amp[0] if amp else 1.0) ** 2 * -math.expm1(-2 * lam * t) / (2 * lam)
            expected[kx % n, ky % n] += var / 4
            expected[-kx % n, -ky % n] += var / 4
        forced = expected > 0
        assert power[~forced].max() < 1e-20  # nothing else is excited
        ratio = power[forced] / expected[forced]  # each is a mean of 4096 exponentials: sd 1.6%
        assert (ratio - 1).abs().max() < 0.07, ratio
        assert ratio.mean().item() == pytest.approx(1.0, abs=0.02)  # √dt-Euler noise would be off by ~10%
        total = w.square().mean().item()
        assert total == pytest.approx(expected.sum().item(), rel=0.03)  # ⟨ω²⟩ = Σ_k E|ω̂_k|²


def test_paper_ou_total_variance():
    """Advection off, paper parameters: E⟨ω²⟩ = Σ_j 1/(4λ_j) = 12.56 (reference §2.6 item 3)."""
    cfg = NSConfig(n=32, dt=2.0, advection=False)
    lam = [0.1 + 1e-3 * k2 for k2 in (36, 49, 50, 128)]
    assert 2 * sum(1 / (4 * x) for x in lam) == pytest.approx(12.56, abs=0.01)
    w = NavierStokes2D(cfg).step(torch.zeros(2048, 32, 32, dtype=F64), gen(5), steps=40)
    assert w.square().mean().item() == pytest.approx(2 * sum(1 / (4 * x) for x in lam), rel=0.03)


def test_stationary_budgets_short():
    """Nonlinear stationary run at 32²: α⟨ω²⟩ + ν⟨|∇ω|²⟩ = 2 and α⟨|v|²⟩ + ν⟨ω²⟩ = 0.0380 in the mean.

    Short version (48 trajectories, t ∈ [10, 60], float32, dt = 0.02; standard error ≈ 1.2% for both);
    benchmarks/navier_stokes.py checks the same budgets on the small preset.
    """
    solver = NavierStokes2D(NSConfig(n=32, dt=0.02, dtype=torch.float32))
    g = gen(11)
    w0 = solver.initial_condition(48, g)
    inj_e, inj_z = solver.injection_rates()
    diss_e, diss_z = [], []
    for _, w in solver.simulate(w0, burn_in=10.0, snapshot_dt=0.5, n_snapshots=100, generator=g):
        e, z = solver.dissipation_rates(w)
        diss_e.append(e.mean().item())
        diss_z.append(z.mean().item())
    assert sum(diss_z) / len(diss_z) / inj_z == pytest.approx(1.0, abs=0.05)
    assert sum(diss_e) / len(diss_e) / inj_e == pytest.approx(1.0, abs=0.10)


# ---- API behaviour ----------------------------------------------------------------------------------------
def test_spectral_truncate_round_trip():
    n, m = 64, 32
    k = torch.fft.fftfreq(n, d=1.0 / n)
    band = (k.abs()[:, None] < m / 2) & (k.abs()[None, :] < m / 2)
    xi = torch.fft.fft2(torch.randn(3, n, n, generator=gen(0), dtype=F64)) * band
    w = torch.fft.ifft2(xi).real  # band-limited to |k_i| < m/2
    low = spectral_truncate(w, m)
    assert low.shape == (3, m, m) and low.dtype == F64
    # norm="forward": the kept coefficients are unchanged, so the low-resolution field samples the same function
    torch.testing.assert_close(low, w[:, ::2, ::2], atol=1e-12, rtol=0)
    coeff_hi = torch.fft.fft2(w, norm="forward")
    coeff_lo = torch.fft.fft2(low, norm="forward")
    for kx, ky in ((0, 1), (3, -5), (-15, 15), (7, 0)):
        assert torch.allclose(coeff_lo[:, kx % m, ky % m], coeff_hi[:, kx % n, ky % n], atol=1e-14)
    assert spectral_truncate(w, n) is w
    for bad in (65, 128, 31, 0):
        with pytest.raises(ConfigError):
            spectral_truncate(w, bad)


def test_determinism_and_step_equivalence():
    cfg = NSConfig(n=32, dt=1e-2)
    solver = NavierStokes2D(cfg)
    w0 = solver.initial_condition(3, gen(0))
    torch.testing.assert_close(w0, solver.initial_condition(3, gen(0)), atol=0, rtol=0)
    assert w0.square().mean().sqrt().item() == pytest.approx(3.0, rel=1e-12)
    a = solver.step(w0, gen(1), steps=20)
    b = solver.step(w0, gen(1), steps=20)
    c = solver.step(w0, gen(2), steps=20)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert (a - c).abs().max() > 1e-3
    g = gen(1)  # step-by-step in spectral form gives the same trajectory
    wh = solver.to_spectral(w0)
    for _ in range(20):
        wh = solver.step(wh, g)
    torch.testing.assert_close(solver.to_physical(wh), a, atol=1e-12, rtol=0)
    # simulate: snapshots at burn_in + i·snapshot_dt, the same random stream
    times, snaps, calls = [], [], []
    for t, w in solver.simulate(w0, burn_in=0.1, snapshot_dt=0.05, n_snapshots=2, generator=gen(1),
                                callback=lambda s, tot: calls.append((s, tot))):
        times.append(t)
        snaps.append(w)
    assert times == pytest.approx([0.15, 0.2], abs=1e-12)
    torch.testing.assert_close(snaps[1], a, atol=1e-12, rtol=0)
    assert calls[-1] == pytest.approx((0.2, 0.2)) and len(calls) == 4
    assert snaps[0].shape == (3, 32, 32) and snaps[0].dtype == F64


def test_float32_tracks_float64():
    w64 = NavierStokes2D(NSConfig(n=32, dt=1e-2, eps=0.0)).initial_condition(2, gen(0))
    s32 = NavierStokes2D(NSConfig(n=32, dt=1e-2, eps=0.0, dtype=torch.float32))
    s64 = NavierStokes2D(NSConfig(n=32, dt=1e-2, eps=0.0))
    a, b = s32.step(w64.float(), steps=100), s64.step(w64, steps=100)
    assert a.dtype == torch.float32
    assert (a.double() - b).abs().max() < 1e-4 * b.abs().max()


def test_float32_and_float64_share_the_noise():
    """The noise is drawn in float64 for both precisions: with a seed, a forced run in float32 tracks the
    float64 one to round-off (drawing it in the working precision would give another path entirely)."""
    paths = {}
    for dtype in (torch.float32, torch.float64):
        solver = NavierStokes2D(NSConfig(n=32, dt=1e-2, dtype=dtype))
        g = gen(4)
        w0 = solver.initial_condition(2, g)
        paths[dtype] = solver.step(w0, generator=g, steps=50).double()
    a, b = paths[torch.float32], paths[torch.float64]
    assert 0 < float((a - b).abs().max()) < 1e-5 * float(b.abs().max())


def test_float32_has_no_systematic_damping_error():
    """At dt = 1e-4 a float32 e^{−λdt} ≈ 1 − 1e−5 is rounded by up to 0.3% of λdt; the solver avoids that bias."""
    x, y = grid(16)
    w0 = (2 * torch.cos(x) * torch.cos(y))[None]
    solver = NavierStokes2D(NSConfig(n=16, forcing=[], dt=1e-4, dtype=torch.float32))
    w = solver.step(w0.float(), steps=2000).double()
    exact = w0 * math.exp(-(0.1 + 2e-3) * 0.2)
    assert (w - exact).abs().max() < 5e-6 * exact.abs().max()  # a rounded decay factor gives 1.3e-5 here


def test_guards_and_errors():
    solver = NavierStokes2D(NSConfig(n=32, dt=1.0))
    w0 = solver.initial_condition(2, gen(0))
    with pytest.raises(ConvergenceError) as err:
        solver.step(w0, gen(1))
    assert "CFL" in err.value.message and "dt" in err.value.hint
    bad = w0.clone()
    bad[0, 3, 4] = float("nan")
    with pytest.raises(ConvergenceError) as err:
        NavierStokes2D(NSConfig(n=32)).step(bad, gen(1))
    assert "non-finite" in err.value.message
    with pytest.raises(ConvergenceError):  # advection off: only the finiteness check applies
        NavierStokes2D(NSConfig(n=32, advection=False)).step(bad, gen(1))
    ok = NavierStokes2D(NSConfig(n=32, dt=1e-2))
    with pytest.raises(ConfigError):
        ok.simulate(w0, burn_in=0.105, snapshot_dt=0.5, n_snapshots=2)  # not a multiple of dt: raised eagerly
    with pytest.raises(ConfigError):
        ok.simulate(w0, burn_in=1.0, snapshot_dt=0.0, n_snapshots=2)
    with pytest.raises(ConfigError):
        ok.simulate(w0, burn_in=1.0, snapshot_dt=0.5, n_snapshots=0)
    with pytest.raises(ShapeError):
        ok.step(torch.zeros(2, 16, 16, dtype=F64))
    with pytest.raises(ShapeError):
        ok.step(torch.zeros(2, 32, 32, dtype=torch.complex128))
    with pytest.raises(ConfigError):
        ok.initial_condition(2, kind="vortex")
    assert ok.initial_condition(2, kind="zero").abs().max() == 0
