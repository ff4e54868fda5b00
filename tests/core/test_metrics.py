"""sictl.core.fields.metrics against closed forms, scipy and direct (slow) formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from sictl.core.exact.gmm import GaussianMixture
from sictl.core.fields import metrics as M
from sictl.core.fields.spectra import matern_power


def _matern_fields(n: int, size: int, dim: int, seed: int) -> np.ndarray:
    """The authors' construction (reference/data_and_metrics.md §4), E|û_k|² = S(k) exactly."""
    rng = np.random.default_rng(seed)
    s = matern_power(size, dim).numpy()
    shape = (n, *([size] * dim))
    c = np.sqrt(s) * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    return np.fft.ifftn(c, axes=tuple(range(1, dim + 1)), norm="forward").real[:, None]


def test_shell_spectra_of_exact_power_are_the_reference_values():
    k, e = M.shell_spectra(matern_power(128, 2)[None], 2)
    assert k[:2].tolist() == [1.0, 2.0]
    assert e[0, 0] == pytest.approx(3.549211, rel=1e-6)  # scale_adaptive.md §10.1 T5
    assert e[0, 1] == pytest.approx(0.1403837, rel=1e-6)
    assert e[0, -1] == pytest.approx(6.323196e-9, rel=1e-6)
    # energy variant: P/|k|² before binning; at κ = 1 every mode has |k| ∈ [1, 1.5)
    _, en = M.shell_spectra(matern_power(16, 2)[None], 2, "energy")
    assert en[0, 0] < e[0, 0] and en[0, 0] > e[0, 0] / 2.25


def test_monte_carlo_spectrum_within_five_sd():
    x = _matern_fields(400, 32, 2, seed=1)
    power = M.channel_power(torch.from_numpy(x), 2)
    _, e = M.shell_spectra(power, 2)
    _, ref = M.shell_spectra(matern_power(32, 2)[None], 2)
    summary, rel = M.spectral_errors(e, ref)
    counts = torch.bincount(torch.floor(torch.sqrt(torch.tensor(
        [[a * a + b * b for b in np.fft.fftfreq(32, 1 / 32)] for a in np.fft.fftfreq(32, 1 / 32)])) + 0.5).long().flatten())
    sd = 1 / torch.sqrt(400 * counts[1:17].double() / 2)
    assert bool((rel[0] < 5 * sd).all())
    assert summary["relative_error_max"] == pytest.approx(float(rel.max()))
    assert set(summary["bands"]) == {"low", "mid", "high"}


def test_band_indices_are_contiguous_thirds():
    b = M.band_indices(32)
    assert b["low"].tolist() == list(range(11)) and b["mid"].tolist() == list(range(11, 22))
    assert b["high"].tolist() == list(range(22, 32))


def test_spectral_errors_summaries_exact():
    ref = torch.tensor([[1.0, 2.0, 4.0, 8.0, 16.0, 32.0]])
    gen = ref * torch.tensor([1.1, 0.9, 1.0, 1.5, 1.0, 2.0])
    s, rel = M.spectral_errors(gen, ref)
    assert rel[0].tolist() == pytest.approx([0.1, 0.1, 0.0, 0.5, 0.0, 1.0])
    assert s["relative_error_mean"] == pytest.approx(1.7 / 6)
    assert s["relative_error_max"] == pytest.approx(1.0)
    assert s["bands"] == pytest.approx({"low": 0.1, "mid": 0.25, "high": 0.5})


@pytest.mark.parametrize("na, nb", [(500, 500), (300, 700), (1000, 17)])
def test_wasserstein_1d_is_exact(na, nb):
    rng = np.random.default_rng(na + nb)
    a, b = rng.standard_normal(na), 0.5 + 2 * rng.standard_normal(nb)
    assert M.wasserstein_1d(a, b) == pytest.approx(scipy.stats.wasserstein_distance(a, b), rel=1e-10)


def test_sliced_wasserstein_known_shift_and_sizes():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    shift = torch.tensor([3.0, 0.0, 0.0], dtype=torch.float64)
    # SW2² of a pure shift = E_θ (θ·Δ)² = |Δ|²/d; sampling noise is small at n = 4000
    sw = M.sliced_wasserstein(x, x + shift, 400, torch.Generator().manual_seed(1))
    assert sw == pytest.approx(3 / math.sqrt(3), rel=0.08)
    sw2 = M.sliced_wasserstein(x[:1000], x[1000:3500] + shift, 400, torch.Generator().manual_seed(1))
    assert sw2 == pytest.approx(3 / math.sqrt(3), rel=0.1)


def test_mmd_small_for_same_law_large_for_shift():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(400, 5, generator=g), torch.randn(400, 5, generator=g)
    same = M.mmd_rbf(x, y, 400, g)
    moved = M.mmd_rbf(x, y + 1.0, 400, g)
    assert abs(same["mmd2"]) < 0.01 and moved["mmd2"] > 0.05
    assert same["samples"] == 400 and same["bandwidth"] > 0


def test_radial_correlation_matches_direct_average():
    x = _matern_fields(50, 16, 2, seed=3)
    power = M.channel_power(torch.from_numpy(x), 2)[0]
    m = float(x.mean())
    r, c = M.radial_correlation(power, m, 2)
    xc = x[:, 0] - m
    direct0 = float((xc * xc).mean())
    # ring 1 holds |r| ∈ [½, 3/2): the four axis neighbours and the four diagonal ones
    shifts = [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0)]
    direct1 = np.mean([(xc * np.roll(xc, s, axis=(1, 2))).mean() for s in shifts])
    assert r[:2].tolist() == [0.0, 1.0]
    assert float(c[0]) == pytest.approx(direct0, rel=1e-10)
    assert float(c[1]) == pytest.approx(direct1, rel=1e-10)


def test_moment_errors_zero_for_identical_sets():
    x = np.random.default_rng(4).standard_normal((100, 1, 8, 8))
    s, fields = M.moment_errors(x, x)
    assert s["mean_error"] == 0 and s["std_error"] == 0 and s["norm_error"] == 0
    assert fields["mean"].shape == (1, 8, 8)


def test_mode_weights_by_mixture_and_by_principal_axis():
    mix = GaussianMixture.two_mode(10.0, 0.3, dim=2)
    g = torch.Generator().manual_seed(5)
    x = mix.sample(20000, generator=g)
    w = M.mixture_mode_weights(x, mix)
    assert w.tolist() == pytest.approx([0.3, 0.7], abs=0.015)
    res = M.principal_mode_weights(x[:5000], mix.sample(5000, generator=g))
    # sides are ordered along the principal axis (whose sign is arbitrary): compare as a set
    assert sorted(res["weights"].tolist()) == pytest.approx([0.3, 0.7], abs=0.02)
    assert sorted(res["reference_weights"].tolist()) == pytest.approx([0.3, 0.7], abs=0.02)


def test_nonfinite_rows_counts_samples_not_values():
    x = np.zeros((5, 1, 4, 4))
    x[1, 0, 0, 0] = np.nan
    x[3, 0, 1, :] = np.inf
    assert M.nonfinite_rows(x).tolist() == [False, True, False, True, False]
