"""`sictl sample --condition`: ensembles and rollouts from a point-source drift (arXiv 2403.13724)."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sictl.cli.app import app

FAST = ["--steps", "20", "--seed", "3", "--quiet"]


def _invoke(args, env=None):
    return CliRunner().invoke(app, args, env=env)


def _prepare(path, *extra):
    result = _invoke(["prepare", "ou-pairs", "--snapshots", "3", "--lag", "1", "-o", str(path), "--quiet", *extra])
    assert result.exit_code == 0, result.output
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("fc")
    torch.set_num_threads(1)
    ou = _prepare(d / "ou.h5", "--res", "16", "--n", "8")
    cond = _prepare(d / "cond.h5", "--res", "16", "--n", "3", "--seed", "1")
    return d, ou, cond


def _forecast(files, name, *extra):
    d, ou, cond = files
    out = str(d / name)
    result = _invoke(["sample", "--exact", ou, "--condition", cond, "-o", out, "--json", *FAST, *extra])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output)


def test_exact_ensembles_and_rollouts_are_reproducible(files):
    from sictl.io import read_forecasts

    out, summary = _forecast(files, "a.h5", "--members", "4", "--rollout", "2")
    assert summary["solver"] == "em" and summary["diffusion"] == "sigma" and summary["t_min"] == 0 and summary["t_max"] == 1
    fc = read_forecasts(out)
    assert fc.forecasts.shape == (6, 4, 2, 1, 16) and fc.layout == "condition member lead channel x"
    assert fc.lead.tolist() == [1, 2] and fc.seed == 3
    with h5py.File(files[2]) as f:
        assert np.allclose(fc.conditions[:, 0], f["pairs/x0"][()])
    assert not np.allclose(fc.forecasts[:, 0], fc.forecasts[:, 1])  # members differ
    again, _ = _forecast(files, "b.h5", "--members", "4", "--rollout", "2", "--batch-size", "5")  # other chunks
    assert np.array_equal(read_forecasts(again).forecasts, fc.forecasts)
    other, _ = _forecast(files, "c.h5", "--members", "4", "--rollout", "2", "--seed", "4")
    assert not np.array_equal(read_forecasts(other).forecasts, fc.forecasts)


def test_exact_forecast_spread_matches_the_conditional_law(files):
    from sictl.io import read_forecasts
    from sictl.pipeline.drift_sources import open_exact_source

    out, _ = _forecast(files, "law.h5", "--members", "200", "--steps", "50", "--diffusion", "follmer")
    fc = read_forecasts(out)
    src = open_exact_source(files[1])
    cond = torch.as_tensor(fc.conditions, dtype=torch.float64)
    # the exact conditional x1 | x0 ~ N(A x0, Σ): mean and variance from independent draws
    exact = torch.stack([target_sample(src, cond, k) for k in range(200)], dim=1).numpy()
    got = fc.forecasts[:, :, 0]
    assert np.allclose(got.mean(axis=1), exact.mean(axis=1), atol=0.25)
    ratio = got.var(axis=1).mean() / exact.var(axis=1).mean()
    assert 0.8 < ratio < 1.25, ratio


def target_sample(src, cond, k):
    import json as _json

    from sictl.core.exact.forecast import OUField
    from sictl.io import read_dataset

    ds = read_dataset(src.path)
    spec = _json.loads(ds.meta.attrs["forecast_target"])
    law = OUField(**spec["field"]).forecast(ds.meta.pairs_lag * float(spec["dt"]))
    g = torch.Generator().manual_seed(1000 + k)
    return law.sample(cond, generator=g)


def test_evaluate_reads_the_forecasts_file(files, tmp_path):
    out, _ = _forecast(files, "ev.h5", "--members", "3")
    truth = str(tmp_path / "truth.npy")
    with h5py.File(files[2]) as f:
        np.save(truth, f["pairs/x1"][()][:, None])
    result = _invoke(["evaluate", out, "--truth", truth, "--truth-layout", "condition lead x", "--json"])
    assert result.exit_code == 0, result.output
    assert "crps" in result.output.lower()


def test_a_model_forecasts(files, tmp_path):
    from sictl.io import read_forecasts

    _, ou, cond = files
    run = str(tmp_path / "run")
    trained = _invoke(["train", ou, "-o", run, "--point-source", "state", "--schedule", "beta-t2", "--model", "tiny",
                       "--steps", "3", "--batch-size", "4", "--checkpoint-every", "3", "--base", "spectral", "--quiet"])
    assert trained.exit_code == 0, trained.output
    for extra in ([], ["--diffusion", "0", "--solver", "heun"]):
        out = str(tmp_path / f"m{len(extra)}.h5")
        result = _invoke(["sample", "--model", run, "--condition", cond, "--members", "2", "--rollout", "2",
                          "--steps", "4", "-o", out, "--json", *extra])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output)
        assert summary["source"] == "state" and summary["drift"]["target"] == "model"
        assert summary["drift"]["xi"] == "fourier"  # spectral ξ: the increments follow the dataset's power
        assert summary["t_min"] == (0.001 if extra else 0.0) and summary["t_max"] == (0.999 if extra else 1.0)
        assert read_forecasts(out).forecasts.shape == (6, 2, 2, 1, 16)


@pytest.mark.parametrize("extra, words", [
    (["--members", "0"], "--members"),
    (["--diffusion", "0", "--t-min", "0"], "--t-min"),
    (["--solver", "rk4", "--diffusion", "follmer"], "stochastic"),
    (["--schedule", "linear:2"], "schedule"),
])
def test_bad_forecast_options(files, extra, words):
    d, ou, cond = files
    out = str(d / "bad.h5")
    result = _invoke(["sample", "--exact", ou, "--condition", cond, "-o", out, *extra])
    assert result.exit_code == 1, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and words in result.output and "Hint:" in result.output
    assert not os.path.exists(out)


def test_a_condition_file_of_another_resolution(files):
    d, ou, _ = files
    cond32 = _prepare(d / "c32.h5", "--res", "32", "--n", "2")
    out = str(d / "bad32.h5")
    result = _invoke(["sample", "--exact", ou, "--condition", cond32, "-o", out])
    assert result.exit_code == 1 and "resolution" in result.output and not os.path.exists(out)
    assert sum(ln.startswith("Error:") for ln in result.output.splitlines()) == 1


def test_follmer_where_it_is_singular_is_refused(files, monkeypatch):
    """g_F of the named families is finite on [0, 1]; a schedule whose g_F blows up at t = 0 (β ~ √t
    tabulated, say) must be refused at the default t-min 0, and accepted from a later t-min."""
    from sictl.core.interpolants.point_source import PointSource

    monkeypatch.setattr(PointSource, "follmer_g2", lambda self, t: 1.0 / torch.as_tensor(t, dtype=torch.float64))
    d, ou, cond = files
    out = str(d / "singular.h5")
    result = _invoke(["sample", "--exact", ou, "--condition", cond, "--diffusion", "follmer", "-o", out])
    assert result.exit_code == 1 and "singular" in result.output and "--t-min" in result.output
    assert sum(ln.startswith("Error:") for ln in result.output.splitlines()) == 1 and not os.path.exists(out)
    _forecast(files, "later.h5", "--diffusion", "follmer", "--t-min", "0.01")


def test_torchrun_shards_the_conditions_with_the_same_forecasts(files):
    import subprocess
    import sys

    from sictl.io import read_forecasts

    d, ou, cond = files
    one, _ = _forecast(files, "one.h5", "--members", "3", "--rollout", "2", "--batch-size", "4")
    two = str(d / "two.h5")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "sictl", "sample", "--exact", ou, "--condition", cond, "--members", "3", "--rollout", "2",
                           "--batch-size", "4", "-o", two, *FAST], check=False, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert np.array_equal(read_forecasts(two).forecasts, read_forecasts(one).forecasts)


def test_stochastic_heun_forecasts(files):
    """sde-heun takes point-source drifts (sde-expint1 refuses them): two evaluations per step, t_max 1 − 1e-3."""
    out, summary = _forecast(files, "heun.h5", "--members", "3", "--solver", "sde-heun", "--diffusion", "follmer")
    assert summary["solver"] == "sde-heun" and summary["t_max"] == 0.999 and summary["nfe_per_lead"] == 40
    d, ou, cond = files
    refused = _invoke(["sample", "--exact", ou, "--condition", cond, "--solver", "sde-expint1", "-o", str(d / "x.h5")])
    assert refused.exit_code == 1 and "sde-heun" in refused.output and not os.path.exists(d / "x.h5")
