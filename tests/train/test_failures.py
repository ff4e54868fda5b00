"""Bad input: one `Error:` line, a hint, exit 1, and nothing (half-)written."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from tests.train.conftest import invoke, weights

FAST = ["--model", "tiny", "--steps", "4", "--batch-size", "4", "--checkpoint-every", "2", "--quiet"]


def _fails(args: list[str], *needles: str, code: int = 1) -> str:
    """One `Error:` line holding every needle, a hint, no traceback; exit 1 (2 for a missing required option)."""
    result = invoke(args)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == code and len(errors) == 1, result.output
    assert "Hint:" in result.output and "Traceback" not in result.output
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


@pytest.fixture(scope="module")
def done_run(field16, tmp_path_factory) -> str:
    run = str(tmp_path_factory.mktemp("done") / "run")
    assert invoke(["train", field16, "-o", run, *FAST]).exit_code == 0
    return run


def _listing(path) -> dict:
    return {n: os.path.getmtime(os.path.join(path, n)) for n in sorted(os.listdir(path))}


def test_inputs_that_are_not_training_data(done_run, tmp_path):
    from sictl.io import DatasetMeta, write_dataset

    run = str(tmp_path / "run")
    _fails(["train", f"{done_run}/model.safetensors", "-o", run, *FAST], "not an HDF5 file")
    _fails(["train", str(tmp_path / "missing.h5"), "-o", run, *FAST], "no such file")
    bare = str(tmp_path / "bare.h5")  # a field dataset without stats/mode_power
    write_dataset(bare, np.ones((4, 1, 16), np.float32) * np.arange(16, dtype=np.float32),
                  DatasetMeta(dataset_name="bare", source="import", sample_shape=(16,)))
    _fails(["train", bare, "-o", run, *FAST], "stores no per-mode power")
    assert not os.path.exists(run)


def test_vector_data_refuse_a_spectral_base(tmp_path):
    from sictl.io.fixtures import write_tiny_dataset

    vec = str(tmp_path / "v.h5")
    write_tiny_dataset(vec, n=32, shape=(2,), vector=True)
    _fails(["train", vec, "-o", str(tmp_path / "run"), *FAST, "--base", "spectral"], "vector data take white")
    assert invoke(["train", vec, "-o", str(tmp_path / "mlp"), *FAST]).exit_code == 0  # an MLP on the VP path
    config = weights(str(tmp_path / "mlp"))[2]
    assert config["model"]["config"]["kind"] == "mlp" and config["schedule"]["variance_preserving"]


def test_architecture_that_does_not_fit(field16, tmp_path):
    run = str(tmp_path / "run")
    _fails(["train", field16, "-o", run, *FAST, "--mults", "1,1,1,1,1,1"], "does not fit", "multiple of 32")
    _fails(["train", field16, "-o", run, *FAST, "--model", "huge"], "unknown model preset")
    assert not os.path.exists(run)


def test_bad_options(field16, tmp_path):
    run = str(tmp_path / "run")
    _fails(["train", field16, "-o", run, *FAST, "--precision", "bf16", "--device", "cpu"], "needs a CUDA device")
    _fails(["train", field16, "-o", run, *FAST, "--t-min", "0.5", "--t-max", "0.4"], "--t-min")
    _fails(["train", field16, "-o", run, *FAST, "--ema", "1"], "--ema")
    _fails(["train", field16, "-o", run, *FAST, "--schedule", "nope"], "unknown schedule")
    _fails(["train", field16, *FAST], "-o RUN", code=2)  # a missing required option is a usage error
    assert not os.path.exists(run)


def test_resume_without_state_and_existing_runs(field16, done_run, tmp_path):
    _fails(["train", field16, "-o", str(tmp_path / "fresh"), *FAST, "--resume"], "no state.safetensors")
    before = _listing(done_run)
    _fails(["train", field16, "-o", done_run, *FAST], "already holds a training run")
    assert _listing(done_run) == before


def test_resume_with_changed_options_names_them(field16, done_run):
    before = _listing(done_run)
    error = _fails(["train", field16, "-o", done_run, *FAST, "--resume", "--lr", "1e-3", "--batch-size", "8"],
                   "changed options")
    assert "--lr" in error and "--batch-size" in error and "--steps" not in error
    assert _listing(done_run) == before


def test_state_of_another_kind(field16, done_run, tmp_path):
    run = str(tmp_path / "run")
    shutil.copytree(done_run, run)
    shutil.copy(f"{run}/model.safetensors", f"{run}/state.safetensors")
    _fails(["train", field16, "-o", run, *FAST, "--resume"], "is a 'checkpoint' file, expected a 'training-state' file")


def test_force_starts_over_and_resume_of_a_finished_run_is_a_no_op(field16, done_run, tmp_path):
    run = str(tmp_path / "run")
    shutil.copytree(done_run, run)
    assert invoke(["train", field16, "-o", run, *FAST, "--resume"]).exit_code == 0
    assert weights(run)[2]["step"] == 4
    assert invoke(["train", field16, "-o", run, *FAST, "--force", "--steps", "2"]).exit_code == 0
    assert weights(run)[2]["step"] == 2


def test_global_batch_must_split_evenly(field16, tmp_path, monkeypatch):
    from sictl.pipeline import train as pipeline
    from sictl.train.distributed import DistInfo

    monkeypatch.setattr(pipeline, "init_from_env", lambda device: (DistInfo(0, 2, 0, "gloo"), device))
    monkeypatch.setattr(pipeline, "shutdown", lambda info: None)
    _fails(["train", field16, "-o", str(tmp_path / "run"), *FAST, "--batch-size", "7"],
           "--batch-size 7 is not divisible by the 2 processes")
    assert not os.path.exists(tmp_path / "run")
