"""Every reader rejects foreign, corrupt or tampered files with a SchemaError naming the file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from sictl.errors import SchemaError
from sictl.io import (
    SCHEMA_VERSION,
    iter_dataset_batches,
    read_dataset,
    read_report,
    read_samples,
    read_schedule,
)

READERS = {"dataset": read_dataset, "schedule": read_schedule, "samples": read_samples, "report": read_report}


@pytest.mark.parametrize("kind", list(READERS))
def test_round_trip_baseline(files, kind):
    READERS[kind](files[kind])  # the untampered files are valid


@pytest.mark.parametrize(
    ("kind", "other"),
    [("dataset", "samples"), ("schedule", "dataset"), ("samples", "report"), ("report", "schedule")],
)
def test_wrong_kind(files, kind, other):
    with pytest.raises(SchemaError) as info:
        READERS[kind](files[other])
    assert str(info.value) == f"{files[other]} is a '{other}' file, expected a '{kind}' file"
    assert "sictl" in info.value.hint


@pytest.mark.parametrize("kind", list(READERS))
def test_newer_version(files, kind):
    with h5py.File(files[kind], "r+") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION[kind] + 1
    with pytest.raises(SchemaError, match="reads up to") as info:
        READERS[kind](files[kind])
    assert str(files[kind]) in str(info.value)
    assert "upgrade" in info.value.hint


@pytest.mark.parametrize("kind", list(READERS))
def test_no_kind_attribute(files, kind):
    with h5py.File(files[kind], "r+") as f:
        del f.attrs["sictl_kind"]
    with pytest.raises(SchemaError, match="not written by sictl") as info:
        READERS[kind](files[kind])
    assert str(files[kind]) in str(info.value)


@pytest.mark.parametrize("kind", list(READERS))
def test_truncated(files, kind):
    path = files[kind]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SchemaError, match="truncated") as info:
        READERS[kind](path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("kind", list(READERS))
def test_text_file_with_h5_name(tmp_path, kind):
    path = tmp_path / "notes.h5"
    path.write_text("t,alpha\n0,1\n")
    with pytest.raises(SchemaError, match="is not an HDF5 file") as info:
        READERS[kind](path)
    assert str(path) in str(info.value)


def test_nan_in_dataset_array(files):
    with h5py.File(files["dataset"], "r+") as f:
        f["t0_fields/u"][2, 1, 0, 3] = np.nan
    read_dataset(files["dataset"])  # metadata alone is fine ...
    with pytest.raises(SchemaError, match="non-finite") as info:
        list(iter_dataset_batches(files["dataset"], batch_size=4))
    assert str(files["dataset"]) in str(info.value)
    assert "/t0_fields/u: 1 non-finite value(s), first at index (2, 1, 0, 3)" in str(info.value)
    with pytest.raises(
        SchemaError, match=r"/t0_fields/u\[2\]: 1 non-finite value\(s\), first at index \(1, 0, 3\)"
    ):
        list(iter_dataset_batches(files["dataset"], batch_size=2))  # T = 3 > 2: per-trajectory reads


def test_nan_in_stats(files):
    with h5py.File(files["dataset"], "r+") as f:
        f["stats/mode_power"][0, 0] = np.nan
    with pytest.raises(SchemaError, match=r"/stats/mode_power: 1 non-finite"):
        read_dataset(files["dataset"])


def test_nan_in_schedule(files):
    with h5py.File(files["schedule"], "r+") as f:
        f["beta"][5] = np.nan
    with pytest.raises(SchemaError, match="beta is NaN") as info:
        read_schedule(files["schedule"])
    assert str(files["schedule"]) in str(info.value)


def test_wrong_ndim_samples(files):
    with h5py.File(files["samples"], "r+") as f:
        del f["samples"]
        f["samples"] = np.zeros(5, np.float32)
    with pytest.raises(SchemaError) as info:
        read_samples(files["samples"])
    assert str(info.value) == (
        f"{files['samples']}: /samples: expected float32 (n, C, *spatial) or (n, dim), got float32 (5,)"
    )


def test_wrong_dtype_schedule(files):
    with h5py.File(files["schedule"], "r+") as f:
        data = f["t"][()]
        del f["t"]
        f["t"] = data.astype(np.float32)
    with pytest.raises(SchemaError, match=r"/t: expected float64 \(P,\), got float32"):
        read_schedule(files["schedule"])


def test_wrong_ndim_dataset_field(files):
    with h5py.File(files["dataset"], "r+") as f:
        del f["t0_fields/u"]
        f["t0_fields/u"] = np.zeros((5, 3, 24), np.float32)
    with pytest.raises(SchemaError, match=r"/t0_fields/u: expected float32 \(traj, time, x, y\)") as info:
        read_dataset(files["dataset"])
    assert str(files["dataset"]) in str(info.value)


def test_dataset_trajectory_count_mismatch(files):
    with h5py.File(files["dataset"], "r+") as f:
        f.attrs["n_trajectories"] = 99
    with pytest.raises(SchemaError, match="n_trajectories = 99"):
        read_dataset(files["dataset"])


def test_dataset_time_length_mismatch(files):
    with h5py.File(files["dataset"], "r+") as f:
        del f["dimensions/time"]
        f["dimensions/time"] = np.zeros(7, np.float32)
    with pytest.raises(SchemaError, match="has 7 entries"):
        read_dataset(files["dataset"])


def test_dataset_missing_dimension(files):
    with h5py.File(files["dataset"], "r+") as f:
        del f["dimensions/y"]
    with pytest.raises(SchemaError, match="missing dataset /dimensions/y"):
        read_dataset(files["dataset"])


def test_dataset_bad_source_and_normalization(files):
    with h5py.File(files["dataset"], "r+") as f:
        f["normalization"].attrs["constant"] = -1.0
    with pytest.raises(SchemaError, match="normalization constant"):
        read_dataset(files["dataset"])
    with h5py.File(files["dataset"], "r+") as f:
        f["normalization"].attrs["constant"] = 2.0
        f.attrs["source"] = "weather"
    with pytest.raises(SchemaError, match="'weather' is not one of"):
        read_dataset(files["dataset"])


def test_report_invalid_json(files):
    with h5py.File(files["report"], "r+") as f:
        f.attrs["report"] = "{not json"
    with pytest.raises(SchemaError, match="not valid JSON") as info:
        read_report(files["report"])
    assert str(files["report"]) in str(info.value)
