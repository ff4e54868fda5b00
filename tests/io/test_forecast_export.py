"""Forecast ensembles exported to netCDF and zarr through xarray (sictl.io.forecast_export, `sample --export`)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from sictl.cli.app import app

xr = pytest.importorskip("xarray")
pytest.importorskip("h5netcdf")
pytest.importorskip("zarr")
runner = CliRunner()


def _invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """f.h5 (a forecasts file: 6 conditions × 5 members × 2 leads of 16² fields) exported as f.nc and f.zarr,
    and a truth array (6, 2, 16, 16)."""
    import torch

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("export")
    for name, n, seed in (("ou.h5", 8, 0), ("cond.h5", 3, 1)):
        _invoke("prepare", "ou-pairs", "--snapshots", "3", "--lag", "1", "--res", "16", "--dim", "2", "--n", str(n),
                "--seed", str(seed), "-o", str(d / name), "--quiet")
    common = ["sample", "--exact", str(d / "ou.h5"), "--condition", str(d / "cond.h5"), "--members", "5", "--rollout", "2",
              "--steps", "10", "--seed", "2", "-o", str(d / "f.h5"), "--json"]
    summary = json.loads(_invoke(*common, "--export", str(d / "f.nc")).stdout)
    assert summary["export"] == {"path": str(d / "f.nc"), "format": "netcdf", "variable": "u",
                                 "dims": ["condition", "ensemble", "lead", "x", "y"], "shape": [6, 5, 2, 16, 16]}
    from sictl.io.forecast_export import export_forecasts

    assert export_forecasts(d / "f.h5", d / "f.zarr")["format"] == "zarr"
    np.save(d / "truth.npy", np.random.default_rng(0).standard_normal((6, 2, 16, 16)).astype(np.float32))
    return d


def test_the_netcdf_file_has_the_ensemble_layout_and_the_provenance(made):
    from sictl.io import read_forecasts

    fc = read_forecasts(made / "f.h5")
    with xr.open_dataset(made / "f.nc", engine="h5netcdf") as ds:
        assert ds["u"].dims == ("condition", "ensemble", "lead", "x", "y")
        assert ds["initial_condition"].dims == ("condition", "x", "y")
        np.testing.assert_array_equal(ds["u"].values, fc.forecasts[:, :, :, 0])
        np.testing.assert_array_equal(ds["initial_condition"].values, fc.conditions[:, 0])
        assert ds["lead"].values.tolist() == [1, 2] and ds.sizes["ensemble"] == 5
        with h5py.File(made / "f.h5") as f:
            for key in ("sictl_kind", "schema_version", "seed", "field", "normalization_constant", "lag", "nfe"):
                assert ds.attrs[key] == (f.attrs[key].decode() if isinstance(f.attrs[key], bytes) else f.attrs[key]), key
            assert json.loads(ds.attrs["config"]) == json.loads(f.attrs["config"])
            assert json.loads(ds.attrs["inputs"]) == json.loads(f.attrs["inputs"])
        assert ds.attrs["sictl_forecast_variable"] == "u" and ds.attrs["source_file"] == "f.h5"


def test_zarr_holds_the_same_dataset(made):
    with xr.open_dataset(made / "f.nc", engine="h5netcdf") as a, \
            xr.open_dataset(made / "f.zarr", engine="zarr", consolidated=False, chunks=None) as b:
        xr.testing.assert_identical(a.load(), b.load())


@pytest.mark.parametrize("exported", ["f.nc", "f.zarr"])
def test_evaluate_scores_the_export_as_the_hdf5_file(made, exported):
    """Round trip HDF5 → .nc / .zarr → evaluate: every per-lead score equal to the HDF5's to 1e-12."""
    def scores(path):
        out = json.loads(_invoke("evaluate", str(path), "--truth", str(made / "truth.npy"), "--truth-layout",
                                 "condition lead x y", "--json").stdout)
        return out

    ref, got = scores(made / "f.h5"), scores(made / exported)
    assert got["layout"] == "condition ensemble lead x y" and got["n_members"] == 5 and got["n_leads"] == 2
    np.testing.assert_allclose(got["metrics"]["crps"]["per_lead"], ref["metrics"]["crps"]["per_lead"], rtol=0, atol=1e-12)
    for name in ("rmse", "spread", "spread_skill", "energy_score"):
        np.testing.assert_allclose(got["metrics"][name]["per_lead"], ref["metrics"][name]["per_lead"], rtol=0, atol=1e-12)
    assert got["inputs"][str(made / exported)].startswith("sha256:")


def test_a_zarr_export_replaces_an_older_store(made, tmp_path):
    """`sample --export g.zarr` twice: the second store replaces the first, no temporary or old store left."""
    common = ["sample", "--exact", str(made / "ou.h5"), "--condition", str(made / "cond.h5"), "--members", "2",
              "--steps", "4", "-o", str(tmp_path / "g.h5"), "--export", str(tmp_path / "g.zarr"), "--quiet"]
    _invoke(*common)
    first = sorted(p.name for p in (tmp_path / "g.zarr").iterdir())
    _invoke(*common, "--seed", "9")
    assert sorted(p.name for p in (tmp_path / "g.zarr").iterdir()) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.h5", "g.zarr"]
    with xr.open_dataset(tmp_path / "g.zarr", engine="zarr", consolidated=False, chunks=None) as ds:
        assert ds.attrs["seed"] == 9 and ds["u"].shape == (6, 2, 1, 16, 16)
