"""Shared fixtures of the training tests: a small 1-D Gaussian-field dataset and ways to run `sictl train`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

#: A short tiny run: 60 steps, checkpoints every 20 (the resume tests), 8 samples per batch; a 10 KiB
#: memory budget cuts the 256 samples into blocks of 10 and shuffle buffers of 80, so the 480 samples
#: drawn cross buffers and epochs.
SHORT = ["--model", "tiny", "--steps", "60", "--checkpoint-every", "20", "--batch-size", "8", "--lr", "1e-3",
         "--warmup", "5", "--ema", "0.9", "--log-every", "5", "--memory-budget", "0.01", "--seed", "3", "--quiet"]


def subprocess_env(**extra: str) -> dict:
    """The environment of a `sictl` subprocess: one thread, so runs in and out of process agree bit for bit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SICTL_TEST_")}
    return {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **extra}


def run_sictl(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sictl", *args], capture_output=True, text=True, check=False,
                          env=subprocess_env(**env), timeout=300)


@pytest.fixture
def one_thread():
    """In-process runs use one thread too (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def field16(tmp_path_factory) -> str:
    """256 periodic Matérn fields on 16 points, RMS-normalised."""
    from typer.testing import CliRunner

    from sictl.cli.app import app

    path = str(tmp_path_factory.mktemp("data") / "g16.h5")
    result = CliRunner().invoke(app, ["prepare", "gaussian-field", "--res", "16", "--dim", "1", "--n", "256",
                                      "--normalize", "rms", "-o", path, "--quiet"])
    assert result.exit_code == 0, result.output
    return path


def invoke(args: list[str], env: dict | None = None):
    """`sictl ARGS` in this process (CliRunner); returns the click result."""
    from typer.testing import CliRunner

    from sictl.cli.app import app

    return CliRunner().invoke(app, args, env=env)


def weights(run: str) -> tuple[dict, dict, dict]:
    """(raw weights, EMA weights, config) of a run folder."""
    from sictl.io import read_run_checkpoint

    ck = read_run_checkpoint(run)
    return ck.weights, ck.ema_weights, ck.config


def assert_identical(run_a: str, run_b: str) -> None:
    wa, ea, ca = weights(run_a)
    wb, eb, cb = weights(run_b)
    assert ca["step"] == cb["step"]
    assert wa.keys() == wb.keys() and ea.keys() == eb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), f"raw weight {name} differs"
        assert torch.equal(ea[name], eb[name]), f"EMA weight {name} differs"


@pytest.fixture(scope="session")
def gaussian_run16(tmp_path_factory) -> tuple[str, str]:
    """(dataset, run folder): a `tiny` U-Net trained on 2000 1-D Matérn fields on 16 points with the
    settings of test_learning.py (300 steps, batch 128; relative velocity error 0.056–0.073 at
    t = 0.25, 0.5, 0.75), shared by the tests that need a trained model (≈ 25 s on one core)."""
    folder = tmp_path_factory.mktemp("gaussian_run16")
    data, run = str(folder / "g.h5"), str(folder / "run")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        made = invoke(["prepare", "gaussian-field", "--res", "16", "--dim", "1", "--n", "2000", "--normalize", "rms",
                       "-o", data, "--quiet"])
        assert made.exit_code == 0, made.output
        trained = invoke(["train", data, "-o", run, "--model", "tiny", "--steps", "300", "--batch-size", "128",
                          "--lr", "1e-2", "--warmup", "20", "--ema", "0.99", "--checkpoint-every", "300",
                          "--log-every", "50", "--quiet"])
        assert trained.exit_code == 0, trained.output
    finally:
        torch.set_num_threads(before)
    return data, run
