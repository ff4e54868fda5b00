"""torchrun DDP on the CPU (gloo): 2 processes with global batch B train like 1 process with batch B."""

from __future__ import annotations

import json
import subprocess
import sys

import torch

from sictl.io import read_log
from tests.train.conftest import invoke, subprocess_env, weights

ARGS = ["--model", "tiny", "--steps", "20", "--batch-size", "8", "--lr", "1e-3", "--warmup", "5", "--ema", "0.9",
        "--log-every", "5", "--checkpoint-every", "20", "--seed", "1", "--device", "cpu"]


def _relative(a: dict, b: dict) -> float:
    """Largest per-tensor relative difference ‖a − b‖/‖a‖."""
    return max(float((a[k] - b[k]).norm() / a[k].norm().clamp_min(1e-12)) for k in a)


def test_two_processes_match_one(field16, tmp_path, one_thread):
    two = str(tmp_path / "two")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "sictl", "train", field16, "-o", two, *ARGS, "--json"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=subprocess_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)  # exactly one JSON object: rank 0 alone prints
    assert summary["world_size"] == 2 and summary["steps"] == 20
    one = str(tmp_path / "one")
    assert invoke(["train", field16, "-o", one, *ARGS, "--quiet"]).exit_code == 0
    raw1, ema1, config1 = weights(one)
    raw2, ema2, config2 = weights(two)
    assert config2["world_size"] == 2 and config1["world_size"] == 1
    assert _relative(raw1, raw2) < 1e-4 and _relative(ema1, ema2) < 1e-4
    flat1 = torch.cat([v.flatten() for v in raw1.values()])
    flat2 = torch.cat([v.flatten() for v in raw2.values()])
    assert float((flat1 - flat2).norm() / flat1.norm()) < 1e-4
    losses1 = [r["loss"] for r in read_log(f"{one}/log.jsonl")]
    losses2 = [r["loss"] for r in read_log(f"{two}/log.jsonl")]
    assert len(losses1) == len(losses2) == 4
    assert all(abs(a - b) <= 1e-4 * abs(a) for a, b in zip(losses1, losses2))

