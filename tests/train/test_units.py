"""sictl.train pieces without a run: data order, dataset rows, LR schedule, EMA, objectives, state."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sictl.core.interpolants.schedules import Linear
from sictl.core.sampling.noise import FourierNoise
from sictl.train.data import BufferedSource, DataOrder, rank_slice
from sictl.train.objectives import Objective
from sictl.train.optim import ema_decay, lr_factor, make_ema, make_optimizer, make_scheduler
from sictl.train.state import StateMismatch, capture_state, restore_state


def test_order_is_a_permutation_per_epoch_and_deterministic():
    order = DataOrder(n_samples=103, block=10, buffer_blocks=3, seed=5)
    for epoch in range(2):
        flat = np.concatenate(order.buffers(epoch))
        assert sorted(flat.tolist()) == list(range(103))
    again = DataOrder(103, 10, 3, seed=5)
    got = np.concatenate([idx for _, idx in again.indices(0, 250)])
    want = np.concatenate([*order.buffers(0), *order.buffers(1), *order.buffers(2)])[:250]
    assert np.array_equal(got, want)
    # another seed gives another order; buffers hold whole blocks
    assert not np.array_equal(np.concatenate(DataOrder(103, 10, 3, seed=6).buffers(0)), np.concatenate(order.buffers(0)))
    first = order.buffers(0)[0]
    assert len(first) <= 30 and len(set((first // 10).tolist())) <= 3


def test_rank_slices_tile_the_global_batch():
    parts = [rank_slice(12, r, 3) for r in range(3)]
    assert [(s.start, s.stop) for s in parts] == [(0, 4), (4, 8), (8, 12)]
    with pytest.raises(ValueError):
        rank_slice(10, 0, 3)


def test_dataset_rows_and_buffered_source_match_the_file(tmp_path):
    from sictl.io import DatasetRows
    from sictl.io.fixtures import write_tiny_dataset

    path = tmp_path / "d.h5"
    write_tiny_dataset(path, n=5, n_times=7, shape=(8,))
    rows = DatasetRows(path)
    from sictl.io import read_dataset

    full = read_dataset(path).load()  # (35, 1, 8), trajectory-major
    assert rows.n_samples == 35
    for a, b in [(0, 35), (3, 4), (5, 20), (7, 14), (13, 35), (34, 35)]:
        assert np.array_equal(rows.read(a, b), full[a:b]), (a, b)
    assert np.array_equal(rows.read_indices(np.array([30, 2, 9])), full[[30, 2, 9]])
    order = DataOrder(35, block=4, buffer_blocks=2, seed=1)  # 5 buffers per epoch
    source = BufferedSource(order, rows.read)
    got = np.concatenate([source.rows(s, s + 6) for s in range(0, 84, 6)])
    idx = np.concatenate([i for _, i in order.indices(0, 84)])
    assert np.array_equal(got, full[idx])
    rows.close()


def test_lr_warmup_then_cosine():
    assert lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert lr_factor(9, 10, 100) == pytest.approx(1.0)
    assert lr_factor(10, 10, 100) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100) == pytest.approx(0.5)
    assert lr_factor(100, 10, 100) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(100, 10, 100, final=0.1) == pytest.approx(0.1)
    model = torch.nn.Linear(2, 2)
    opt = make_optimizer(model, 1.0, 0.0)
    sched = make_scheduler(opt, 4, 20)
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([lr_factor(k, 4, 20) for k in range(20)])


def test_ema_warms_up_and_follows_the_formula():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    ema = make_ema(model, 0.9)
    ema.update_parameters(model)  # first update copies
    expected = model.weight.detach().clone()
    for n in range(1, 30):
        with torch.no_grad():
            model.weight.add_(1.0)
        d = ema_decay(0.9, n)
        expected = d * expected + (1 - d) * model.weight.detach()
        ema.update_parameters(model)
    assert torch.allclose(ema.module.weight, expected, atol=1e-5)
    assert ema_decay(0.999, 0) == pytest.approx(0.1) and ema_decay(0.9, 10_000) == 0.9


def test_objective_targets_and_draws():
    obj = Objective("velocity", Linear(), FourierNoise(torch.ones(8, dtype=torch.float64)), (1, 8), 0.1, 0.9)
    t, z = obj.step_draws(seed=3, step=7, batch=6)
    t2, z2 = obj.step_draws(seed=3, step=7, batch=6)
    assert torch.equal(t, t2) and torch.equal(z, z2) and z.shape == (6, 1, 8) and z.dtype == torch.float32
    assert float(t.min()) >= 0.1 and float(t.max()) <= 0.9
    x1 = torch.randn(6, 1, 8)
    xt, target = obj.pair(t, z, x1)
    tt = t.float().reshape(-1, 1, 1)
    assert torch.allclose(xt, (1 - tt) * z + tt * x1, atol=1e-6) and torch.allclose(target, x1 - z)
    exact = lambda time, x: target
    assert torch.equal(obj.per_sample_loss(exact, t, z, x1), torch.zeros(6))
    zero = lambda time, x: torch.zeros_like(x)
    assert torch.allclose(obj.per_sample_loss(zero, t, z, x1), target.square().sum(dim=(1, 2)))
    den = Objective("denoiser", Linear(), obj.base, (1, 8))
    assert torch.equal(den.pair(t, z, x1)[1], x1)
    vt, vz = obj.validation_draws(seed=3, n=4)
    assert torch.allclose(vt, 0.1 + 0.8 * (torch.arange(4, dtype=torch.float64) + 0.5) / 4)
    assert torch.equal(vz, obj.validation_draws(seed=3, n=4)[1])


def test_state_round_trip_is_exact():
    torch.manual_seed(0)

    def build():
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.SiLU(), torch.nn.Linear(8, 2))
        opt = make_optimizer(model, 1e-2, 0.01)
        return model, make_ema(model, 0.99), opt, make_scheduler(opt, 3, 50)

    model, ema, opt, sched = build()
    x = torch.randn(16, 4)

    def step(model, ema, opt, sched):
        opt.zero_grad()
        model(x).square().sum().backward()
        opt.step()
        sched.step()
        ema.update_parameters(model)

    for _ in range(5):
        step(model, ema, opt, sched)
    tensors, meta = capture_state(model, ema, opt, sched, 5, {"best_loss": 0.5})
    import json

    meta = json.loads(json.dumps(meta))  # what the checkpoint metadata does to it
    other = build()
    k, progress = restore_state({n: t.clone() for n, t in tensors.items()}, meta, *other)
    assert k == 5 and progress == {"best_loss": 0.5}
    for _ in range(5):
        step(model, ema, opt, sched)
        step(*other)
    for a, b in zip([*model.parameters(), *ema.parameters()], [*other[0].parameters(), *other[1].parameters()]):
        assert torch.equal(a, b)
    wrong = torch.nn.Linear(4, 2)
    opt2 = make_optimizer(wrong, 1e-2, 0.0)
    with pytest.raises(StateMismatch):
        restore_state(tensors, meta, wrong, make_ema(wrong, 0.9), opt2, make_scheduler(opt2, 1, 2))
    assert math.isfinite(float(tensors["optim.0.step"]))


def test_train_package_is_maths_only():
    import ast
    from pathlib import Path

    import sictl.train

    forbidden = ("h5py", "safetensors", "typer", "rich", "sictl.io", "sictl.pipeline", "sictl.cli")
    for path in Path(sictl.train.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
