"""Dataset files: exact round trips (fields, vectors, several fields, pairs), streaming, atomicity."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from sictl.errors import ConfigError, SchemaError, ShapeError, SictlError
from sictl.io import (
    DatasetMeta,
    DatasetStats,
    DatasetWriter,
    Normalization,
    iter_dataset_batches,
    iter_pair_batches,
    iter_trajectory_blocks,
    load_dataset_array,
    read_dataset,
    write_dataset,
)
from sictl.io.dataset_writer import field_chunks, slab_chunks
from sictl.io.fixtures import write_tiny_dataset


def test_round_trip_2d_exact(tmp_path, small_meta, small_stats):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 4, 6)).astype(np.float32)
    meta = small_meta(
        normalization=Normalization("rms", 2.5), coords={"x": np.linspace(0, 1, 4), "y": np.linspace(0, 2, 6)}
    )
    stats = small_stats()
    write_dataset(tmp_path / "d.h5", x, meta, stats)
    d = read_dataset(tmp_path / "d.h5")
    assert (d.n_trajectories, d.n_samples, d.n_pairs, d.batch_shape) == (5, 15, 0, (1, 4, 6))
    m = d.meta
    assert (m.dataset_name, m.source, m.sample_shape, m.field_names) == (
        "grf_test",
        "gaussian-field",
        (4, 6),
        ("u",),
    )
    assert m.n_spatial_dims == 2 and not m.vector and m.boundary == "periodic" and m.pairs_lag is None
    assert m.normalization == Normalization("rms", 2.5)
    assert m.attrs == {"s": 2.5, "spectrum": "matern", "n": 7}
    assert (m.config, m.inputs, m.seed) == (meta.config, meta.inputs, 11)
    np.testing.assert_array_equal(m.time, meta.time)
    for axis in ("x", "y"):
        np.testing.assert_array_equal(m.coords[axis], meta.coords[axis])
    np.testing.assert_array_equal(d.stats.mode_power, stats.mode_power)
    np.testing.assert_array_equal(d.stats.shell_spectrum, stats.shell_spectrum)
    assert (d.stats.pixel_rms, d.stats.pixel_mean, d.stats.field) == (0.75, -0.125, "u")
    np.testing.assert_array_equal(d.load(), x.reshape(15, 1, 4, 6))


@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 7, 100])
@pytest.mark.parametrize("n_times", [1, 5])
def test_batches_are_trajectory_major(tmp_path, batch_size, n_times):
    x = np.arange(6 * n_times * 8, dtype=np.float32).reshape(6, n_times, 8)
    write_dataset(
        tmp_path / "d.h5",
        x,
        DatasetMeta(
            dataset_name="ac",
            source="allen-cahn",
            sample_shape=(8,),
            time=np.arange(n_times),
            boundary="open",
        ),
    )
    batches = list(iter_dataset_batches(tmp_path / "d.h5", batch_size=batch_size))
    assert all(len(b) == batch_size for b in batches[:-1]) and 0 < len(batches[-1]) <= batch_size
    assert all(b.dtype == np.float32 and b.shape[1:] == (1, 8) for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches)[:, 0], x.reshape(-1, 8))


def test_vector_dataset(tmp_path):
    meta = write_tiny_dataset(tmp_path / "g.h5", n=7, shape=(3,), n_times=2, vector=True)
    d = read_dataset(tmp_path / "g.h5")
    assert d.meta.vector and d.meta.n_spatial_dims == 0 and d.meta.coords == {} and meta.source == "gmm"
    assert d.stats.mode_power is None and d.stats.shell_spectrum is None
    arr = d.load()
    assert arr.shape == (14, 3) and arr.dtype == np.float32
    assert np.isclose(d.stats.pixel_rms, np.sqrt(np.mean(arr.astype(np.float64) ** 2)))
    assert [b.shape for b in d.iter_batches(batch_size=5)] == [(5, 3), (5, 3), (4, 3)]


def test_several_fields_and_field_choice(tmp_path, small_meta):
    rng = np.random.default_rng(1)
    arrays = {"u": rng.random((2, 1, 8), dtype=np.float32), "v": rng.random((2, 1, 8), dtype=np.float32)}
    write_dataset(
        tmp_path / "d.h5", arrays, small_meta(sample_shape=(8,), time=[0.0], field_names=("v", "u"))
    )
    d = read_dataset(tmp_path / "d.h5")
    assert d.meta.field_names == ("v", "u") and d.stats is None
    np.testing.assert_array_equal(d.load("v")[:, 0], arrays["v"][:, 0])
    with pytest.raises(SictlError, match="several fields"):
        load_dataset_array(tmp_path / "d.h5")
    with pytest.raises(SictlError, match="no field 'w'"):
        list(iter_dataset_batches(tmp_path / "d.h5", "w"))


def test_pairs_round_trip(tmp_path):
    write_tiny_dataset(tmp_path / "p.h5", n=3, shape=(8, 8), n_times=4, lag=2)
    d = read_dataset(tmp_path / "p.h5")
    assert d.meta.pairs_lag == 2 and d.n_pairs == 3 * 2
    x = d.load().reshape(3, 4, 1, 8, 8)
    pairs = list(iter_pair_batches(tmp_path / "p.h5", batch_size=4))
    assert [p[0].shape[0] for p in d.iter_pairs(batch_size=5)] == [5, 1]
    x0 = np.concatenate([p[0] for p in pairs])
    x1 = np.concatenate([p[1] for p in pairs])
    np.testing.assert_array_equal(x0, x[:, :2].reshape(-1, 1, 8, 8))
    np.testing.assert_array_equal(x1, x[:, 2:].reshape(-1, 1, 8, 8))


def test_pairs_missing(tmp_path):
    write_tiny_dataset(tmp_path / "d.h5")
    with pytest.raises(SchemaError, match="no forecasting pairs") as info:
        next(iter_pair_batches(tmp_path / "d.h5"))
    assert "--lag" in info.value.hint


def test_fixture_stats_match_data(tmp_path):
    write_tiny_dataset(tmp_path / "d.h5", n=32, shape=(8, 8))
    d = read_dataset(tmp_path / "d.h5")
    x = d.load()[:, 0].astype(np.float64)
    power = np.mean(np.abs(np.fft.fft2(x, norm="forward")) ** 2, axis=0)
    np.testing.assert_allclose(d.stats.mode_power, power, rtol=1e-12)
    assert np.isclose(power.sum(), np.mean(x**2))  # Parseval with norm="forward"
    assert d.stats.shell_spectrum.shape == (4,)


def test_streaming_writer_and_chunks(tmp_path):
    meta = DatasetMeta(
        dataset_name="ns", source="navier-stokes", sample_shape=(16, 16), time=np.arange(20) * 0.5
    )
    rng = np.random.default_rng(2)
    blocks = [rng.standard_normal((k, 20, 16, 16)).astype(np.float32) for k in (2, 1, 3)]
    with DatasetWriter(tmp_path / "ns.h5", meta, n_trajectories=6) as w:
        for block in blocks:
            w.append(block)
        w.set_stats(DatasetStats(np.ones((16, 16)), np.ones(8), 1.0, 0.0))
    with h5py.File(tmp_path / "ns.h5") as f:
        ds = f["t0_fields/u"]
        assert ds.chunks == (6, 20, 16, 16) and ds.maxshape[0] is None
        assert f.attrs["n_trajectories"] == 6 and list(f["dimensions"].attrs["spatial_dims"]) == ["x", "y"]
        assert f["boundary_conditions/x_periodic"].attrs["bc_type"] == "periodic"
    np.testing.assert_array_equal(
        load_dataset_array(tmp_path / "ns.h5").reshape(6, 20, 16, 16), np.concatenate(blocks)
    )


def test_chunk_rule():
    assert field_chunks(100, (128, 128), None) == (1, 16, 128, 128)  # The Well's NS chunking
    assert field_chunks(5000, (129,), 10) == (1, 2032, 129)  # long chains: along time
    assert field_chunks(1, (32,), 10) == (10, 1, 32)  # i.i.d. samples: capped by the count


def test_writer_exception_leaves_nothing(tmp_path, small_meta):
    target = tmp_path / "d.h5"
    with pytest.raises(RuntimeError, match="simulation blew up"):
        with DatasetWriter(target, small_meta()) as w:
            w.append(np.zeros((2, 3, 4, 6), np.float32))
            raise RuntimeError("simulation blew up")
    assert os.listdir(tmp_path) == []


def test_writer_failure_keeps_existing_target(tmp_path, small_meta):
    target = tmp_path / "d.h5"
    write_tiny_dataset(target)
    before = target.read_bytes()
    with pytest.raises(SchemaError, match="non-finite"):
        write_dataset(target, np.full((1, 3, 4, 6), np.nan, np.float32), small_meta())
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["d.h5"]


def test_writer_shape_errors(tmp_path, small_meta, small_stats):
    with pytest.raises(ShapeError, match=r"expected \(n, 3, 4, 6\)"):
        write_dataset(tmp_path / "d.h5", np.zeros((2, 3, 6, 4), np.float32), small_meta())
    with pytest.raises(ShapeError, match="no trajectories"):
        with DatasetWriter(tmp_path / "d.h5", small_meta()):
            pass
    with pytest.raises(ShapeError, match="expected 3 trajectories, got 2"):
        with DatasetWriter(tmp_path / "d.h5", small_meta(), n_trajectories=3) as w:
            w.append(np.zeros((2, 3, 4, 6), np.float32))
    with pytest.raises(ShapeError, match="mode_power"):
        write_dataset(
            tmp_path / "d.h5", np.zeros((2, 3, 4, 6), np.float32), small_meta(), small_stats((6, 4))
        )
    assert os.listdir(tmp_path) == []


def test_time_slabs_write_the_same_file_as_whole_trajectories(tmp_path):
    """Markov chains come out a thinning block at a time: append_times writes (B, k, ...) slabs."""
    meta = DatasetMeta(dataset_name="chains", source="allen-cahn", sample_shape=(9,), time=np.arange(7.0),
                       boundary="open")
    x = np.random.default_rng(3).standard_normal((5, 7, 9)).astype(np.float32)
    with DatasetWriter(tmp_path / "slabs.h5", meta, n_trajectories=5, time_block=3) as w:
        for t in range(0, 7, 3):
            w.append_times(x[:, t : t + 3])
    write_dataset(tmp_path / "whole.h5", x, meta)
    assert np.array_equal(load_dataset_array(tmp_path / "slabs.h5"), load_dataset_array(tmp_path / "whole.h5"))
    with h5py.File(tmp_path / "slabs.h5") as f:
        assert f["t0_fields/u"].chunks == (5, 3, 9) and f.attrs["n_trajectories"] == 5
    # read back in the same slabs (all trajectories, 3 snapshots), or in whole trajectories
    slabs = list(iter_trajectory_blocks(tmp_path / "slabs.h5", trajectories=5, times=3))
    assert [b.shape for b in slabs] == [(5, 3, 9), (5, 3, 9), (5, 1, 9)]
    assert np.array_equal(np.concatenate(slabs, axis=1), x)
    assert np.array_equal(np.concatenate(list(iter_trajectory_blocks(tmp_path / "slabs.h5", trajectories=2))), x)
    # a range of trajectories, in blocks that stop at its end
    part = list(iter_trajectory_blocks(tmp_path / "slabs.h5", trajectories=2, start=1, stop=4))
    assert [b.shape[0] for b in part] == [2, 1] and np.array_equal(np.concatenate(part), x[1:4])
    part = list(iter_trajectory_blocks(tmp_path / "slabs.h5", trajectories=3, times=4, start=2, stop=5))
    assert [b.shape for b in part] == [(3, 4, 9), (3, 3, 9)] and np.array_equal(np.concatenate(part, axis=1), x[2:5])


def test_slab_chunks_are_whole_slabs_of_about_a_mebibyte():
    assert slab_chunks(64, (65,), 256, 32) == (126, 32, 65)  # 126 × 32 × 65 × 4 B ≈ 1 MiB
    assert slab_chunks(10, (65,), 3, 32) == (3, 10, 65)
    assert slab_chunks(100, (128, 128), 8, 32) == (1, 16, 128, 128)  # 16 frames of 64 KiB; 16 divides 32
    # a long single-trajectory import read in big slabs still gets ~1 MiB chunks, dividing the slab
    assert slab_chunks(5000, (64, 64), 1, 2048) == (1, 64, 64, 64)
    assert slab_chunks(5000, (64, 64), 1, 3000) == (1, 60, 64, 64)
    for n_times, shape, block in [(5000, (64, 64), 2048), (100, (128, 128), 32), (64, (65,), 32), (7, (33,), 5)]:
        chunk = slab_chunks(n_times, shape, 4, block)
        assert min(n_times, block) % chunk[1] == 0
        assert 4 * chunk[0] * chunk[1] * int(np.prod(shape)) <= max(1 << 20, 4 * int(np.prod(shape)))


@pytest.mark.parametrize(
    ("calls", "n_trajectories", "error", "message"),
    [
        ([("append_times", (2, 1, 4), 0.0)], None, ShapeError, "needs the number of trajectories"),
        ([("append_times", (3, 1, 4), 0.0)], 2, ShapeError, r"expected \(2, k, 4\)"),
        ([("append_times", (2, 2, 4), 0.0)] * 2, 2, ShapeError, "exceed the 3 times"),
        ([("append_times", (2, 2, 4), 0.0)], 2, ShapeError, "expected 3 snapshots per trajectory"),
        ([("append", (1, 3, 4), 0.0), ("append_times", (2, 1, 4), 0.0)], 2, ShapeError, "after append"),
        ([("append_times", (2, 1, 4), 0.0), ("append_times", (2, 1, 4), np.inf)], 2, SchemaError,
         r"times 1\+\): 8 non-finite value.*\(1, 0, 0\)"),
    ],
)
def test_time_slab_errors(tmp_path, calls, n_trajectories, error, message):
    meta = DatasetMeta(dataset_name="c", source="allen-cahn", sample_shape=(4,), time=np.arange(3.0))
    with pytest.raises(error, match=message):
        with DatasetWriter(tmp_path / "d.h5", meta, n_trajectories=n_trajectories) as w:
            for method, shape, value in calls:
                getattr(w, method)(np.full(shape, value, np.float32))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source": "weather"}, "source must be one of"),
        ({"sample_shape": (0, 4)}, "invalid sample shape"),
        ({"sample_shape": (2, 2), "vector": True}, "invalid sample shape"),
        ({"field_names": ("a/b",)}, "invalid field names"),
        ({"coords": {"x": np.zeros(3)}}, "coords must be"),
        ({"sample_shape": (3,), "vector": True, "coords": {"x": np.zeros(3)}}, "no spatial coordinates"),
    ],
)
def test_meta_validation(changes, message, small_meta):
    with pytest.raises(ConfigError, match=message):
        small_meta(**changes)


def test_normalization_validation():
    with pytest.raises(ConfigError, match="scheme"):
        Normalization("zscore", 1.0)
    with pytest.raises(ConfigError, match="positive"):
        Normalization("rms", 0.0)
    assert Normalization("rms", np.float32(2.0)).constant == 2.0


def test_stdout_stdin_round_trip(tmp_path, fake_stdout, set_stdin):
    out = fake_stdout()
    write_tiny_dataset("-", n=4, shape=(8,), n_times=3)
    set_stdin(out.buffer.getvalue())
    d = read_dataset("-")
    assert d.path == "-" and d.n_samples == 12
    assert d.load().shape == (12, 1, 8)
    assert [b.shape[0] for b in d.iter_batches(batch_size=5)] == [5, 5, 2]
