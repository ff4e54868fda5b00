"""Tests for sictl.core.fields.spectra and the Fourier-diagonal Gaussian drift (drifts.FourierGaussianDrift).

Check values: SPEC §1 (FFT norm="forward", Parseval), reference/scale_adaptive.md §1.2-1.3, §4.1 and §10.1
(T1-T5), reference/lipschitz.md §7 item 16.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from sictl.core.exact.drifts import DiagonalGaussianDrift, FourierGaussianDrift
from sictl.core.exact.gaussian import generated_variance
from sictl.core.fields.spectra import (
    matern_default_sigma2,
    matern_power,
    mode_power,
    shell_index,
    shell_mean,
    shell_spectrum,
    wavenumber_norm,
)
from sictl.core.interpolants.schedules import Designed, Linear, Trig
from sictl.core.sampling.grids import time_grid
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import make_solver
from sictl.errors import ConfigError

F64 = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ---- FFT conventions -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 64), (3, 16, 16), (2, 8, 8, 8)])
def test_parseval_forward_norm(shape):
    x = torch.randn(*shape, generator=gen(0), dtype=F64)
    dims = tuple(range(1, len(shape)))
    xh = torch.fft.fftn(x, dim=dims, norm="forward")
    lhs = (x**2).mean(dim=dims)
    rhs = (xh.abs() ** 2).sum(dim=dims)
    assert torch.allclose(lhs, rhs, rtol=1e-12, atol=0)
    # mode_power averages |x̂_k|² over the samples, so it sums to the mean square of all pixels
    p = mode_power(x, len(shape) - 1)
    assert p.shape == shape[1:]
    assert abs(float(p.sum()) - float((x**2).mean())) <= 1e-12 * float((x**2).mean())
    assert torch.allclose(p, (xh.abs() ** 2).mean(0), rtol=1e-12, atol=0)


def test_mode_power_of_a_single_cosine():
    """x = A cos(2π k0 n/N): |x̂_{±k0}|² = A²/4 in the forward normalisation."""
    n, k0, amp = 32, 3, 2.0
    x = amp * torch.cos(2 * math.pi * k0 * torch.arange(n, dtype=F64) / n)
    p = mode_power(x[None], 1)
    expected = torch.zeros(n, dtype=F64)
    expected[k0] = expected[-k0] = amp**2 / 4
    assert torch.allclose(p, expected, rtol=0, atol=1e-14)


def test_wavenumber_norm():
    assert torch.equal(wavenumber_norm(8, 1), torch.tensor([0, 1, 2, 3, 4, 3, 2, 1], dtype=F64))
    k2 = wavenumber_norm(6, 2)
    assert k2.shape == (6, 6)
    ints = [0, 1, 2, -3, -2, -1]
    for i, j in itertools.product(range(6), range(6)):
        assert abs(float(k2[i, j]) - math.hypot(ints[i], ints[j])) <= 1e-15
    assert wavenumber_norm(4, 3).shape == (4, 4, 4)


# ---- shells ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [8, 16, 33])
def test_shell_index_against_brute_force(n):
    idx = shell_index(n, 2)
    ints = [k if k < n - n // 2 else k - n for k in range(n)]  # fftfreq · n
    for i, j in itertools.product(range(n), range(n)):
        r = math.hypot(ints[i], ints[j])
        kappa = math.floor(r + 0.5)
        expected = kappa if 1 <= kappa <= n // 2 else -1
        assert int(idx[i, j]) == expected, (i, j)
    assert int((idx == 1).sum()) == 8  # κ = 1: (±1, 0), (0, ±1), (±1, ±1)


def test_shell_index_1d_is_abs_k():
    idx = shell_index(8, 1)
    assert idx.tolist() == [-1, 1, 2, 3, 4, 3, 2, 1]


@pytest.mark.parametrize(("n", "dim"), [(16, 1), (16, 2), (12, 2), (8, 3)])
def test_shell_mean_of_a_constant_is_the_constant(n, dim):
    values = torch.full((n,) * dim, 3.25, dtype=F64)
    out = shell_mean(values, n, dim)
    assert out.shape == (n // 2,)
    assert torch.allclose(out, torch.full((n // 2,), 3.25, dtype=F64), rtol=1e-15, atol=0)
    batched = torch.stack([values, 2 * values])
    assert torch.allclose(
        shell_mean(batched, n, dim),
        torch.tensor([[3.25], [6.5]], dtype=F64).expand(2, n // 2),
        rtol=1e-15,
        atol=0,
    )


def test_shell_mean_is_the_mean_over_each_annulus():
    n = 16
    values = torch.randn(n, n, generator=gen(1), dtype=F64)
    idx = shell_index(n, 2)
    out = shell_mean(values, n, 2)
    for kappa in range(1, n // 2 + 1):
        assert abs(float(out[kappa - 1]) - float(values[idx == kappa].mean())) <= 1e-14


def test_shell_spectrum_factors():
    n = 16
    ones = torch.ones(n, n, dtype=F64)
    kappa = torch.arange(1, n // 2 + 1, dtype=F64)
    assert torch.allclose(shell_spectrum(ones, n, 2), 2 * math.pi * kappa, rtol=1e-15, atol=0)
    assert torch.allclose(
        shell_spectrum(torch.ones(8, 8, 8, dtype=F64), 8, 3),
        4 * math.pi * torch.arange(1, 5, dtype=F64) ** 2,
        rtol=1e-15,
        atol=0,
    )
    p1 = torch.arange(n, dtype=F64)  # 1-D: the mean of the ±k entries
    expected = torch.tensor(
        [(p1[k] + p1[-k]) / 2 if k < n // 2 else p1[k] for k in range(1, n // 2 + 1)], dtype=F64
    )
    assert torch.allclose(shell_spectrum(p1, n, 1), expected, rtol=1e-15, atol=0)


def test_white_noise_shell_spectrum_expectation():
    """T3: per-pixel N(0, σ²) on N×N has E|x̂_k|² = σ²/N², so E(κ) = 2πκσ²/N² exactly."""
    n, sigma = 32, 10.0
    kappa = torch.arange(1, n // 2 + 1, dtype=F64)
    per_mode = torch.full((n, n), sigma**2 / n**2, dtype=F64)
    assert torch.allclose(
        shell_spectrum(per_mode, n, 2), 2 * math.pi * kappa * sigma**2 / n**2, rtol=1e-14, atol=0
    )
    # and white noise samples reproduce it (1000 samples; per-shell tolerance 5/sqrt(M n_κ/2))
    m = 1000
    x = sigma * torch.randn(m, n, n, generator=gen(2), dtype=F64)
    est = shell_spectrum(mode_power(x, 2), n, 2)
    counts = torch.bincount(shell_index(n, 2).flatten()[shell_index(n, 2).flatten() > 0])[1:].to(F64)
    tol = 5 / torch.sqrt(m * counts / 2)
    assert bool(((est / (2 * math.pi * kappa * sigma**2 / n**2) - 1).abs() <= tol).all())


# ---- Matérn spectrum (T5) ----------------------------------------------------------------------------------------------
def test_matern_normalisation():
    assert abs(matern_default_sigma2(3, 1.0) - (4 * math.pi**2 + 1) ** 3) <= 1e-9
    for n, dim in ((32, 1), (32, 2), (8, 3)):
        s = matern_power(n, dim)
        k = wavenumber_norm(n, dim)
        assert float(s.flatten()[0]) == 0.0
        assert torch.allclose(s[k == 1], torch.ones_like(s[k == 1]), rtol=1e-13, atol=0)


def test_matern_formula():
    n, s_, ell, sig2 = 16, 2.5, 0.7, 3.0
    p = matern_power(n, 2, s=s_, ell=ell, sigma2=sig2)
    ints = [k if k < n // 2 else k - n for k in range(n)]
    for i, j in [(0, 1), (3, 5), (8, 8), (15, 2)]:
        k2 = ints[i] ** 2 + ints[j] ** 2
        assert (
            abs(float(p[i, j]) - sig2 * (4 * math.pi**2 * k2 + ell**2) ** (-s_))
            <= 1e-15 * float(p[i, j]) + 1e-300
        )


@pytest.mark.parametrize(
    ("n", "kappa", "expected"),
    [
        (32, 1, 3.549211),
        (32, 2, 0.1403837),
        (32, 16, 6.585976e-6),
        (64, 1, 3.549211),
        (64, 32, 2.023158e-7),
        (128, 64, 6.323196e-9),
        (128, 2, 0.1403837),
    ],
)
def test_matern_shell_spectrum_values(n, kappa, expected):
    e = shell_spectrum(matern_power(n, 2), n, 2)
    assert abs(float(e[kappa - 1]) - expected) <= 1e-6 * expected


@pytest.mark.parametrize(
    ("n", "dim", "s", "ell"), [(1, 2, 3.0, 1.0), (8, 4, 3.0, 1.0), (8, 2, 0.0, 1.0), (8, 2, 3.0, -1.0)]
)
def test_matern_rejects_bad_parameters(n, dim, s, ell):
    with pytest.raises(ConfigError):
        matern_power(n, dim, s=s, ell=ell)


# ---- coloured base noise (T2) -------------------------------------------------------------------------------------------
def test_sample_base_has_the_base_spectrum_2d():
    n, m = 16, 2000
    s0 = matern_power(n, 2, s=1.0)  # an AC-like smooth base (mean mode 0)
    drift = FourierGaussianDrift(Linear(), matern_power(n, 2), s0)
    z = drift.sample_base((m, n, n), generator=gen(3), like=torch.empty(0, dtype=F64))
    assert z.shape == (m, n, n) and z.dtype == F64 and not z.is_complex()
    est = shell_mean(mode_power(z, 2), n, 2)
    truth = shell_mean(s0, n, 2)
    idx = shell_index(n, 2).flatten()
    counts = torch.bincount(idx[idx > 0])[1:].to(F64)
    tol = 5 / torch.sqrt(m * counts / 2)
    assert bool(((est / truth - 1).abs() <= tol).all()), (est / truth - 1, tol)
    # pointwise variance Σ_k S0_k: per-sample mean square has s.d. sqrt(2 Σ S0²/M)
    total = float(s0.sum())
    assert abs(float((z**2).mean()) - total) <= 5 * math.sqrt(2 * float((s0**2).sum()) / m)


def test_sample_base_white_unit_per_mode_1d_includes_nyquist():
    """lipschitz.md §7 item 16: S ≡ 1 gives E|x̂_k|² = 1 for every k (Nyquist too) and pixel variance N."""
    n, m = 32, 4000
    drift = FourierGaussianDrift(Trig(), torch.ones(n, dtype=F64), 1.0)
    z = drift.sample_base((m, n), generator=gen(4), like=torch.empty(0, dtype=F64))
    p = mode_power(z, 1)
    # |ẑ_k|² ~ Exp(1) for paired modes (s.d. 1/√M), χ²₁ for k = 0 and N/2 (s.d. √2/√M)
    assert bool(((p - 1).abs() <= 5 * math.sqrt(2 / m)).all()), p
    assert abs(float(z.var()) / n - 1) <= 5 * math.sqrt(2 * n / (m * n))


@pytest.mark.parametrize("mean_power", [0.0, 1.0, 4.0])
def test_white_base_shortcut_is_the_filtered_draw(mean_power):
    """A base white on every mode but k = 0 skips the transforms; the draw equals the filtered one exactly
    (same white numbers, same field up to round-off), with the mean mode at its own power."""
    n = 16
    s0 = torch.full((n, n), 0.25, dtype=F64)
    s0[0, 0] = mean_power
    drift = FourierGaussianDrift(Linear(), matern_power(n, 2), s0)
    assert drift.base._white is not None
    like = torch.empty(0, dtype=F64)
    fast = drift.sample_base((64, n, n), generator=gen(6), like=like)
    drift.base._white = None  # force the general (filtered) path
    filtered = drift.sample_base((64, n, n), generator=gen(6), like=like)
    assert torch.allclose(fast, filtered, rtol=0, atol=1e-12 * float(filtered.abs().max()))
    coloured = FourierGaussianDrift(Linear(), matern_power(n, 2), matern_power(n, 2, s=1.0))
    assert coloured.base._white is None


def test_sample_base_same_generator_same_noise():
    drift = FourierGaussianDrift(Linear(), matern_power(8, 2), 1.0)
    like = torch.empty(0, dtype=F64)
    a = drift.sample_base((3, 8, 8), generator=gen(5), like=like)
    b = drift.sample_base((3, 8, 8), generator=gen(5), like=like)
    assert torch.equal(a, b)


# ---- Fourier-diagonal drift -----------------------------------------------------------------------------------------------
SCHEDS = {"linear": Linear(), "trig": Trig(), "designed": Designed(1e-4)}


@pytest.mark.parametrize("name", list(SCHEDS))
@pytest.mark.parametrize("white", [True, False])
def test_fourier_drift_is_the_per_mode_rate_in_fourier_space(name, white):
    n = 16
    sched = SCHEDS[name]
    s1 = matern_power(n, 2)
    s0 = 1.0 if white else matern_power(n, 2, s=1.0)
    drift = FourierGaussianDrift(sched, s1, s0)
    x = torch.randn(3, n, n, generator=gen(6), dtype=F64)
    xh = torch.fft.fftn(x, dim=(-2, -1), norm="forward")
    # compare on the modes with positive base power (the mean mode of a coloured base has none)
    base = torch.as_tensor(s0, dtype=F64).expand(n, n)
    keep = base > 0
    diag = DiagonalGaussianDrift(sched, s1[keep], base[keep])
    for t in (1e-3, 0.2, 0.5, 0.9, 0.999):
        out = drift.velocity(t, x)
        assert out.dtype == F64 and not out.is_complex()
        bh = torch.fft.fftn(out, dim=(-2, -1), norm="forward")
        expected = diag.velocity(t, xh[:, keep])
        scale = float(expected.abs().max())
        assert float((bh[:, keep] - expected).abs().max()) <= 1e-12 * scale
        assert torch.allclose(drift.rate(t)[keep], diag.rate(t), rtol=1e-13, atol=0)


def test_fourier_drift_leaves_an_empty_mean_mode_alone():
    n = 8
    s = matern_power(n, 2)  # S[0] = 0 in base and target
    drift = FourierGaussianDrift(Trig(), s, s)
    assert float(drift.rate(0.3).flatten()[0]) == 0.0
    x = torch.full((1, n, n), 2.0, dtype=F64)  # a pure mean field
    assert float(drift.velocity(0.3, x).abs().max()) <= 1e-15


def test_matched_base_and_target_under_vp_schedule_gives_zero_drift():
    n = 8
    s = matern_power(n, 2)
    drift = FourierGaussianDrift(Designed(0.01), s, s)
    x = torch.randn(2, n, n, generator=gen(7), dtype=F64)
    assert float(drift.velocity(0.4, x).abs().max()) <= 1e-14


def test_integrated_fourier_drift_has_the_exact_per_mode_gain():
    """rk4-38 on the field: x̂_k(1) = G_k ẑ_k with G_k² the generated/base variance ratio of that mode."""
    n = 16
    s1 = matern_power(n, 2).clone()
    s1.view(-1)[0] = 1.0
    drift = FourierGaussianDrift(Designed(float(s1[n // 2, n // 2])), s1, 1.0)
    ts = time_grid("uniform", 9, 1e-4, 1 - 1e-4)
    z = drift.sample_base((2, n, n), generator=gen(8), like=torch.empty(0, dtype=F64))
    out = integrate(drift, make_solver("rk4-38"), z, ts)
    assert out.nfe == 36
    var, _ = generated_variance(make_solver("rk4-38"), drift.schedule, s1.flatten(), ts, 1.0)
    g = var.reshape(n, n).sqrt()  # gains are positive for this grid
    zh = torch.fft.fftn(z, dim=(-2, -1), norm="forward")
    xh = torch.fft.fftn(out.x, dim=(-2, -1), norm="forward")
    assert float((xh - g * zh).abs().max()) <= 1e-12 * float(zh.abs().max())
