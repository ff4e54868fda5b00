"""Tests for sictl.models: shapes, preset sizes, periodic shift equivariance, config round trips."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch

from sictl.models import (
    MLP,
    PRESETS,
    MLPConfig,
    UNet,
    UNetConfig,
    build_model,
    check_fits,
    config_from_dict,
    count_parameters,
    make_config,
    make_model,
    sinusoidal_embedding,
)
from sictl.models import presets as presets_module

F64 = torch.float64
#: lucidrains Unet1D(32, dim_mults=(1, 2, 2, 2)) and Unet(32, dim_mults=(1, 2, 2, 2)) parameter counts.
AUTHORS_1D, AUTHORS_2D = 1_061_577, 2_063_857
#: (sample shape, cond_channels) covering 1-D, 2-D and vector networks with and without conditioning.
CASES = [((1, 32), 0), ((2, 32), 3), ((1, 16, 16), 0), ((2, 8, 16), 1), ((3,), 0), ((5,), 2)]


def inputs(shape, cond_channels, batch=3, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *shape, generator=g, dtype=dtype)
    cond_shape = (batch, cond_channels, *shape[1:]) if len(shape) > 1 else (batch, cond_channels)
    cond = torch.randn(*cond_shape, generator=g, dtype=dtype) if cond_channels else None
    t = torch.rand(batch, generator=g, dtype=dtype)
    return t, x, cond


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("shape,cond_channels", CASES)
def test_output_shape_and_kind(shape, cond_channels):
    torch.manual_seed(0)
    model = make_model("tiny", shape, cond_channels=cond_channels)
    assert isinstance(model, MLP if len(shape) == 1 else UNet)
    t, x, cond = inputs(shape, cond_channels)
    out = model(t, x, cond)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    # a scalar time (python float or 0-d tensor) is shared by the batch
    assert torch.allclose(model(0.25, x, cond), model(torch.full((3,), 0.25), x, cond))
    assert torch.allclose(model(torch.tensor(0.25), x, cond), model(0.25, x, cond))


def test_out_channels_override():
    model = make_model("tiny", (2, 16, 16), out_channels=5)
    assert model(0.5, torch.randn(2, 2, 16, 16)).shape == (2, 5, 16, 16)
    assert make_model("tiny", (4,), out_channels=1)(0.5, torch.randn(2, 4)).shape == (2, 1)


@pytest.mark.parametrize("dim", [1, 2])
def test_preset_sizes(dim):
    shape = (1,) + (32,) * dim
    tiny, small, medium = (count_parameters(make_model(p, shape)) for p in ("tiny", "small", "medium"))
    assert tiny < 50_000
    assert 100_000 <= small <= 300_000
    target = AUTHORS_1D if dim == 1 else AUTHORS_2D
    assert abs(medium / target - 1) < 0.05, (medium, target)


def test_documented_counts_are_the_measured_ones():
    measured = {p: [count_parameters(make_model(p, s)) for s in [(1, 64), (1, 64, 64), (2,), (64,)]]
                for p in PRESETS}
    for preset, counts in measured.items():
        row = next(line for line in presets_module.__doc__.splitlines() if line.startswith(preset))
        assert row.split()[1:] == [f"{n:,}" for n in counts], (preset, counts)
    assert measured["tiny"][2] < 50_000 and 100_000 <= measured["small"][2] <= 300_000


def test_count_parameters_counts_shared_tensors_once():
    lin = torch.nn.Linear(3, 4)
    assert count_parameters(torch.nn.Sequential(lin, lin)) == 16


def _depth(model):
    layers = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear)
    return sum(1 for m in model.modules() if isinstance(m, layers))


@pytest.mark.parametrize("shape", [(2, 32), (1, 16, 16)])
def test_periodic_shift_equivariance(shape):
    """Shifting by multiples of 2**(levels-1) commutes with the network, attention included."""
    torch.manual_seed(1)
    model = make_model("tiny", shape, cond_channels=1).to(F64)
    config = model.config
    assert any(config.attention) and config.mid_attention
    t, x, cond = inputs(shape, 1, dtype=F64)
    out = model(t, x, cond)
    axes = tuple(range(2, 2 + config.dim))
    d = config.divisor
    # Exact in real arithmetic; in float64 only sums are reordered: a few ulps per layer.
    tol = 1e3 * _depth(model) * torch.finfo(F64).eps
    for shift in [(d,) * config.dim, (-3 * d, 2 * d)[: config.dim]]:
        moved = model(t, x.roll(shift, axes), cond.roll(shift, axes))
        assert rel(moved, out.roll(shift, axes)) < tol
    # a shift that is not a multiple of the divisor is not a symmetry: the check can fail
    odd = (d // 2,) * config.dim
    assert rel(model(t, x.roll(odd, axes), cond.roll(odd, axes)), out.roll(odd, axes)) > 1e3 * tol


@pytest.mark.parametrize("shape,cond_channels", CASES)
def test_config_round_trip_rebuilds_the_same_model(shape, cond_channels):
    torch.manual_seed(2)
    model = make_model("tiny", shape, cond_channels=cond_channels)
    stored = json.loads(json.dumps(model.config.to_dict()))
    assert stored == model.config.to_dict()
    assert config_from_dict(stored) == model.config
    rebuilt = build_model(stored)
    assert type(rebuilt) is type(model) and rebuilt.config == model.config
    before = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == before
    t, x, cond = inputs(shape, cond_channels)
    assert not torch.equal(rebuilt(t, x, cond), model(t, x, cond))  # fresh weights differ
    rebuilt.load_state_dict(model.state_dict())
    assert torch.equal(rebuilt(t, x, cond), model(t, x, cond))


def test_config_normalisation_and_validation():
    by_index = UNetConfig(2, mults=(1, 2, 2), attention=(-1,))
    assert by_index.attention == (False, False, True)
    assert by_index == UNetConfig(2, mults=(1, 2, 2), attention=(False, False, True))
    assert UNetConfig(1, mults=[1, 2], attention=[]).attention == (False, False)
    assert UNetConfig.from_dict(UNetConfig(1).to_dict()) == UNetConfig(1)
    assert MLPConfig(4).out_channels == 4
    bad = [
        lambda: UNetConfig(3),
        lambda: UNetConfig(1, channels=12, groups=8),
        lambda: UNetConfig(1, attention=(True, False)),
        lambda: UNetConfig(1, attention=(7,)),
        lambda: UNetConfig(1, time_dim=20),
        lambda: UNetConfig(1, mults=()),
        lambda: UNetConfig.from_dict({"dim": 1, "width": 3}),
        lambda: UNetConfig.from_dict(MLPConfig(2).to_dict()),
        lambda: MLPConfig(0),
        lambda: config_from_dict({"dim": 1}),
        lambda: make_model("huge", (1, 32)),
        lambda: make_model("tiny", (1, 2, 3, 4)),
        lambda: make_model("tiny", (4,), channels=8),  # a U-Net option given to an MLP
    ]
    for make in bad:
        with pytest.raises(ValueError):
            make()


def test_overrides_and_none_values():
    config = make_config("small", (1, 64), channels=24, mults=(1, 2), attention=None, groups=None)
    assert config.channels == 24 and config.mults == (1, 2) and config.attention == (False, True)
    assert config.groups == PRESETS["small"]["unet"]["groups"]
    assert make_config("tiny", (3,), width=32).width == 32


def test_check_fits():
    config = make_config("tiny", (1, 32, 32))
    assert config.divisor == 4
    check_fits(config, (32, 36))
    check_fits(config.to_dict(), (4, 8))
    for shape in [(30, 32), (32, 2), (32,), (0, 32)]:
        with pytest.raises(ValueError, match="spatial|axes"):
            check_fits(config, shape)
    with pytest.raises(ValueError, match=r"spatial size 30 .* multiple of 4"):
        check_fits(config, (32, 30))
    with pytest.raises(ValueError, match="multiple of 8"):
        make_model("medium", (1, 100))
    model = build_model(config)
    with pytest.raises(ValueError, match="multiple of 4"):
        model(0.5, torch.randn(1, 1, 32, 30))


def test_input_validation():
    unet = make_model("tiny", (1, 16), cond_channels=2)
    x = torch.randn(2, 1, 16)
    for cond in [None, torch.randn(2, 1, 16), torch.randn(2, 2, 8)]:
        with pytest.raises(ValueError, match="cond"):
            unet(0.5, x, cond)
    with pytest.raises(ValueError, match="x must have shape"):
        unet(0.5, torch.randn(2, 3, 16), torch.randn(2, 2, 16))
    with pytest.raises(ValueError, match="t has 3 elements"):
        unet(torch.rand(3), x, torch.randn(2, 2, 16))
    mlp = make_model("tiny", (3,))
    with pytest.raises(ValueError, match="cond"):
        mlp(0.5, torch.randn(2, 3), torch.randn(2, 1))
    with pytest.raises(ValueError, match="x must have shape"):
        mlp(0.5, torch.randn(2, 4))


@pytest.mark.parametrize("shape,cond_channels", CASES)
def test_time_and_cond_change_the_output(shape, cond_channels):
    torch.manual_seed(3)
    model = make_model("tiny", shape, cond_channels=cond_channels)
    _, x, cond = inputs(shape, cond_channels)
    base = model(0.5, x, cond)
    assert rel(model(0.9, x, cond), base) > 1e-3
    assert rel(model(0.5 + 1e-3, x, cond), base) > 1e-5  # nearby times are told apart
    assert rel(model(0.5, 1.1 * x, cond), base) > 1e-3
    if cond_channels:
        assert rel(model(0.5, x, cond + 1.0), base) > 1e-3


@pytest.mark.parametrize("shape,cond_channels", CASES)
def test_bfloat16_autocast(shape, cond_channels):
    torch.manual_seed(4)
    model = make_model("tiny", shape, cond_channels=cond_channels)
    t, x, cond = inputs(shape, cond_channels)
    with torch.no_grad():
        exact = model(t, x, cond)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(t, x, cond)
    assert low.shape == exact.shape and torch.isfinite(low).all()
    assert rel(low.float(), exact) < 0.1  # bf16 keeps ~3 digits per operation


def test_gradients_reach_every_parameter():
    model = make_model("tiny", (1, 16, 16), cond_channels=1)
    t, x, cond = inputs((1, 16, 16), 1)
    model(t, x, cond).square().mean().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_sinusoidal_embedding():
    t = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    emb = sinusoidal_embedding(t, 8)
    assert emb.shape == (3, 8) and emb.dtype == F64
    assert torch.equal(emb[0], torch.tensor([0.0] * 4 + [1.0] * 4, dtype=F64))
    # the first frequency is 1 per unit of 1000·t
    assert torch.allclose(emb[1, 0], torch.sin(torch.tensor(500.0, dtype=F64)))
    assert torch.allclose(emb.square()[:, :4] + emb.square()[:, 4:], torch.ones(3, 4, dtype=F64))
    with pytest.raises(ValueError):
        sinusoidal_embedding(t, 7)


def test_models_are_pure_maths():
    allowed = {"torch", "einops", "math", "dataclasses", "typing", "collections", "__future__", "sictl"}
    for path in (Path(__file__).resolve().parents[2] / "sictl" / "models").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                top = name.split(".")[0]
                assert top in allowed, f"{path.name} imports {name}"
                # maths below it (core) and its own modules; never files, pipeline or the CLI
                assert top != "sictl" or name.startswith(("sictl.models.", "sictl.core.")), f"{path.name} imports {name}"
        assert "open(" not in path.read_text()
