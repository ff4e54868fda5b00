"""Messages of the forecasting options: ``sample --diffusion FILE`` (a tabulated g(t)) and forecast export.

Each case is a CLI run whose parameter id (``msg-…``) is a row of the table in docs/reliability.md
(tests/bad_input/test_reliability_table.py keeps the two in sync). A refused run exits 1 with one
``Error:`` line holding a stable fragment and a ``Hint:`` line, writes nothing and leaves its inputs
byte-identical.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sictl.cli.app import app

runner = CliRunner()


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _csv(path: Path, header: str, rows) -> None:
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """ou.h5, cond.h5 (OU pairs, 16 points) and diffusion tables, good and bad."""
    d = tmp_path_factory.mktemp("inputs")
    for name, n, seed in (("ou.h5", 8, 0), ("cond.h5", 2, 1)):
        result = runner.invoke(app, ["prepare", "ou-pairs", "--snapshots", "3", "--lag", "1", "--res", "16", "--n", str(n),
                                     "--seed", str(seed), "-o", str(d / name), "--quiet"])
        assert result.exit_code == 0, result.output
    t = np.linspace(0.0, 1.0, 11)
    _csv(d / "nocol.csv", "t,h", [(a, 1.0) for a in t])
    _csv(d / "nonmono.csv", "t,g", [(a, 1.0) for a in (0.0, 0.5, 0.4, 1.0)])
    (d / "nan.json").write_text(json.dumps({"t": t.tolist(), "g": [1.0] * 5 + ["NaN"] + [1.0] * 5}), encoding="utf-8")
    (d / "nan.json").write_text((d / "nan.json").read_text().replace('"NaN"', "NaN"), encoding="utf-8")
    _csv(d / "negative.csv", "t,g", [(a, -0.5 if i == 3 else 1.0) for i, a in enumerate(t)])
    _csv(d / "short.csv", "t,g", [(a, 1.0) for a in np.linspace(0.0, 0.9, 10)])
    return d


FORECAST = ["sample", "--exact", "{d}/ou.h5", "--condition", "{d}/cond.h5", "--members", "2", "--steps", "4",
            "-o", "{o}/f.h5", "--diffusion"]

REFUSED = [
    pytest.param([*FORECAST, "{d}/nocol.csv"], "no column 'g' (columns: t, h)", id="msg-diffusion-table-missing-column"),
    pytest.param([*FORECAST, "{d}/nonmono.csv"], "t is not strictly increasing (t[1] = 0.5, t[2] = 0.4)",
                 id="msg-diffusion-table-not-increasing"),
    pytest.param([*FORECAST, "{d}/nan.json"], "g[5] is nan (the table must be finite)", id="msg-diffusion-table-nan"),
    pytest.param([*FORECAST, "{d}/negative.csv"], "g[3] = -0.5 is negative", id="msg-diffusion-table-negative"),
    pytest.param([*FORECAST, "{d}/short.csv"], "the table covers t ∈ [0, 0.9] but the sampling window is [0, 1]",
                 id="msg-diffusion-table-window"),
    pytest.param([*FORECAST[:-1], "--export", "{o}/f.txt"], "the export is a netCDF (.nc) or zarr (.zarr) file",
                 id="msg-export-suffix"),
    pytest.param(["sample", "--exact", "{d}/ou.h5", "--steps", "4", "-o", "{o}/s.h5", "--export", "{o}/s.nc"],
                 "--export writes forecasts (netCDF/zarr): it needs --condition FILE", id="msg-export-needs-condition"),
    pytest.param([*FORECAST[:-3], "-o", "-", "--export", "{o}/f.nc"], "--export reads the forecasts file back: it needs -o FILE",
                 id="msg-export-stdout"),
]


@pytest.mark.parametrize("args,fragment", REFUSED)
def test_refused_with_one_true_line(data, tmp_path, args, fragment):
    before = snapshot(data)
    result = runner.invoke(app, [a.format(d=data, o=tmp_path) for a in args])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert result.stderr.splitlines()[1].startswith("Hint: ") and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == [] and snapshot(data) == before


@pytest.mark.parametrize("t_max", [pytest.param("0.9", id="msg-diffusion-table-inside-window")])
def test_a_table_covering_the_window_is_accepted(data, tmp_path, t_max):
    args = [a.format(d=data, o=tmp_path) for a in FORECAST] + [str(data / "short.csv"), "--t-max", t_max, "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["diffusion"] == str(data / "short.csv") and summary["t_max"] == 0.9


@pytest.mark.parametrize("blocked", [pytest.param("xarray", id="msg-export-no-xarray"),
                                     pytest.param("h5netcdf", id="msg-export-no-h5netcdf")])
def test_export_without_xarray_names_the_pip_command(data, tmp_path, monkeypatch, blocked):
    import sys

    monkeypatch.setitem(sys.modules, blocked, None)  # import xarray → ImportError
    args = [a.format(d=data, o=tmp_path) for a in FORECAST[:-1]] + ["--export", str(tmp_path / "f.nc")]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"netCDF/zarr export needs {blocked}, which is not installed" in errors[0], result.stderr
    assert 'pip install "xarray>=2024.1" "h5netcdf>=1.3" "zarr>=2.16"' in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", [pytest.param("keep.zarr", id="msg-export-folder-not-zarr")])
def test_export_never_replaces_a_folder_that_is_not_a_zarr_store(data, tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    args = [a.format(d=data, o=tmp_path) for a in FORECAST[:-1]] + ["--export", str(folder)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "is a folder that holds no zarr store; it is not replaced" in errors[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [name] and (folder / "notes.txt").read_text() == "mine"
