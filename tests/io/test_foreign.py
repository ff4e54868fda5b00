"""sictl.io.foreign: somebody else's .npy/.npz/.pt/.h5 arrays, and sictl files read the same way."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from sictl.errors import SchemaError, SictlError
from sictl.io import DatasetMeta, DatasetStats, Normalization, SamplesMeta, write_dataset, write_samples
from sictl.io.foreign import load_foreign_array, read_foreign


def test_npy_npz_and_keys(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.save(tmp_path / "a.npy", a)
    fa = read_foreign(tmp_path / "a.npy")
    assert fa.kind == "npy" and np.array_equal(fa.data, a) and fa.layout is None
    np.savez(tmp_path / "one.npz", u=a)
    assert np.array_equal(load_foreign_array(tmp_path / "one.npz"), a)
    np.savez(tmp_path / "pair.npz", u=a, time=np.array([0.0, 0.5, 1.0]))
    fa = read_foreign(tmp_path / "pair.npz")
    assert fa.key == "u" and fa.time.tolist() == [0.0, 0.5, 1.0]
    np.savez(tmp_path / "two.npz", u=a, v=a)
    with pytest.raises(SchemaError, match="several arrays"):
        read_foreign(tmp_path / "two.npz")
    assert np.array_equal(read_foreign(tmp_path / "two.npz", "v").data, a)
    with pytest.raises(SchemaError, match="no array 'w'"):
        read_foreign(tmp_path / "two.npz", "w")
    ints = np.arange(6).reshape(2, 3)
    np.save(tmp_path / "i.npy", ints)
    assert read_foreign(tmp_path / "i.npy").data.dtype == np.float64


def test_authors_navier_stokes_pt_tuple_is_recognised(tmp_path):
    data, time = torch.randn(3, 5, 8, 8), torch.linspace(0, 1, 5)
    torch.save((data, time), tmp_path / "data_file01.pt")
    fa = read_foreign(tmp_path / "data_file01.pt")
    assert fa.layout == "traj time x y" and fa.data.shape == (3, 5, 8, 8)
    assert np.allclose(fa.time, time.numpy())
    torch.save({"w": data}, tmp_path / "d.pt")
    assert read_foreign(tmp_path / "d.pt").key == "w"
    assert read_foreign(tmp_path / "data_file01.pt", "1").data.shape == (5,)


class _Obj:
    pass


def test_pickled_and_unreadable_files_are_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SchemaError, match="pickled"):
        read_foreign(tmp_path / "obj.npy")
    torch.save({"x": _Obj()}, tmp_path / "evil.pt")
    with pytest.raises(SchemaError, match="pickled"):
        read_foreign(tmp_path / "evil.pt")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(SchemaError, match="junk.npy"):
        read_foreign(tmp_path / "junk.npy")
    (tmp_path / "what.xyz").write_text("hello")
    with pytest.raises(SchemaError, match="unknown file type"):
        read_foreign(tmp_path / "what.xyz")
    with pytest.raises(SchemaError, match="no such file"):
        read_foreign(tmp_path / "missing.npy")
    np.save(tmp_path / "c.npy", np.ones(3, dtype=complex))
    with pytest.raises(SchemaError, match="complex"):
        read_foreign(tmp_path / "c.npy")


def test_nonfinite_values_raise_unless_allowed(tmp_path):
    a = np.zeros((4, 8), np.float32)
    a[2, 3] = np.nan
    np.save(tmp_path / "n.npy", a)
    with pytest.raises(SchemaError, match=r"1 non-finite value.*\(2, 3\)"):
        read_foreign(tmp_path / "n.npy")
    assert np.isnan(read_foreign(tmp_path / "n.npy", allow_nonfinite=True).data).sum() == 1


def test_plain_and_sictl_hdf5(tmp_path):
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["group/u"] = np.ones((2, 4), np.float32)
    fa = read_foreign(tmp_path / "plain.h5")
    assert fa.kind == "h5" and fa.key == "group/u"
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f["a"], f["b"] = np.ones(3), np.zeros(3)
    with pytest.raises(SchemaError, match="holds 2 datasets"):
        read_foreign(tmp_path / "two.h5")
    assert read_foreign(tmp_path / "two.h5", "b").data.tolist() == [0, 0, 0]

    x = np.random.default_rng(0).standard_normal((6, 1, 8)).astype(np.float32)
    write_samples(tmp_path / "s.h5", x, SamplesMeta(drift_source="exact:x", solver="heun", steps=2))
    fa = read_foreign(tmp_path / "s.h5")
    assert fa.kind == "sictl-samples" and fa.layout == "sample channel x" and np.array_equal(fa.data, x)

    power = np.full((8, 8), 0.5)
    meta = DatasetMeta(dataset_name="d", source="gaussian-field", sample_shape=(8, 8), time=np.arange(2.0),
                       normalization=Normalization("rms", 2.0), field_names=("vorticity",))
    stored = np.ones((3, 2, 8, 8), np.float32)
    write_dataset(tmp_path / "d.h5", stored, meta, DatasetStats(power, None, 1.0, 0.0, "vorticity"))
    fa = read_foreign(tmp_path / "d.h5")
    assert fa.kind == "sictl-dataset" and fa.layout == "traj time x y"
    assert np.allclose(fa.data, 2.0)  # data units: stored × constant
    assert np.allclose(fa.attrs["mode_power"], 0.5 * 4.0) and fa.attrs["field"] == "vorticity"
    with pytest.raises(SictlError, match="no field"):
        read_foreign(tmp_path / "d.h5", "u")


def test_sictl_mixture_dataset_gives_data_unit_mixture(tmp_path):
    import json

    meta = DatasetMeta(dataset_name="gmm", source="gmm", sample_shape=(1,), vector=True,
                       normalization=Normalization("rms", 10.0),
                       attrs={"mixture": json.dumps({"weights": [0.3, 0.7], "means": [[1.0], [-1.0]],
                                                     "covs": [[[0.01]], [[0.01]]]})})
    write_dataset(tmp_path / "g.h5", np.ones((5, 1, 1), np.float32), meta)
    fa = read_foreign(tmp_path / "g.h5")
    assert fa.layout == "traj time dim"
    assert fa.attrs["mixture"]["means"] == [[10.0], [-10.0]]
    assert np.allclose(fa.attrs["mixture"]["covs"], [[[1.0]], [[1.0]]])
