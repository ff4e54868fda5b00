"""Samples and report files: exact round trips, NaN counting, atomic streaming writes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sictl.errors import SchemaError, ShapeError
from sictl.io import (
    SamplesMeta,
    SamplesWriter,
    count_nonfinite,
    iter_samples_batches,
    load_samples_array,
    read_report,
    read_samples,
    write_report,
    write_samples,
)

META = SamplesMeta(
    drift_source="checkpoint:model.safetensors",
    solver="rk4",
    steps=9,
    nfe=36,
    grid="logsnr",
    drift_checksum="sha256:aa",
    schedule_checksum="sha256:bb",
    wall_time_s=1.25,
    normalization_constant=3.5,
    grid_times=np.linspace(0.0, 1.0, 10),
    attrs={"diffusion": "optimal", "t_min": 0.001},
    config={"n": 6, "solver": "rk4"},
    inputs={"model.safetensors": "sha256:aa"},
    seed=42,
)


def test_samples_round_trip_exact(tmp_path):
    x = np.random.default_rng(0).standard_normal((6, 2, 4, 4)).astype(np.float32)
    write_samples(tmp_path / "s.h5", x, META)
    s = read_samples(tmp_path / "s.h5")
    assert (s.n, s.sample_shape, s.condition_index) == (6, (2, 4, 4), None)
    for name in (
        "drift_source",
        "solver",
        "steps",
        "nfe",
        "grid",
        "drift_checksum",
        "schedule_checksum",
        "wall_time_s",
        "normalization_constant",
        "attrs",
        "config",
        "inputs",
        "seed",
    ):
        assert getattr(s.meta, name) == getattr(META, name), name
    np.testing.assert_array_equal(s.meta.grid_times, META.grid_times)
    np.testing.assert_array_equal(s.load(), x)
    assert s.provenance.kind == "samples"


@settings(max_examples=25, deadline=None)
@given(
    arrays(
        np.float32,
        st.tuples(st.integers(1, 7), st.integers(1, 5)),
        elements=st.floats(width=32, allow_nan=False, allow_infinity=False),
    )
)
def test_samples_round_trip_property(tmp_path_factory, x):
    path = tmp_path_factory.mktemp("h") / "s.h5"
    write_samples(path, x, SamplesMeta(drift_source="exact:g", solver="euler", steps=1, nfe=1))
    np.testing.assert_array_equal(load_samples_array(path), x)


def test_writer_batches_update_and_condition_index(tmp_path):
    rng = np.random.default_rng(1)
    parts = [rng.standard_normal((k, 3)).astype(np.float32) for k in (4, 1, 5)]
    with SamplesWriter(tmp_path / "s.h5", META, sample_shape=(3,)) as w:
        for i, part in enumerate(parts):
            w.append(part, condition_index=np.full(len(part), i))
        w.update(nfe=99, wall_time_s=7.5)
    s = read_samples(tmp_path / "s.h5")
    assert (s.meta.nfe, s.meta.wall_time_s, s.meta.steps) == (99, 7.5, 9)
    np.testing.assert_array_equal(s.condition_index, [0] * 4 + [1] + [2] * 5)
    assert [b.shape for b in iter_samples_batches(tmp_path / "s.h5", 4)] == [(4, 3), (4, 3), (2, 3)]
    np.testing.assert_array_equal(np.concatenate(list(s.iter_batches(3))), np.concatenate(parts))


def test_condition_index_all_or_nothing(tmp_path):
    with pytest.raises(ShapeError, match="every batch or with none"):
        with SamplesWriter(tmp_path / "s.h5", META, sample_shape=(3,)) as w:
            w.append(np.zeros((2, 3)), condition_index=[0, 1])
            w.append(np.zeros((2, 3)))
    assert os.listdir(tmp_path) == []


def test_nonfinite_samples_counted_not_hidden(tmp_path):
    x = np.zeros((10, 1, 4), np.float32)
    x[2, 0, 1] = np.nan
    x[7, 0, :] = np.inf
    write_samples(tmp_path / "s.h5", x, META)
    assert count_nonfinite(tmp_path / "s.h5") == 2
    with pytest.raises(
        SchemaError, match=r"/samples: 5 non-finite value\(s\), first at index \(2, 0, 1\)"
    ) as info:
        load_samples_array(tmp_path / "s.h5")
    assert str(tmp_path / "s.h5") in str(info.value)
    # batch by batch, the reported index is still the index in the file
    x[2, 0, 1] = 0.0
    write_samples(tmp_path / "s.h5", x, META)
    batches = iter_samples_batches(tmp_path / "s.h5", 3)
    assert next(batches).shape == (3, 1, 4) and next(batches).shape == (3, 1, 4)
    with pytest.raises(SchemaError, match=r"first at index \(7, 0, 0\)"):
        next(batches)
    assert np.isposinf(load_samples_array(tmp_path / "s.h5", allow_nonfinite=True)[7]).all()


def test_samples_writer_errors_leave_nothing(tmp_path):
    target = tmp_path / "s.h5"
    target.write_bytes(b"old")
    with pytest.raises(ShapeError, match=r"expected \(b, 3\)"):
        with SamplesWriter(target, META, sample_shape=(3,)) as w:
            w.append(np.zeros((2, 3)))
            w.append(np.zeros((2, 4)))
    with pytest.raises(ShapeError, match="no samples"):
        with SamplesWriter(target, META, sample_shape=(3,)):
            pass
    with pytest.raises(ShapeError, match="expected 5 samples, got 2"):
        with SamplesWriter(target, META, sample_shape=(3,), n=5) as w:
            w.append(np.zeros((2, 3)))
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["s.h5"]


def test_samples_stdout_stdin(fake_stdout, set_stdin):
    out = fake_stdout()
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    write_samples("-", x, META)
    set_stdin(out.buffer.getvalue())
    np.testing.assert_array_equal(read_samples("-").load(), x)


def test_report_round_trip_exact(tmp_path):
    report = {
        "relative_spectral_error": {"mean": 0.125, "max": 0.5},
        "n": 100,
        "ok": True,
        "bands": [0.1, 0.2],
        "nan_metric": float("nan"),
        "name": "evaluate",
    }
    arrays_in = {
        "spectrum/k": np.arange(1, 5),
        "spectrum/energy": np.array([1.0, 0.5, np.nan, 0.1]),
        "hist": np.ones((2, 3), np.float32),
        "mask": np.array([True, False]),
    }
    write_report(
        tmp_path / "r.h5",
        report,
        arrays_in,
        config={"metric": "spectrum"},
        inputs={"s.h5": "sha256:cc"},
        seed=5,
    )
    r = read_report(tmp_path / "r.h5")
    assert r.report.keys() == report.keys() and np.isnan(r.report["nan_metric"])
    assert {k: v for k, v in r.report.items() if k != "nan_metric"} == {
        k: v for k, v in report.items() if k != "nan_metric"
    }
    assert sorted(r.arrays) == sorted(arrays_in)
    for name, value in arrays_in.items():
        np.testing.assert_array_equal(r.arrays[name], value)
        assert r.arrays[name].dtype == value.dtype
    assert (r.config, r.inputs, r.seed) == ({"metric": "spectrum"}, {"s.h5": "sha256:cc"}, 5)
    assert r.created_by.startswith("sictl")


def test_report_rejects_bad_arrays(tmp_path):
    with pytest.raises(ShapeError, match="numeric"):
        write_report(tmp_path / "r.h5", {}, {"names": np.array(["a", "b"])})
    with pytest.raises(ShapeError, match="relative name"):
        write_report(tmp_path / "r.h5", {}, {"/abs": np.zeros(2)})
    assert os.listdir(tmp_path) == []


def test_report_numpy_values_in_json(tmp_path):
    write_report(tmp_path / "r.h5", {"x": np.float32(0.5), "v": np.arange(3), "i": np.int64(4)})
    assert read_report(tmp_path / "r.h5").report == {"x": 0.5, "v": [0, 1, 2], "i": 4}
