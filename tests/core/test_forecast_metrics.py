"""Forecast scores (sictl.core.fields.forecast_metrics): against scoringrules, closed forms, and the
acceptance test of the forecasting issue on an exact Ornstein–Uhlenbeck conditional."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scoringrules as sr
import torch
from scipy.stats import chi2

from sictl.core.fields import forecast_metrics as F
from sictl.core.fields.spectra import gaussian_field, matern_power
from sictl.errors import ShapeError


def test_fair_crps_and_energy_score_match_scoringrules_to_1e10():
    rng = np.random.default_rng(0)
    for members in (2, 3, 8, 31):
        fct, obs = rng.normal(size=(6, members, 3, 5)), rng.normal(size=(6, 3, 5))
        ours = F.crps_fair(obs, fct)
        assert ours.shape == obs.shape
        np.testing.assert_allclose(ours, sr.crps_ensemble(obs, np.moveaxis(fct, 1, -1), estimator="fair"), rtol=0, atol=1e-10)
        es = sr.es_ensemble(obs.reshape(6, -1), fct.reshape(6, members, -1), estimator="fair")
        np.testing.assert_allclose(F.energy_score_fair(obs, fct), es, rtol=0, atol=1e-10)
    # ties among members and with the truth
    fct, obs = np.round(rng.normal(size=(50, 5, 4))), np.round(rng.normal(size=(50, 4)))
    np.testing.assert_allclose(F.crps_fair(obs, fct), sr.crps_ensemble(obs, np.moveaxis(fct, 1, -1), estimator="fair"),
                               rtol=0, atol=1e-10)
    # the Gaussian closed form is the library's
    y = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(F.crps_gaussian(y, 0.3, 1.7), sr.crps_normal(y, 0.3, 1.7), rtol=0, atol=1e-12)
    assert F.crps_gaussian(0.0, 0.0, 1.0) == pytest.approx(0.2336949772, abs=1e-10)  # (√2 − 1)/√π
    with pytest.raises(ShapeError, match="at least 2 members"):
        F.crps_fair(obs, fct[:, :1])


def test_crps_of_a_large_gaussian_ensemble_is_the_closed_form():
    """The fair estimator is unbiased for the CRPS of the law the members come from."""
    members, mu, sigma = 20000, 0.4, 1.3
    x = np.random.default_rng(1).normal(mu, sigma, size=members)
    for y in (-2.0, 0.0, 0.4, 3.0):
        est = float(F.crps_fair(np.array([y]), x[None, :])[0])
        tol = 5 * np.abs(x - y).std() / math.sqrt(members)  # Monte Carlo: dominated by the E|X − y| term
        assert est == pytest.approx(float(F.crps_gaussian(y, mu, sigma)), abs=tol)


def _ou_conditional(n: int, members: int, size: int, leads: int, a: float, scales=(1.0,), seed: int = 0):
    """Truth and ensembles drawn from the exact OU conditional x_ℓ | x0 ~ N(a^ℓ x0, (1 − a^{2ℓ}) Σ),
    Σ Fourier-diagonal (a Matérn spectrum, unit pointwise variance); each ensemble's covariance is
    multiplied by ``scale`` (1 = the truth's own law). The same noise is reused across scales."""
    g = torch.Generator().manual_seed(seed)
    power = matern_power(size, 2, s=1.5)
    power = power / power.sum()
    x0 = gaussian_field(power, n, generator=g).numpy()
    truth, noise = [], []
    for lead in range(1, leads + 1):
        sd = math.sqrt(1 - a ** (2 * lead))
        truth.append(a**lead * x0 + sd * gaussian_field(power, n, generator=g).numpy())
        noise.append(sd * gaussian_field(power, n * members, generator=g).numpy().reshape(n, members, size, size))
    obs = np.stack(truth, 1)  # (n, L, x, y)
    fcts = {s: np.stack([a ** (i + 1) * x0[:, None] + math.sqrt(s) * z for i, z in enumerate(noise)], 2) for s in scales}
    return obs, fcts  # fct: (n, M, L, x, y)


def test_calibrated_ensemble_beats_misscaled_ones():
    """Acceptance: the truth's own law has lower CRPS than variance ×2 and ×½, spread–skill ≈ 1 within
    3 standard errors, and a flat rank histogram (χ² below its 0.999 quantile)."""
    n, members, a = 1500, 8, 0.6
    obs, fcts = _ou_conditional(n, members, 8, 2, a, scales=(1.0, 2.0, 0.5))
    rng = np.random.default_rng(0)
    limit = chi2.ppf(0.999, members)  # 26.1; the N = n points at one pixel are independent
    for lead in range(2):
        y = obs[:, lead]
        crps = {s: F.crps_fair(y, f[:, :, lead]).reshape(n, -1).mean(1) for s, f in fcts.items()}
        # CRPS of the truth's own law: σ/√π per point, σ² = 1 − a^{2ℓ}
        sd = math.sqrt(1 - a ** (2 * (lead + 1)))
        assert crps[1.0].mean() == pytest.approx(sd / math.sqrt(math.pi), abs=4 * crps[1.0].std() / math.sqrt(n))
        for s in (2.0, 0.5):
            diff = crps[s] - crps[1.0]  # paired: the same truth
            assert diff.mean() > 4 * diff.std() / math.sqrt(n), (lead, s)
        ssr = {}
        for s, f in fcts.items():
            mse, var = F.mse_and_variance(y, f[:, :, lead])
            ssr[s] = F.spread_skill(mse, var, members)
        assert abs(ssr[1.0]["ratio"] - 1) < 3 * ssr[1.0]["ratio_se"] and ssr[1.0]["ratio_se"] < 0.02
        assert ssr[2.0]["ratio"] > 1 + 10 * ssr[2.0]["ratio_se"] and ssr[0.5]["ratio"] < 1 - 10 * ssr[0.5]["ratio_se"]
        flat = {s: F.rank_flatness(F.rank_counts(y[:, 0, 0], f[:, :, lead, 0, 0], rng)) for s, f in fcts.items()}
        assert flat[1.0]["chi2"] < limit and flat[1.0]["dof"] == members
        assert flat[2.0]["chi2"] > limit and flat[0.5]["chi2"] > limit


def test_spread_skill_uses_field_means_and_the_finite_ensemble_factor():
    obs = np.zeros((2, 4))
    fct = np.array([[[1.0, 1, 1, 1], [-1, -1, -1, -1], [3, 3, 3, 3]], [[0, 0, 0, 0], [2, 2, 2, 2], [1, 1, 1, 1]]])
    mse, var = F.mse_and_variance(obs, fct)
    np.testing.assert_allclose(mse, [1.0, 1.0])
    np.testing.assert_allclose(var, [4.0, 1.0])
    out = F.spread_skill(mse, var, 3)
    assert out["rmse"] == 1.0 and out["spread"] == pytest.approx(math.sqrt(2.5))
    assert out["ratio"] == pytest.approx(math.sqrt(4 / 3) * math.sqrt(2.5))
    assert math.isnan(F.spread_skill(mse[:1], var[:1], 3)["ratio_se"])


def test_rank_counts_break_ties_uniformly():
    obs = np.zeros(40000)
    fct = np.zeros((40000, 4))  # every member ties with the truth: ranks uniform on 0..4
    counts = F.rank_counts(obs, fct, np.random.default_rng(0))
    assert counts.sum() == 40000 and F.rank_flatness(counts)["chi2"] < chi2.ppf(0.999, 4)
    below = F.rank_counts(np.full(3, 10.0), np.zeros((3, 4)), np.random.default_rng(0))
    assert below.tolist() == [0, 0, 0, 0, 3]


def test_kl_of_kernel_density_estimates():
    from scipy.stats import gaussian_kde

    rng = np.random.default_rng(2)
    p, q = rng.normal(0, 1, 20000), rng.normal(0.5, 1.5, 20000)
    exact = math.log(1.5) + (1 + 0.25) / (2 * 1.5**2) - 0.5  # KL(N(0,1) ‖ N(0.5, 1.5²)) = 0.1832
    assert F.kl_kde(p, q) == pytest.approx(exact, abs=0.015)
    assert F.kl_kde(p, rng.normal(0, 1, 20000)) < 0.005
    assert math.isnan(F.kl_kde(np.ones(10), q))
    # the binned estimate is scipy's Gaussian KDE (Scott's rule) on the same grid
    p, q = p[:300], q[:200]
    kp, kq = gaussian_kde(p), gaussian_kde(q)
    pad = 4 * math.sqrt(max(kp.covariance[0, 0], kq.covariance[0, 0]))
    grid = np.linspace(min(p.min(), q.min()) - pad, max(p.max(), q.max()) + pad, 2048)
    dp, dq = kp(grid), kq(grid)
    dp, dq = dp / np.trapezoid(dp, grid), dq / np.trapezoid(dq, grid)
    assert F.kl_kde(p, q) == pytest.approx(np.trapezoid(dp * np.log(dp / dq), grid), rel=1e-4)


def test_autocorrelation_of_an_ou_rollout_and_streaming():
    a, n = 0.6, 4000
    rng = np.random.default_rng(3)
    x = [rng.normal(size=(n, 1, 4, 4))]
    for _ in range(3):
        x.append(a * x[-1] + math.sqrt(1 - a * a) * rng.normal(size=x[-1].shape))
    x = np.stack(x, 1)  # (n, L, C, x, y)
    whole = F.PixelCorrelation()
    whole.update(x)
    parts = F.PixelCorrelation()
    for i in range(0, n, 999):
        parts.update(x[i : i + 999])
    np.testing.assert_allclose(parts.result(), whole.result(), rtol=1e-10)
    np.testing.assert_allclose(whole.result(), a ** np.arange(4), atol=0.02)


def test_field_totals():
    from sictl.core.simulators.navier_stokes import energy, enstrophy

    w = np.random.default_rng(4).normal(size=(3, 2, 1, 8, 8))
    t = F.field_totals(w, 2, vorticity=True)
    np.testing.assert_allclose(t["enstrophy"], 0.5 * (w[:, :, 0] ** 2).mean((-2, -1)), rtol=1e-12)
    np.testing.assert_allclose(t["energy"], energy(torch.from_numpy(w[:, :, 0])).numpy(), rtol=1e-12)
    assert np.allclose(t["enstrophy"], enstrophy(torch.from_numpy(w[:, :, 0])).numpy())
    two = np.concatenate([w, 2 * w], 2)
    np.testing.assert_allclose(F.field_totals(two, 2, vorticity=False)["square"], 5 * t["enstrophy"], rtol=1e-12)
    with pytest.raises(ShapeError, match="one channel"):
        F.field_totals(two, 2, vorticity=True)
