"""`sictl design-schedule` through the CLI (issue acceptance points), parsing --json."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sictl.cli.app import app

runner = CliRunner()


def design(*args: str) -> dict:
    result = runner.invoke(app, ["design-schedule", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ratio_table_is_the_designed_schedule(tmp_path):
    from sictl.io import read_schedule

    path = tmp_path / "s.h5"
    lam = 1e-4
    out = design("--ratio", str(lam), "--lipschitz", "-o", str(path))
    assert out["schedule"] == str(path) and out["criterion"] == "a2" and out["family"] == "designed"
    assert out["a2"]["designed"] == pytest.approx(math.log(lam) ** 2 / 4, rel=1e-12)
    assert out["a2"]["linear"] > out["a2"]["trig"] * 0 + out["a2"]["designed"]
    table = read_schedule(path)
    assert table.t.size >= 2001 and table.t[0] == 0 and table.t[-1] == 1
    assert np.abs(table.alpha**2 + table.beta**2 - 1).max() < 1e-12
    assert np.abs(table.alpha**2 + table.beta**2 * lam - lam**table.t).max() < 1e-12
    # derivatives consistent with values: centred differences on the interior
    t, b = table.t[500:1500], table.beta[500:1500]
    fd = (b[2:] - b[:-2]) / (t[2:] - t[:-2])
    assert np.abs(fd / table.beta_dot[501:1499] - 1).max() < 5e-5  # O(h²) of the difference
    assert table.grid is not None and table.grid.size == 20
    assert table.metrics["a2"]["designed"] == pytest.approx(out["a2"]["designed"])
    assert table.target["kind"] == "ratios" and table.target["checksum"].startswith("sha256:")
    assert design("--ratio", "2e-4")["target"]["checksum"] != table.target["checksum"]


def test_read_back_verbatim_and_checksum_recorded(tmp_path):
    from sictl.core.schedules import Designed
    from sictl.io import file_checksum, read_schedule
    from sictl.pipeline.schedule_files import load_schedule

    path = tmp_path / "s.h5"
    design("--ratio", "0.003", "-o", str(path))
    table = read_schedule(path)
    sched, checksum, info = load_schedule(str(path))
    v = sched(torch.from_numpy(table.t))
    for name in ("alpha", "beta"):
        assert np.abs(getattr(v, name).numpy() - getattr(table, name)).max() < 1e-12
    inner = slice(1, -1)
    assert np.abs(v.beta_dot.numpy()[inner] - table.beta_dot[inner]).max() / np.abs(table.beta_dot[inner]).max() < 1e-12
    assert checksum == file_checksum(path) and info["family"] == "designed"
    assert isinstance(sched, Designed)
    result = runner.invoke(app, ["gaussian-check", "--ratio", "0.003", "--schedules", f"designed,{path}", "--json"])
    check = json.loads(result.stdout)
    assert check["inputs"][str(path)] == checksum
    assert check["schedules"][str(path)]["a2"] == pytest.approx(check["schedules"]["designed"]["a2"], rel=1e-12)


@pytest.mark.parametrize("M, lin, opt", [(5, 2.54399, 1.50771), (20, 10.1760, 1.51093)])
def test_gmm_a2_values(M, lin, opt):
    out = design("--gmm", str(M))
    assert out["a2"]["linear"] == pytest.approx(lin, rel=5e-5)
    assert out["a2"]["designed"] == pytest.approx(opt, rel=5e-5)
    assert out["lipschitz"]["linear"] == pytest.approx(M**2)


def test_mixed_ratios_rescaled_design(tmp_path):
    out = design("--ratio", "0.01", "--ratio", "1", "--ratio", "50", "-o", str(tmp_path / "m.h5"))
    assert out["family"] == "designed-pair"
    a2 = out["a2"]
    assert a2["designed"] == pytest.approx(math.log(0.01) ** 2 / 4, rel=1e-9)
    assert a2["designed"] < min(a2["linear"], a2["trig"])
    assert out["a2_saved_by_rescaling"] > 0
    check = json.loads(runner.invoke(app, ["gaussian-check", "--ratio", "0.01,1,50", "--schedules",
                                           f"designed:0.01,{tmp_path / 'm.h5'}", "--json"]).stdout)
    assert check["schedules"][str(tmp_path / "m.h5")]["a2"] < check["schedules"]["designed:0.01"]["a2"]
    vp = design("--ratio", "0.01,1,50", "--no-rescale")
    assert vp["family"] == "vp-clock"
    assert vp["a2"]["designed"] == pytest.approx(out["a2_variance_preserving"], rel=1e-6)


def test_kinetic_criterion_compares():
    out = design("--ratio", "0.01", "--kinetic")
    assert out["criterion"] == "kinetic"
    assert out["kinetic"]["designed"] == pytest.approx(0.81, rel=1e-6)
    assert out["kinetic"]["designed"] < out["kinetic"]["linear"]
    assert out["a2"]["designed"] > math.log(0.01) ** 2 / 4  # not the Lipschitz optimum


def test_spectrum_file_target_equals_matern(tmp_path):
    from sictl.core.spectra import matern_power
    from sictl.io import DatasetMeta, DatasetStats, write_dataset

    power = matern_power(32, 2).numpy()
    fields = np.zeros((2, 1, 32, 32), np.float32)
    meta = DatasetMeta(dataset_name="grf", source="gaussian-field", sample_shape=(32, 32))
    path = tmp_path / "d.h5"
    write_dataset(path, fields, meta, DatasetStats(power, np.ones(16), 1.0, 0.0))
    from_file = design("--data", str(path))
    direct = design("--matern", "32")
    assert from_file["params"]["lam"] == pytest.approx(direct["params"]["lam"], rel=1e-12)
    assert from_file["inputs"]["target"].startswith("sha256:")
    # a spectral base equal to the target leaves nothing to design except the λ = 1 limit
    same = design("--data", str(path), "--base", f"spectral:{path}")
    assert same["params"]["lam"] == pytest.approx(1.0)


def test_general_mixture_file(tmp_path):
    spec = {"weights": [0.5, 0.5], "means": [[3.0], [-3.0]], "covs": [1.0, 1.0]}
    path = tmp_path / "mix.json"
    path.write_text(json.dumps(spec))
    out = design("--gmm-file", str(path))
    exact = design("--gmm", "3")
    assert out["a2"]["designed"] < out["a2"]["linear"]
    assert out["a2"]["designed"] == pytest.approx(exact["a2"]["designed"], rel=0.1)


def test_exports_and_plot(tmp_path):
    base = tmp_path / "s.h5"
    out = design("--ratio", "0.01", "-o", str(base), "--export", "csv", "--plot", str(tmp_path / "s.png"))
    csv = tmp_path / "s.csv"
    assert out["export"] == str(csv) and csv.exists()
    rows = [line for line in csv.read_text().splitlines() if not line.startswith("#")]
    assert rows[0].split(",")[:3] == ["t", "alpha", "beta"] and len(rows) > 2001
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    js = design("--ratio", "0.01", "--export", "json", "--export-path", str(tmp_path / "s.json"))
    doc = json.loads((tmp_path / "s.json").read_text())
    assert js["export"] == str(tmp_path / "s.json") and "beta" in json.dumps(doc)


@pytest.mark.parametrize("args", [["--matern", "128", "--lipschitz"], ["--gmm", "20"]])
def test_fast_enough(args, tmp_path):
    start = time.perf_counter()
    design(*args, "-o", str(tmp_path / "s.h5"))
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--ratio", "0"], "must be > 0"),
        (["--ratio", "-2"], "must be > 0"),
        (["--ratio", "0.1", "--lipschitz", "--kinetic"], "exclude"),
        (["--gmm", "5,1.2"], "(0, 1)"),
        (["--ratio", "0.1", "-o", "/nonexistent_dir/s.h5"], "nonexistent_dir"),
    ],
)
def test_bad_input(args, needle, tmp_path):
    result = runner.invoke(app, ["design-schedule", *args])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and needle in result.stderr.splitlines()[0]
    assert "Traceback" not in result.output


def test_bad_mixture_weights_and_spectra_leave_no_file(tmp_path):
    import h5py

    from sictl.io import DatasetMeta, DatasetStats, write_dataset

    out = tmp_path / "out.h5"
    mix = tmp_path / "bad.json"
    mix.write_text(json.dumps({"weights": [0.6, 0.6], "means": [[1.0], [-1.0]], "covs": [1, 1]}))
    result = runner.invoke(app, ["design-schedule", "--gmm-file", str(mix), "-o", str(out)])
    assert result.exit_code == 1 and "sum" in result.stderr and not out.exists()

    meta = DatasetMeta(dataset_name="grf", source="gaussian-field", sample_shape=(8, 8))
    empty = tmp_path / "empty.h5"
    write_dataset(empty, np.zeros((1, 1, 8, 8), np.float32), meta, DatasetStats(np.zeros((8, 8)), np.zeros(4), 0.0, 0.0))
    result = runner.invoke(app, ["design-schedule", "--data", str(empty), "-o", str(out)])
    assert result.exit_code == 1 and "empty" in result.stderr and not out.exists()

    nan = tmp_path / "nan.h5"
    write_dataset(nan, np.zeros((1, 1, 8, 8), np.float32), meta, DatasetStats(np.ones((8, 8)), np.ones(4), 1.0, 0.0))
    with h5py.File(nan, "r+") as f:
        f["stats/mode_power"][0, 1] = np.nan
    result = runner.invoke(app, ["design-schedule", "--data", str(nan), "-o", str(out)])
    assert result.exit_code == 1 and result.stderr.startswith("Error: ") and not out.exists()
    assert list(tmp_path.glob("*.tmp")) == [] and list(tmp_path.glob(".*tmp")) == []
