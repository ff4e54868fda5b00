"""`sictl evaluate FORECASTS --truth TRUTH`: ensemble forecasts from any array file, scored per lead."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sictl.cli.app import app
from sictl.core.fields.spectra import gaussian_field, matern_power

runner = CliRunner()
LAYOUT = ["--layout", "condition member lead x y", "--truth-layout", "condition lead x y"]
A = 0.6


def ou_rollouts(n: int, members: int, leads: int, size: int, seed: int = 0):
    """Truth (n, L, x, y) and forecasts (n, M, L, x, y): independent rollouts of one stationary OU
    process x_{k+1} = a x_k + √(1 − a²) η, η a Matérn field of unit pointwise variance, from shared x0."""
    g = torch.Generator().manual_seed(seed)
    power = matern_power(size, 2, s=1.5)
    power = power / power.sum()
    x0 = gaussian_field(power, n, generator=g)

    def roll(m):
        x, out = x0[:, None].expand(n, m, size, size), []
        for _ in range(leads):
            x = A * x + math.sqrt(1 - A * A) * gaussian_field(power, n * m, generator=g).reshape(n, m, size, size)
            out.append(x)
        return torch.stack(out, 2).numpy().astype(np.float32)

    return roll(1)[:, 0], roll(members)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("fc")
    truth, fct = ou_rollouts(120, 8, 3, 16)
    np.save(d / "truth.npy", truth)
    np.save(d / "fc.npy", fct)
    return d, truth, fct


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["evaluate", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_foreign_npy_forecasts_scored_per_lead_with_report_and_plots(files):
    d = files[0]
    report, plots = d / "report.h5", d / "figs"
    out = run_json(str(d / "fc.npy"), "--truth", str(d / "truth.npy"), *LAYOUT, "--vorticity",
                   "-o", str(report), "--plot", str(plots))
    assert out["mode"] == "forecast" and out["n_conditions"] == 120 and out["n_members"] == 8
    assert out["n_leads"] == 3 and out["lead"] == [1, 2, 3] and out["field_shape"] == [1, 16, 16]
    m = out["metrics"]
    assert list(m) == ["crps", "rmse", "spread", "spread_skill", "rank_histogram", "energy_score", "spectra", "kl",
                       "autocorrelation"]
    for name in ("crps", "rmse", "spread", "spread_skill", "energy_score"):
        assert len(m[name]["per_lead"]) == 3 and math.isfinite(m[name]["mean"])
    sd = np.sqrt(1 - A ** (2 * np.arange(1, 4)))  # conditional std at lead ℓ (unit pointwise variance)
    np.testing.assert_allclose(m["crps"]["per_lead"], sd / math.sqrt(math.pi), rtol=0.05)
    np.testing.assert_allclose(m["spread"]["per_lead"], sd, rtol=0.05)
    ssr, se = np.array(m["spread_skill"]["per_lead"]), np.array(m["spread_skill"]["standard_error"])
    assert np.all(np.abs(ssr - 1) < 4 * se)
    assert m["spread_skill"]["finite_ensemble_factor"] == pytest.approx(math.sqrt(9 / 8))
    counts = np.array(m["rank_histogram"]["counts"])
    assert counts.shape == (3, 9) and np.all(counts.sum(1) == 120 * 256) and m["rank_histogram"]["dof"] == 8
    np.testing.assert_allclose(m["autocorrelation"]["forecast"], A ** np.arange(3), atol=0.05)
    np.testing.assert_allclose(m["autocorrelation"]["truth"], A ** np.arange(3), atol=0.1)
    spec = m["spectra"]
    assert spec["kinds"] == ["enstrophy", "energy"] and len(spec["k"]) == 8
    assert np.array(spec["energy"]["forecast"]).shape == (3, 8) and max(spec["enstrophy"]["relative_error_mean"]) < 0.2
    assert m["kl"]["quantities"] == ["energy", "enstrophy"] and len(m["kl"]["energy"]["per_lead"]) == 3
    assert max(m["kl"]["enstrophy"]["per_lead"]) < 0.3
    from sictl.io import read_report

    rep = read_report(report)
    assert rep.report["metrics"]["crps"]["per_lead"] == pytest.approx(m["crps"]["per_lead"], rel=1e-12)
    assert rep.arrays["crps/map"].shape == (3, 1, 16, 16) and rep.arrays["rank_histogram/counts"].shape == (3, 9)
    assert rep.arrays["kl/energy/forecast_totals"].shape == (3, 960)
    assert sorted(p.name for p in plots.iterdir()) == ["rank_histogram.png", "scores_vs_lead.png", "spectra.png"]
    # the table on stderr: one row per lead
    table = runner.invoke(app, ["evaluate", str(d / "fc.npy"), "--truth", str(d / "truth.npy"), *LAYOUT,
                                "--metrics", "crps,spread_skill"])
    assert table.exit_code == 0, table.output
    assert "SSR" in table.output and "CRPS" in table.output and "energy" not in table.output


def test_other_axis_orders_files_and_blocks_give_the_same_scores(files, monkeypatch):
    d, truth, fct = files
    base = run_json(str(d / "fc.npy"), "--truth", str(d / "truth.npy"), *LAYOUT, "--metrics", "crps,rmse,spread_skill,kl")
    # lead-major forecasts in an .npz, the truth as a .pt dict with a trajectory/time layout and a channel axis
    np.savez(d / "fc.npz", other=np.zeros(3), fc=np.ascontiguousarray(fct.transpose(2, 1, 0, 4, 3)))
    torch.save({"w": torch.from_numpy(truth[:, :, None])}, d / "truth.pt")
    from sictl.pipeline import evaluate_forecast

    monkeypatch.setattr(evaluate_forecast, "BLOCK_BYTES", 16 * 16 * 4 * 8 * 3 * 7)  # 7 conditions a block
    other = run_json(str(d / "fc.npz"), "--key", "fc", "--layout", "lead ensemble cond y x", "--truth", str(d / "truth.pt"),
                     "--truth-key", "w", "--truth-layout", "traj time channel x y", "--metrics", "crps,rmse,spread_skill,kl")
    for name in ("crps", "rmse", "spread_skill"):
        np.testing.assert_allclose(other["metrics"][name]["per_lead"], base["metrics"][name]["per_lead"], rtol=1e-10)
    np.testing.assert_allclose(other["metrics"]["kl"]["square"]["per_lead"], base["metrics"]["kl"]["square"]["per_lead"],
                               rtol=1e-10)
    assert other["layout"] == "lead ensemble cond y x" and not other["vorticity"]


def _fails(tmp_path, args, needle):
    report, plots = tmp_path / "r.h5", tmp_path / "figs"
    result = runner.invoke(app, ["evaluate", *args, "-o", str(report), "--plot", str(plots)])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and needle in lines[0], result.output
    assert "Traceback" not in result.output
    assert not report.exists() and not plots.exists()


def test_bad_input_one_error_line_and_nothing_written(files, tmp_path):
    d, truth, fct = files
    np.save(tmp_path / "t_short.npy", truth[:100])
    np.save(tmp_path / "t_leads.npy", truth[:, :2])
    np.save(tmp_path / "t_coarse.npy", truth[:, :, ::2, ::2])
    np.save(tmp_path / "f_one.npy", fct[:, :1])
    bad = fct.copy()
    bad[5, 2, 1, 3, 3] = np.nan
    np.save(tmp_path / "f_nan.npy", bad)
    fc, tr = str(d / "fc.npy"), str(d / "truth.npy")
    cases = [
        ([fc, "--truth", str(tmp_path / "t_short.npy"), *LAYOUT], "120 conditions but the truth holds 100"),
        ([fc, "--truth", str(tmp_path / "t_leads.npy"), *LAYOUT], "3 leads but the truth holds 2"),
        ([fc, "--truth", str(tmp_path / "t_coarse.npy"), *LAYOUT], "resolution mismatch"),
        ([str(tmp_path / "f_one.npy"), "--truth", tr, *LAYOUT], "1 member per condition"),
        ([str(tmp_path / "f_nan.npy"), "--truth", tr, *LAYOUT], "non-finite"),
        ([fc, "--truth", tr, "--truth-layout", "condition lead x y"], "are not named"),
        ([fc, "--truth", tr, "--layout", "condition lead x y z", "--truth-layout", "condition lead x y"], "no member axis"),
        ([fc, "--truth", tr, *LAYOUT[:2], "--truth-layout", "condition lead x"], "names 3 axes"),
        ([fc, "--truth", tr, *LAYOUT, "--reference", tr], "exclude each other"),
        ([fc, "--truth", tr, *LAYOUT, "--metrics", "crps,pdf"], "unknown forecast metric 'pdf'"),
        ([fc, "--truth", tr, *LAYOUT, "--allow-nan"], "--allow-nan does not apply"),
    ]
    for args, needle in cases:
        _fails(tmp_path, args, needle)
