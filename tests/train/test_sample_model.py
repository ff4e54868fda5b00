"""`sictl sample --model`: a trained network as a drift, transfer to another schedule, torchrun sharding.

Sampling is deterministic given the seed, so the checks are exact: two processes write the same
samples as one (every sample's noise depends only on the seed and its index; one thread each, so the
network's arithmetic is identical), EMA and raw weights give different samples, and a transfer to
the training schedule itself is the identity.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.train.conftest import invoke, subprocess_env

TRAIN = ["--model", "tiny", "--steps", "30", "--batch-size", "16", "--lr", "1e-3", "--warmup", "5", "--ema", "0.9",
         "--checkpoint-every", "30", "--seed", "3", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def run16(field16, tmp_path_factory):
    run = str(tmp_path_factory.mktemp("run") / "run")
    result = invoke(["train", field16, "-o", run, *TRAIN])
    assert result.exit_code == 0, result.output
    return run


def _sample(run: str, out: str, *extra: str) -> dict:
    result = invoke(["sample", "--model", run, "--n", "40", "--batch-size", "16", "--steps", "6", "-o", out,
                     "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _array(path: str) -> np.ndarray:
    from sictl.io import load_samples_array

    return load_samples_array(path)


def test_model_samples_record_the_checkpoint_and_transfer(run16, tmp_path, one_thread):
    from sictl.io import file_checksum, read_samples

    ema = _sample(run16, str(tmp_path / "ema.h5"))
    assert ema["drift_source"] == f"model:{run16}" and ema["transfer"] is False
    assert ema["drift_checksum"] == file_checksum(f"{run16}/model.safetensors")
    assert read_samples(str(tmp_path / "ema.h5")).meta.drift_checksum == ema["drift_checksum"]
    assert ema["nfe"] == 6 * 4 and ema["exact"]["weights"] == "ema"
    raw = _sample(run16, str(tmp_path / "raw.h5"), "--weights", "raw")
    assert raw["exact"]["weights"] == "raw"
    assert not np.array_equal(_array(str(tmp_path / "ema.h5")), _array(str(tmp_path / "raw.h5")))
    moved = _sample(run16, str(tmp_path / "trig.h5"), "--schedule", "trig")
    assert moved["transfer"] is True and moved["drift_schedule"] == "linear"
    x = _array(str(tmp_path / "trig.h5"))
    assert np.isfinite(x).all() and x.shape == (40, 1, 16)
    again = _sample(run16, str(tmp_path / "ema2.h5"))
    assert np.array_equal(_array(str(tmp_path / "ema.h5")), _array(str(tmp_path / "ema2.h5")))
    assert again["drift_checksum"] == ema["drift_checksum"]


def test_em_with_a_model_and_a_foreign_base_is_refused(run16, tmp_path, one_thread):
    em = _sample(run16, str(tmp_path / "em.h5"), "--solver", "em", "--diffusion", "optimal")
    assert em["nfe"] == 6 and np.isfinite(_array(str(tmp_path / "em.h5"))).all()
    result = invoke(["sample", "--model", run16, "--base", "spectral", "-o", str(tmp_path / "x.h5")])
    assert result.exit_code == 1 and "trained with base" in result.output
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("source", ["model", "exact-em"])
def test_two_processes_write_what_one_writes(run16, field16, tmp_path, source):
    drift = ["--model", run16] if source == "model" else ["--exact", field16, "--solver", "em", "--diffusion", "optimal"]
    args = ["sample", *drift, "--samples", "50", "--batch-size", "8", "--steps", "5", "--seed", "7"]
    two = str(tmp_path / "two.h5")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "sictl", *args, "-o", two, "--json"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=subprocess_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["n"] == 50  # exactly one JSON object: rank 0 alone prints
    one = str(tmp_path / "one.h5")
    single = subprocess.run([sys.executable, "-m", "sictl", *args, "-o", one, "--quiet"], capture_output=True,
                            text=True, check=False, env=subprocess_env(), timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    assert np.array_equal(_array(one), _array(two))
