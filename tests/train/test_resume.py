"""Exact resume (after SIGKILL and after a NaN loss) and same seed → same weights."""

from __future__ import annotations

import signal

import pytest

from sictl.io import read_log, read_training_state
from tests.train.conftest import SHORT, assert_identical, invoke, run_sictl, weights


@pytest.fixture(scope="module")
def reference(field16, tmp_path_factory) -> str:
    """The uninterrupted 60-step run (a subprocess)."""
    run = str(tmp_path_factory.mktemp("ref") / "run")
    result = run_sictl(["train", field16, "-o", run, *SHORT])
    assert result.returncode == 0, result.stderr
    return run


def test_run_folder_and_metadata(reference):
    raw, ema, config = weights(reference)
    assert config["step"] == 60 and config["complete"] and config["steps"] == 60
    assert config["model"]["preset"] == "tiny" and config["model"]["parameters"] < 50_000
    assert config["sample_shape"] == [1, 16] and config["target"] == "velocity"
    assert config["schedule"]["family"] == "linear" and config["schedule"]["checksum"].startswith("sha256:")
    assert config["base"]["law"] == "fourier" and config["base"]["power"] == "aux.base_power"
    assert config["data"]["checksum"].startswith("sha256:") and config["data"]["normalization"]["scheme"] == "rms"
    assert config["ema"]["n_averaged"] == 60 and config["seed"] == 3
    assert config["data"]["order"] == {"n_samples": 256, "block": 10, "buffer_blocks": 8, "buffers_per_epoch": 4}
    assert raw.keys() == ema.keys()
    steps = [r["step"] for r in read_log(f"{reference}/log.jsonl")]
    assert steps == list(range(5, 61, 5))
    record = read_log(f"{reference}/log.jsonl")[-1]
    assert {"loss", "ema_loss", "lr", "grad_norm", "samples_per_s"} <= set(record)
    _, state = read_training_state(f"{reference}/state.safetensors")
    assert state["trainer"]["step"] == 60
    import os

    assert os.path.getsize(f"{reference}/loss.png") > 1000


def test_the_checkpoint_rebuilds_schedule_and_base(reference, field16, tmp_path):
    import torch

    from sictl.core.interpolants.schedules import Designed, Linear
    from sictl.io import read_run_checkpoint
    from sictl.io.fixtures import write_tiny_schedule
    from sictl.pipeline.train import checkpoint_base, checkpoint_schedule

    ck = read_run_checkpoint(reference)
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    assert torch.equal(checkpoint_schedule(ck.config, ck.aux)(t).alpha, Linear()(t).alpha)
    base = checkpoint_base(ck.config, ck.aux)
    assert float(base.power[0]) == 0 and bool((base.power[1:] == 1).all())  # white, the empty mean mode excluded
    # a schedule file travels inside the checkpoint; a named designed schedule keeps its resolved λ
    sched_file = str(tmp_path / "s.h5")
    write_tiny_schedule(sched_file)
    for spec in (sched_file, "designed"):
        run = str(tmp_path / f"run-{spec == 'designed'}")
        assert invoke(["train", field16, "-o", run, "--model", "tiny", "--steps", "1", "--batch-size", "4",
                       "--schedule", spec, "--base", "spectral", "--quiet"]).exit_code == 0
        ck = read_run_checkpoint(run)
        rebuilt = checkpoint_schedule(ck.config, ck.aux)
        if spec == "designed":
            assert isinstance(rebuilt, Designed) and rebuilt.lam == ck.config["schedule"]["params"]["lam"] == 1.0
        else:
            assert sorted(ck.aux) == ["base_power", *(f"schedule.{c}" for c in
                                                      ("alpha", "alpha_dot", "beta", "beta_dot", "t"))]
            assert torch.allclose(rebuilt(t).beta, t)


def test_resume_after_sigkill_is_bit_identical(field16, reference, tmp_path, one_thread):
    run = str(tmp_path / "run")
    killed = run_sictl(["train", field16, "-o", run, *SHORT], SICTL_TEST_KILL_AFTER_STEP="45")
    assert killed.returncode == -signal.SIGKILL
    assert weights(run)[2]["step"] == 40  # the last checkpoint; steps 41–45 are lost
    assert max(r["step"] for r in read_log(f"{run}/log.jsonl")) == 45
    resumed = invoke(["train", field16, "-o", run, *SHORT, "--resume"])  # in this process (saves a start-up)
    assert resumed.exit_code == 0, resumed.output
    assert_identical(reference, run)
    assert read_log(f"{run}/log.jsonl")[-1]["loss"] == read_log(f"{reference}/log.jsonl")[-1]["loss"]
    assert [r["step"] for r in read_log(f"{run}/log.jsonl")] == list(range(5, 61, 5))


def test_nan_loss_stops_with_the_checkpoint_intact_and_resumable(field16, reference, tmp_path, one_thread):
    run = str(tmp_path / "run")
    result = invoke(["train", field16, "-o", run, *SHORT], env={"SICTL_TEST_NAN_AT_STEP": "45"})
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "nan" in errors[0].lower() and "step 45" in errors[0], result.output
    assert "Hint:" in result.output and "Traceback" not in result.output
    assert weights(run)[2]["step"] == 40
    assert read_training_state(f"{run}/state.safetensors")[1]["trainer"]["step"] == 40
    resumed = invoke(["train", field16, "-o", run, *SHORT, "--resume"], env={"SICTL_TEST_NAN_AT_STEP": ""})
    assert resumed.exit_code == 0, resumed.output
    assert_identical(reference, run)  # also: a run in this process equals the subprocess one


def test_same_seed_same_weights_other_seed_other_weights(field16, reference, tmp_path, one_thread):
    again = str(tmp_path / "again")
    assert invoke(["train", field16, "-o", again, *SHORT]).exit_code == 0
    assert_identical(reference, again)
    other = str(tmp_path / "other")
    args = [*SHORT[:-3], "--seed", "4", "--quiet", "--steps", "5"]
    assert invoke(["train", field16, "-o", other, *args]).exit_code == 0
    import torch

    assert not torch.equal(next(iter(weights(other)[0].values())), next(iter(weights(reference)[0].values())))
