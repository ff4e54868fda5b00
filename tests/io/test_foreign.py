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


def test_npy_is_memory_mapped_and_read_in_slices(tmp_path, monkeypatch, foreign_reads):
    from sictl.io import foreign

    a = np.random.default_rng(1).standard_normal((12, 3, 8)).astype(np.float32)
    np.save(tmp_path / "a.npy", a)
    monkeypatch.setattr(foreign, "BLOCK_BYTES", 4 * 3 * 8 * 5)  # five rows per slice
    shapes = foreign_reads
    with foreign.open_foreign(tmp_path / "a.npy") as fa:
        assert isinstance(fa.data._base, np.memmap) and fa.data.shape == a.shape
        parts = list(fa.data.blocks(0))
        along_1 = list(fa.data.blocks(1, 2))
    assert [s for s, _ in parts] == [0, 5, 10] and shapes[:3] == [(5, 3, 8), (5, 3, 8), (2, 3, 8)]
    assert np.array_equal(np.concatenate([b for _, b in parts]), a)
    assert np.array_equal(np.concatenate([b for _, b in along_1], axis=1), a)
    # read_foreign loads the same array, slice by slice
    shapes.clear()
    assert np.array_equal(read_foreign(tmp_path / "a.npy").data, a) and max(s[0] for s in shapes) == 5


def test_nonfinite_values_are_found_in_later_slices_with_their_index(tmp_path, monkeypatch):
    from sictl.io import foreign

    a = np.zeros((10, 4), np.float64)
    a[7, 1] = -np.inf
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["x"] = a
    monkeypatch.setattr(foreign, "BLOCK_BYTES", 8 * 4 * 3)  # three rows per slice
    with pytest.raises(SchemaError, match=r"non-finite value.*\(7, 1\)"):
        read_foreign(tmp_path / "x.h5")
    with foreign.open_foreign(tmp_path / "x.h5") as fa:
        assert isinstance(fa.data._base, h5py.Dataset)
        first = fa.data.read(0, 0, 3)  # the slices before the bad one read fine
        assert first.shape == (3, 4)
        with pytest.raises(SchemaError, match=r"\(7, 1\)"):
            fa.data.read(1, 1, 2)  # a column slice: the index is still the whole array's


def test_pt_is_loaded_memory_mapped_with_weights_only(tmp_path, monkeypatch):

    data = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    time = torch.arange(3.0)
    torch.save((data, time), tmp_path / "new.pt")
    torch.save((data, time), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    calls = []
    load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    for name in ("new.pt", "legacy.pt"):  # the legacy format cannot be mapped: read whole instead
        calls.clear()
        fa = read_foreign(tmp_path / name)
        assert fa.layout == "traj time x y" and np.array_equal(fa.data, data.numpy())
        assert calls[0]["mmap"] is True and all(c["weights_only"] is True for c in calls)
        assert len(calls) == (1 if name == "new.pt" else 2)
    torch.save(data.to(torch.bfloat16), tmp_path / "half.pt")
    assert read_foreign(tmp_path / "half.pt").data.dtype == np.float32
    torch.save(torch.ones(3, dtype=torch.bool), tmp_path / "b.pt")
    with pytest.raises(SchemaError, match="boolean"):
        read_foreign(tmp_path / "b.pt")


def test_sictl_dataset_slices_are_in_data_units_and_cut_to_fft_nodes(tmp_path):
    from sictl.io.foreign import open_foreign

    meta = DatasetMeta(dataset_name="ac", source="allen-cahn", sample_shape=(9,), time=np.arange(5.0),
                       normalization=Normalization("rms", 2.0), boundary="open", attrs={"fft_nodes": 8})
    stored = np.random.default_rng(2).standard_normal((3, 5, 9)).astype(np.float32)
    write_dataset(tmp_path / "ac.h5", stored, meta)
    with open_foreign(tmp_path / "ac.h5") as fa:
        assert fa.data.shape == (3, 5, 8)
        slab = fa.data.read(1, 2, 4)
    assert np.array_equal(slab, stored[:, 2:4, :8] * np.float32(2.0))
