"""`sictl train --point-source`: a tiny forecasting model on `sictl prepare ou-pairs` data (arXiv 2403.13724)."""

from __future__ import annotations

import os

import pytest
import torch

from tests.train.conftest import assert_identical, invoke, run_sictl, weights

PS = ["--point-source", "zero", "--schedule", "beta-t2", "--sigma-scale", "0.5", "--weighted-loss", "--model", "tiny",
      "--steps", "24", "--checkpoint-every", "12", "--log-every", "4", "--batch-size", "8", "--lr", "1e-3",
      "--warmup", "2", "--ema", "0.9", "--memory-budget", "0.01", "--seed", "5", "--quiet"]


@pytest.fixture(scope="module")
def ou_pairs(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("ou") / "ou.h5")
    result = run_sictl(["prepare", "ou-pairs", "--res", "16", "--n", "12", "--snapshots", "6", "--lag", "1", "-o", path, "--quiet"])
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def ps_run(ou_pairs, tmp_path_factory) -> str:
    run = str(tmp_path_factory.mktemp("ps") / "run")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = invoke(["train", ou_pairs, "-o", run, *PS])
    finally:
        torch.set_num_threads(before)
    assert result.exit_code == 0, result.output
    return run


def test_trains_and_stores_the_point_source_config(ps_run):
    from sictl.io import read_log

    _, _, config = weights(ps_run)
    assert config["step"] == 24 and config["complete"]
    ps = config["point_source"]
    assert ps == {**ps, "source": "zero", "family": "beta-t2", "c": 0.5, "weighted_loss": True, "cond_channels": 1, "lag": 1}
    assert ps["xi"]["law"] == "white" and config["data"]["pairs"] and config["data"]["n_samples"] == 60
    assert config["model"]["config"]["cond_channels"] == 1 and config["sample_shape"] == [1, 16]
    losses = [r["loss"] for r in read_log(f"{ps_run}/log.jsonl")]
    assert len(losses) == 6 and all(torch.isfinite(torch.tensor(losses)))


def test_checkpoint_rebuilds_a_conditional_drift(ps_run, ou_pairs):
    from sictl.core.interpolants.point_source import PointSource
    from sictl.io import PairRows
    from sictl.models.point_source import NetworkPointSourceDrift
    from sictl.pipeline.drift_sources import open_model_source

    src = open_model_source(ps_run)
    assert src.conditional and src.info["source"] == "zero" and src.native_schedule == PointSource("beta-t2", 0.5)
    rows = PairRows(ou_pairs)
    cond = torch.from_numpy(rows.read(0, 3)[:, 0])
    rows.close()
    drift = src.drift(src.native_schedule, cond, "zero")
    assert isinstance(drift, NetworkPointSourceDrift)
    x = drift.sample_base((3, 1, 16), generator=None, like=cond)
    assert torch.equal(x, torch.zeros_like(cond))  # the zero source starts at 0
    b = drift.drift(0.3, x + 0.1)
    assert b.shape == (3, 1, 16) and torch.isfinite(b).all()
    assert torch.equal(b, open_model_source(ps_run).drift(src.native_schedule, cond, "zero").drift(0.3, x + 0.1))


def test_resume_after_a_failure_is_bit_identical(ps_run, ou_pairs, tmp_path, one_thread):
    run = str(tmp_path / "run")
    failed = invoke(["train", ou_pairs, "-o", run, *PS], env={"SICTL_TEST_NAN_AT_STEP": "15"})
    assert failed.exit_code == 1
    resumed = invoke(["train", ou_pairs, "-o", run, *PS, "--resume"], env={"SICTL_TEST_NAN_AT_STEP": ""})
    assert resumed.exit_code == 0, resumed.output
    assert_identical(ps_run, run)


def test_a_dataset_without_pairs_is_refused(tmp_path):
    data, run = str(tmp_path / "grf.h5"), str(tmp_path / "run")
    made = run_sictl(["prepare", "gaussian-field", "--res", "16", "--dim", "1", "--n", "8", "-o", data, "--quiet"])
    assert made.returncode == 0, made.stderr
    result = invoke(["train", data, "-o", run, "--point-source", "zero", "--model", "tiny", "--steps", "2"])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "pairs" in lines[0] and "--lag" in result.output
    assert not os.path.exists(run)
