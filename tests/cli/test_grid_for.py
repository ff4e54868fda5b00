"""`design-schedule --grid-for SOLVER --nfe K`, the designed grid in the schedule file, `sample` using it only as
designed, `gaussian-check` measuring it, and the field-mixture laboratory through `prepare`, `sample --exact`,
`gaussian-check` and `design-schedule` — all through the CLI, on small grids."""

from __future__ import annotations

import json

import h5py
import pytest
from typer.testing import CliRunner

from sictl.cli.app import app

runner = CliRunner()
MIXTURE = "8:0.5,3,1,1;0.5,3,20,0.01"


def cli(*args: str, ok: bool = True) -> dict | str:
    result = runner.invoke(app, [*args, "--json"] if ok else list(args))
    if ok:
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)
    assert result.exit_code != 0, result.output
    return result.output


@pytest.fixture(scope="module")
def designed(tmp_path_factory):
    """A Matérn N = 8 schedule file with a grid designed for unipc3 at 8 NFE, and a dataset of that field."""
    folder = tmp_path_factory.mktemp("grid_for")
    schedule, data = folder / "s.h5", folder / "grf.h5"
    out = cli("design-schedule", "--matern", "8", "--grid-for", "unipc3", "--nfe", "8", "-o", str(schedule))
    runner.invoke(app, ["prepare", "gaussian-field", "--res", "8", "--n", "40", "-o", str(data)])
    return folder, schedule, data, out


def test_design_schedule_stores_and_reports_the_grid(designed):
    from sictl.io import read_schedule

    _, schedule, _, out = designed
    g = out["grid_design"]
    assert g["solver"] == "unipc3" and g["nfe"] == 8 and g["steps"] == 8 and g["fast_recursion"]
    assert g["error_max"] < g["uniform_logsnr"]["spectral_error_max"] / 3
    assert g["design_time_s"] > 0 and len(out["grid"]) == 9
    table = read_schedule(schedule)
    assert table.grid.tolist() == out["grid"]
    assert table.grid_design["solver"] == "unipc3" and table.grid_design["nfe"] == 8
    assert table.grid_design["error_max"] == g["error_max"]


def test_gaussian_check_measures_the_designed_grid(designed):
    _, schedule, _, out = designed
    got = cli("gaussian-check", "--matern", "8", "--schedules", str(schedule), "--solvers", "unipc3",
              "--grid", f"{schedule},logsnr", "--steps", "8")
    by_grid = {r["grid"]: r for r in got["runs"]}
    run = by_grid[str(schedule)]
    assert run["steps"] == 8 and run["nfe"] == 8 and run["grid_designed_for"] == {"solver": "unipc3", "nfe": 8}
    assert run["spectral_error_max"] == pytest.approx(out["grid_design"]["error_max"], rel=1e-9)
    assert run["spectral_error_max"] < by_grid["logsnr"]["spectral_error_max"]


def test_sample_uses_the_grid_as_designed_and_refuses_otherwise(designed):
    folder, schedule, data, _ = designed
    base = ["sample", "--exact", str(data), "--grid", str(schedule), "--n", "4"]
    out = cli(*base, "--schedule", str(schedule), "--solver", "unipc3", "-o", str(folder / "x.h5"))
    assert out["nfe"] == 8 and out["grid"] == f"file:{schedule} (designed for unipc3 at 8 NFE)"
    text = cli(*base, "--schedule", str(schedule), "--solver", "expint3", "-o", str(folder / "y.h5"), ok=False)
    assert "designed for --solver unipc3 at 8 NFE" in text and "--grid-for expint3" in text
    text = cli(*base, "--schedule", "linear", "--solver", "unipc3", "-o", str(folder / "z.h5"), ok=False)
    assert "designed for another schedule" in text


def test_options_are_checked_before_any_work():
    assert "go together" in cli("design-schedule", "--matern", "16", "--grid-for", "unipc3", ok=False)
    assert "multiple of 4" in cli("design-schedule", "--matern", "16", "--grid-for", "rk4-38", "--nfe", "10", ok=False)
    assert "Gaussian targets and field mixtures" in cli("design-schedule", "--gmm", "5", "--grid-for", "unipc3",
                                                         "--nfe", "8", ok=False)


def test_old_files_read_and_a_broken_design_is_refused(designed, tmp_path):
    import shutil

    from sictl.errors import SchemaError
    from sictl.io import read_schedule

    _, schedule, _, _ = designed
    plain = tmp_path / "plain.h5"
    shutil.copy(schedule, plain)
    with h5py.File(plain, "a") as f:
        del f["grid"].attrs["design"]  # a file written before designed grids
    assert read_schedule(plain).grid_design is None
    with h5py.File(plain, "a") as f:
        f["grid"].attrs["design"] = json.dumps({"solver": "unipc3", "nfe": 0})
    with pytest.raises(SchemaError, match="nfe must be a positive integer"):
        read_schedule(plain)


def test_field_mixture_through_every_command(tmp_path):
    data = tmp_path / "fm.h5"
    result = runner.invoke(app, ["prepare", "field-mixture", "--mixture", MIXTURE, "--n", "30", "-o", str(data)])
    assert result.exit_code == 0, result.output
    out = cli("sample", "--exact", str(data), "--schedule", "designed", "--solver", "unipc3", "--grid", "logsnr",
              "--steps", "6", "--n", "4", "-o", str(tmp_path / "x.h5"))
    assert out["exact"]["kind"] == "field-mixture" and out["sample_shape"] == [1, 8, 8]
    check = cli("gaussian-check", "--spectrum", str(data), "--schedules", "designed", "--solvers", "unipc3",
                "--grid", "logsnr", "--steps", "6", "--lab-samples", "4")
    assert check["target"]["kind"] == "field-mixture"
    run = check["runs"][0]
    assert run["nfe"] == 6 and {"path_error_max", "sample_error_max", "component_error_max"} <= set(run)
    spec = cli("gaussian-check", "--field-mixture", MIXTURE, "--schedules", "designed", "--solvers", "unipc3",
               "--grid", "logsnr", "--steps", "6", "--lab-samples", "4")
    assert spec["runs"][0]["spectral_error_max"] == pytest.approx(run["spectral_error_max"], rel=1e-9)
    made = cli("design-schedule", "--field-mixture", MIXTURE, "--grid-for", "unipc3", "--nfe", "6", "--lab-samples",
               "4", "-o", str(tmp_path / "s.h5"))
    assert made["target"]["kind"] == "field-mixture" and "reference run" in made["grid_design"]["objective"]
