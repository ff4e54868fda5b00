"""`sictl gaussian-check --point-source` through the CLI, and the exact OU drift of `sictl prepare ou-pairs`
as a drift source (`sample --exact`): parse --json and compare with the closed forms."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from sictl.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: thread start-up costs more than the work on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["gaussian-check", "--point-source", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_point_source_json():
    out = run_json("--ou", "res=8,lag=0.5", "--schedules", "lin-beta,beta-t2", "--steps", "25,50")
    lam_total = out["target"]["forecast_variance"]
    assert out["target"]["kind"] == "ornstein-uhlenbeck" and out["target"]["grid"] == [8]
    assert lam_total == pytest.approx(1 - math.exp(-1.0), rel=1e-12)  # variance 1, θ = 1, τ = 0.5: 1 − e^{−2θτ}
    assert out["config"]["diffusions"] == ["sigma", "follmer", "const:1"] and out["config"]["t_min"] == 0.0
    for name, sched in out["schedules"].items():
        fp = sched["fingerprint"]
        assert abs(fp["follmer"]["total_rel"]) < 1e-10 and fp["follmer"]["max_abs_rel_per_mode"] < 1e-10
        assert abs(fp["sigma"]["total_rel"]) > 0.2 and abs(fp["const:1"]["total_rel"]) > 0.2
        assert sched["kl"]["follmer"] == pytest.approx(out["kl_follmer_closed_form"], rel=1e-10)
        assert sched["kl"]["follmer"] < min(sched["kl"]["sigma"], sched["kl"]["const:1"])
    assert out["schedules"]["beta-t2"]["follmer_g2"]["0"] == 3.0 and out["schedules"]["beta-t2"]["singular_at_0"]["follmer"]
    assert out["kl_follmer_spread_rel"] < 1e-10
    runs = {(r["schedule"], r["diffusion"], r["steps"]): r for r in out["runs"]}
    assert len(runs) == 12 and all(r["solver"] == "em" and r["nfe"] == r["steps"] for r in runs.values())
    for (name, g, steps), r in runs.items():
        if steps == 25:  # em is first order: the errors halve with the step
            fine = runs[(name, g, 50)]
            assert 1.8 < r["variance_error_total_rel"] / fine["variance_error_total_rel"] < 2.2
            assert abs(r["variance_error_total_rel"]) < 2 / 25
        if name == "lin-beta":  # α and β linear: em's mean path is exact
            assert r["mean_error_rel"] < 1e-12
        else:
            assert 0 < r["mean_error_rel"] < 2 / steps


def test_point_source_monte_carlo_and_zero_source():
    out = run_json("--ou", "res=8", "--schedules", "beta-t2", "--diffusion", "follmer", "--steps", "100",
                   "--source", "zero", "--monte-carlo", "800", "--seed", "3")
    r = out["runs"][0]
    assert r["mc_samples"] == 800 and r["mc_nfe"] == 100
    assert r["mc_mean_error_vs_em_rms"] < 4 * r["mc_mean_standard_error"]
    assert abs(r["mc_variance_error_total_rel"] - r["variance_error_total_rel"]) < 4 * r["mc_variance_standard_error_rel"]
    assert abs(r["mc_fingerprint_total_rel"]) < 0.1


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--ratio", "0.1"], "own target"),
        (["--ou", "res=8,bogus=1"], "bogus"),
        (["--ou", "res=8,lag=-1"], "lag"),
        (["--ou", "res=8", "--schedules", "linear"], "point-source schedules"),
        (["--ou", "res=8", "--diffusion", "optimal:2"], "diffusion"),
        (["--ou", "res=8", "--source", "last"], "--source"),
    ],
)
def test_point_source_bad_input(args, needle):
    result = runner.invoke(app, ["gaussian-check", "--point-source", *args])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Error: ") and needle in lines[0] and lines[1].startswith("Hint: "), result.stderr


def test_ou_pairs_dataset_is_an_exact_forecasting_source(tmp_path):
    """`prepare ou-pairs --lag` → `open_exact_source` → a point-source drift bound to the pairs' conditions;
    em with g_F reproduces the exact conditional law of the stored (normalised) pairs."""
    from sictl.core.interpolants.point_source import point_source_diffusion
    from sictl.core.interpolants.schedules import make_schedule
    from sictl.core.sampling.integrate import integrate
    from sictl.core.sampling.solvers import make_solver
    from sictl.io import read_dataset
    from sictl.pipeline.drift_sources import open_drift_source

    path = tmp_path / "ou.h5"
    result = runner.invoke(app, ["prepare", "ou-pairs", "--res", "8", "--n", "40", "--snapshots", "6", "--dt", "0.25",
                                 "--lag", "2", "--normalize", "rms", "-o", str(path), "--json"])
    assert result.exit_code == 0, result.output
    src = open_drift_source("exact", str(path))
    assert src.conditional and src.info["kind"] == "point-source" and src.sample_shape == (1, 8)
    assert src.info["lag_time"] == pytest.approx(0.5)
    ds = read_dataset(str(path))
    x0, _ = next(ds.iter_pairs(64))
    cond = torch.from_numpy(x0).to(torch.float64)[:1].expand(2000, 1, 8)
    schedule = make_schedule("beta-t2")
    drift = src.drift(schedule, cond)
    gen = torch.Generator().manual_seed(0)
    start = drift.sample_base(tuple(cond.shape), generator=gen, like=cond)
    out, nfe = integrate(drift, make_solver("em", diffusion=point_source_diffusion("follmer", schedule)), start,
                         torch.linspace(0, 1, 101, dtype=torch.float64), generator=gen)
    target = drift.target  # the exact law in stored units: Σ scaled by 1/c²
    lam_total = float(target.cov_power.sum())
    c = src.normalization_constant
    assert lam_total == pytest.approx((1 - math.exp(-1.0)) / c**2, rel=1e-12)
    mean_err = float((out.mean(0) - target.conditional_mean(cond[:1])[0]).pow(2).mean().sqrt())
    assert nfe == 100 and mean_err < 4 * math.sqrt(lam_total / 2000) + 0.02 * math.sqrt(lam_total)
    assert abs(float(out.var(0).mean()) / lam_total - 1) < 0.07
    with pytest.raises(Exception, match="current states"):
        src.drift(schedule)
