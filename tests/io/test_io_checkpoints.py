"""Checkpoints (safetensors + JSON config) and foreign .pt tensors."""

from __future__ import annotations

import json
import os

import pytest
import torch

from sictl.errors import SchemaError, SictlError
from sictl.io import load_checkpoint, load_torch_tensors, read_checkpoint_config, save_checkpoint

CONFIG = {
    "arch": "unet2d",
    "channels": [32, 64],
    "lr": 3e-4,
    "schedule": {"family": "designed", "lambda": 1e-4},
}


def _tensors():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4, 3, generator=g)
    return {
        "net.w": w,
        "net.b": torch.arange(3, dtype=torch.float64),
        "ema.net.w": w,  # shared storage
        "step": torch.tensor(7),
        "half": torch.randn(2, generator=g).to(torch.bfloat16),
        "view": w.t(),
    }  # non-contiguous


def test_round_trip_exact(tmp_path):
    tensors = _tensors()
    save_checkpoint(tmp_path / "m.safetensors", tensors, CONFIG)
    back, config = load_checkpoint(tmp_path / "m.safetensors")
    assert config == CONFIG
    assert sorted(back) == sorted(tensors)
    for name, value in tensors.items():
        assert back[name].dtype == value.dtype and torch.equal(back[name], value), name
    assert read_checkpoint_config(tmp_path / "m.safetensors") == CONFIG


def test_metadata_fields(tmp_path):
    from safetensors import safe_open

    save_checkpoint(tmp_path / "m.safetensors", {"w": torch.ones(2)}, CONFIG)
    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as handle:
        meta = handle.metadata()
    assert meta["sictl_kind"] == "checkpoint" and meta["schema_version"] == "1"
    assert meta["created_by"].startswith("sictl ") and json.loads(meta["config"]) == CONFIG


def test_training_state_kind(tmp_path):
    save_checkpoint(
        tmp_path / "state.safetensors", {"adam.m": torch.zeros(3)}, {"step": 10}, kind="training-state"
    )
    tensors, state = load_checkpoint(tmp_path / "state.safetensors", kind="training-state")
    assert state == {"step": 10} and torch.equal(tensors["adam.m"], torch.zeros(3))
    with pytest.raises(SchemaError, match="is a 'training-state' file, expected a 'checkpoint' file"):
        load_checkpoint(tmp_path / "state.safetensors")


def test_atomic_on_failure(tmp_path):
    target = tmp_path / "m.safetensors"
    save_checkpoint(target, {"w": torch.ones(2)}, CONFIG)
    before = target.read_bytes()

    class Unjsonable:
        pass

    with pytest.raises(SictlError, match="JSON"):
        save_checkpoint(target, {"w": torch.zeros(2)}, {"bad": Unjsonable()})
    with pytest.raises(AttributeError):
        save_checkpoint(target, {"w": "not a tensor"}, CONFIG)  # type: ignore[dict-item]
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, {"w": torch.ones(100, 100)}, CONFIG)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SchemaError, match="not a readable safetensors checkpoint") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"hello, I am text\n", b"\x89HDF\r\n\x1a\n" + b"\0" * 100])
def test_not_safetensors(tmp_path, content):
    path = tmp_path / "m.safetensors"
    path.write_bytes(content)
    with pytest.raises(SchemaError, match="not a readable safetensors checkpoint") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_missing_and_empty(tmp_path):
    with pytest.raises(SchemaError, match="no such file"):
        load_checkpoint(tmp_path / "none.safetensors")
    (tmp_path / "e.safetensors").write_bytes(b"")
    with pytest.raises(SchemaError, match="is empty"):
        load_checkpoint(tmp_path / "e.safetensors")


def test_foreign_safetensors_and_newer_version(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2)}, str(tmp_path / "hf.safetensors"))
    with pytest.raises(SchemaError, match="not written by sictl"):
        load_checkpoint(tmp_path / "hf.safetensors")
    save_file(
        {"w": torch.ones(2)},
        str(tmp_path / "new.safetensors"),
        metadata={"sictl_kind": "checkpoint", "schema_version": "99", "config": "{}"},
    )
    with pytest.raises(SchemaError, match="reads up to") as info:
        load_checkpoint(tmp_path / "new.safetensors")
    assert "upgrade" in info.value.hint


def test_checkpoint_stdout_stdin(fake_stdout, set_stdin):
    out = fake_stdout()
    save_checkpoint("-", {"w": torch.arange(4.0)}, CONFIG)
    set_stdin(out.buffer.getvalue())
    tensors, config = load_checkpoint("-")
    assert config == CONFIG and torch.equal(tensors["w"], torch.arange(4.0))


def test_load_torch_tensors_plain(tmp_path):
    data, time = torch.randn(2, 3, 8, 8), torch.linspace(0, 1, 3)
    torch.save((data, time), tmp_path / "data_file01.pt")
    loaded = load_torch_tensors(tmp_path / "data_file01.pt")
    assert isinstance(loaded, tuple) and torch.equal(loaded[0], data) and torch.equal(loaded[1], time)


class Opaque:
    def __init__(self):
        self.x = 1


def test_load_torch_tensors_rejects_pickled_objects(tmp_path):
    torch.save({"model": Opaque(), "w": torch.ones(2)}, tmp_path / "evil.pt")
    with pytest.raises(SchemaError, match="holds pickled objects, not plain tensors") as info:
        load_torch_tensors(tmp_path / "evil.pt")
    assert str(tmp_path / "evil.pt") in str(info.value)
    assert ".npy" in info.value.hint


@pytest.mark.parametrize("content", ["truncated", "text"])
def test_load_torch_tensors_unreadable(tmp_path, content):
    path = tmp_path / "x.pt"
    if content == "truncated":
        torch.save(torch.ones(1000), path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_text("hello\n")
    with pytest.raises(SchemaError, match="is not a readable torch file") as info:
        load_torch_tensors(path)
    assert str(path) in str(info.value)
