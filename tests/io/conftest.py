"""Shared helpers for the I/O tests: fake stdin/stdout and small valid files of every kind."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from sictl.io import DatasetMeta, DatasetStats, SamplesMeta, write_dataset, write_report, write_samples
from sictl.io.fixtures import write_tiny_schedule


class FakeStream:
    """A text-stream stand-in whose ``.buffer`` is a BytesIO, like ``sys.stdout``/``sys.stdin``."""

    def __init__(self, data: bytes = b"") -> None:
        self.buffer = io.BytesIO(data)

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:  # pytest may print through it
        return self.buffer.write(text.encode())

    def flush(self) -> None:
        pass


@pytest.fixture
def fake_stdout(monkeypatch):
    """Call inside the test (pytest re-installs its own capture between setup and call)."""

    def install() -> FakeStream:
        stream = FakeStream()
        monkeypatch.setattr(sys, "stdout", stream)
        return stream

    return install


@pytest.fixture
def set_stdin(monkeypatch):
    def setter(data: bytes) -> FakeStream:
        stream = FakeStream(data)
        monkeypatch.setattr(sys, "stdin", stream)
        return stream

    return setter


def make_meta(**changes) -> DatasetMeta:
    fields = {
        "dataset_name": "grf_test",
        "source": "gaussian-field",
        "sample_shape": (4, 6),
        "time": np.array([0.0, 0.5, 1.0], np.float32),
        "attrs": {"s": 2.5, "spectrum": "matern", "n": 7},
        "config": {"source": "gaussian-field", "n": 5},
        "inputs": {"spec.h5": "sha256:00"},
        "seed": 11,
    }
    fields.update(changes)
    return DatasetMeta(**fields)


def make_stats(shape=(4, 6)) -> DatasetStats:
    rng = np.random.default_rng(1)
    return DatasetStats(rng.random(shape), rng.random(shape[0] // 2), 0.75, -0.125)


@pytest.fixture
def small_meta():
    """Factory: a valid 2-D field DatasetMeta (sample shape (4, 6), 3 times), with overrides."""
    return make_meta


@pytest.fixture
def small_stats():
    """Factory: DatasetStats for a given sample shape."""
    return make_stats


@pytest.fixture
def files(tmp_path):
    """One valid file of each HDF5 kind: {kind: path}."""
    rng = np.random.default_rng(0)
    paths = {k: tmp_path / f"{k}.h5" for k in ("dataset", "schedule", "samples", "report")}
    write_dataset(
        paths["dataset"], rng.standard_normal((5, 3, 4, 6)).astype(np.float32), make_meta(), make_stats()
    )
    write_tiny_schedule(paths["schedule"])
    write_samples(
        paths["samples"],
        rng.standard_normal((10, 1, 8)).astype(np.float32),
        SamplesMeta(drift_source="exact:x.h5", solver="heun", steps=4, nfe=7),
    )
    write_report(paths["report"], {"metric": 1.5}, {"k": np.arange(3)})
    return paths
