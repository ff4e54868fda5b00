"""A tiny U-Net trained on 1-D Gaussian fields learns the exact Gaussian drift (≤ 60 s on 2 CPU cores).

Bound: relative L2 error ‖b_θ − b‖/‖b‖ < 0.12 at t = 0.25, 0.5, 0.75 (EMA weights; measured 0.056,
0.058, 0.073 with this seed). For scale, the data-blind drift (α̇/α) x — what a network that ignored the
data would learn — is off by 0.081, 0.32 and 0.99: the network must beat it by 3× at t = 0.5 and 0.75.
"""

from __future__ import annotations

import time

import torch

from sictl.core.exact.drifts import FourierGaussianDrift
from sictl.core.interpolants.schedules import make_schedule
from sictl.io import read_dataset, read_run_checkpoint
from sictl.models import build_model
from tests.train.conftest import invoke

BOUND = 0.12


def test_tiny_unet_learns_the_gaussian_drift(tmp_path, one_thread):
    started = time.perf_counter()
    data, run = str(tmp_path / "g.h5"), str(tmp_path / "run")
    made = invoke(["prepare", "gaussian-field", "--res", "16", "--dim", "1", "--n", "2000", "--normalize", "rms",
                   "-o", data, "--quiet"])
    assert made.exit_code == 0, made.output
    trained = invoke(["train", data, "-o", run, "--model", "tiny", "--steps", "300", "--batch-size", "128",
                      "--lr", "1e-2", "--warmup", "20", "--ema", "0.99", "--checkpoint-every", "300", "--log-every", "50",
                      "--quiet"])
    assert trained.exit_code == 0, trained.output
    ck = read_run_checkpoint(run)
    net = build_model(ck.config["model"]["config"])
    net.load_state_dict(ck.ema_weights)
    net.eval()
    ds = read_dataset(data)
    x1 = torch.from_numpy(ds.load()[:512])
    power = torch.as_tensor(ds.stats.mode_power, dtype=torch.float64)
    base_power = ck.aux["base_power"]  # white, unit per mode; the empty mean mode excluded
    assert ck.config["base"]["modes_excluded"] == 1 and float(base_power[1]) == 1.0
    schedule = make_schedule("linear")
    exact = FourierGaussianDrift(schedule, torch.where(base_power > 0, power, torch.zeros_like(power)), base_power)
    g = torch.Generator().manual_seed(123)
    errors, blind = [], []
    for t in (0.25, 0.5, 0.75):
        z = exact.sample_base((len(x1), 1, 16), generator=g, like=x1)
        v = schedule(torch.tensor(t, dtype=torch.float64))
        xt = float(v.alpha) * z + float(v.beta) * x1
        b = exact.velocity(t, xt)
        with torch.no_grad():
            learned = net(torch.full((len(x1),), t), xt)
        errors.append(float((learned - b).norm() / b.norm()))
        blind.append(float((float(v.alpha_dot / v.alpha) * xt - b).norm() / b.norm()))
    assert max(errors) < BOUND, errors
    assert errors[1] < blind[1] / 3 and errors[2] < blind[2] / 3, (errors, blind)
    assert time.perf_counter() - started < 60
