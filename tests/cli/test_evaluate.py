"""`sictl evaluate` through the CLI, on sictl files and on somebody else's arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sictl.cli.app import app
from sictl.core.fields.spectra import matern_power

runner = CliRunner()


def evaluate_json(*args: str) -> dict:
    result = runner.invoke(app, ["evaluate", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def numpy_matern(n: int, size: int, seed: int) -> np.ndarray:
    """An independent generator (the authors' construction, numpy only): E|û_k|² = S(k) exactly."""
    rng = np.random.default_rng(seed)
    k = np.fft.fftfreq(size, 1.0 / size)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    s = (4 * np.pi**2 + 1) ** 3 * (4 * np.pi**2 * k2 + 1) ** -3.0
    s[0, 0] = 0.0
    c = np.sqrt(s) * (rng.standard_normal((n, size, size)) + 1j * rng.standard_normal((n, size, size)))
    return np.fft.ifft2(c, norm="forward").real.astype(np.float32)


def write_dataset_file(path, x: np.ndarray, *, field: str = "u", power=None) -> None:
    """A dataset holding fields x (n, *spatial) as n trajectories of one snapshot."""
    from sictl.io import DatasetMeta, DatasetStats, write_dataset

    meta = DatasetMeta(dataset_name="t", source="import", sample_shape=x.shape[1:], field_names=(field,))
    stats = None if power is None else DatasetStats(np.asarray(power, np.float64), None, 1.0, 0.0, field)
    write_dataset(path, x[:, None], meta, stats)


def test_foreign_npy_of_an_independent_generator_reproduces_the_exact_spectrum(tmp_path):
    n, size = 1000, 32
    np.save(tmp_path / "theirs.npy", numpy_matern(n, size, seed=7))
    np.save(tmp_path / "exact_power.npy", matern_power(size, 2).numpy())
    for extra in ([], ["--layout", "sample x y"]):
        spec = evaluate_json(str(tmp_path / "theirs.npy"), "--reference-spectrum", str(tmp_path / "exact_power.npy"),
                             *extra)["metrics"]["spectrum"]
        rel, sd = np.array(spec["relative_error"]), np.array(spec["mc_relative_sd"])
        assert len(rel) == size // 2 and spec["k"][:2] == [1.0, 2.0]
        assert np.all(rel < 5 * sd)
        assert spec["reference"][0] == pytest.approx(3.549211, rel=1e-6)
        assert spec["spectrum"][0] == pytest.approx(3.549211, rel=5 * sd[0])
        assert spec["reference_source"] == "per-mode power file"
    # the same against a dataset whose stored statistics are exact, and a 1-D shell-spectrum file
    write_dataset_file(tmp_path / "ref.h5", np.zeros((2, size, size), np.float32), power=matern_power(size, 2).numpy())
    a = evaluate_json(str(tmp_path / "theirs.npy"), "--reference-spectrum", str(tmp_path / "ref.h5"))
    np.save(tmp_path / "shells.npy", np.array(spec["reference"]))
    b = evaluate_json(str(tmp_path / "theirs.npy"), "--reference-spectrum", str(tmp_path / "shells.npy"))
    assert a["metrics"]["spectrum"]["relative_error"] == pytest.approx(spec["relative_error"], rel=1e-9)
    assert b["metrics"]["spectrum"]["relative_error_max"] == pytest.approx(spec["relative_error_max"], rel=1e-9)


def test_all_metrics_report_and_plots_against_reference_samples(tmp_path):
    x = numpy_matern(300, 16, seed=1)
    write_dataset_file(tmp_path / "ref.h5", numpy_matern(300, 16, seed=2))
    np.save(tmp_path / "x.npy", x)
    report, plots = tmp_path / "report.h5", tmp_path / "figs"
    out = evaluate_json(str(tmp_path / "x.npy"), "--reference", str(tmp_path / "ref.h5"), "-o", str(report),
                        "--plot", str(plots), "--projections", "100", "--mmd-samples", "200")
    m = out["metrics"]
    assert set(m) == {"spectrum", "pdf", "moments", "correlation", "swd", "mmd"}
    assert m["spectrum"]["reference_source"] == "reference samples"
    assert m["spectrum"]["relative_error_mean"] < 0.2 and m["pdf"]["wasserstein1_relative"] < 0.05
    assert m["correlation"]["max_abs_error"] < 0.05 and abs(m["mmd"]["mmd2"]) < 0.02
    assert m["moments"]["std_error"] < 0.2 and out["n_samples"] == 300 and out["nonfinite_samples"] == 0
    assert sorted(p.name for p in plots.iterdir()) == ["pdf.png", "samples.png", "spectrum.png"]
    from sictl.io import read_report

    rep = read_report(report)
    assert rep.report["metrics"]["spectrum"]["relative_error_max"] == m["spectrum"]["relative_error_max"]
    assert rep.arrays["spectrum/k"].shape == (8,) and rep.arrays["moments/mean"].shape == (1, 16, 16)
    assert str(tmp_path / "x.npy") in rep.inputs and rep.seed == 0
    again = evaluate_json(str(tmp_path / "x.npy"), "--reference", str(tmp_path / "ref.h5"), "--projections", "100",
                          "--mmd-samples", "200")
    assert again["metrics"]["swd"] == m["swd"] and again["metrics"]["mmd"] == m["mmd"]  # seeded


def test_vorticity_pt_tuple_enstrophy_and_energy(tmp_path):
    w = torch.from_numpy(numpy_matern(40, 16, seed=3)).reshape(4, 10, 16, 16)
    torch.save((w, torch.linspace(0, 1, 10)), tmp_path / "data_file01.pt")
    write_dataset_file(tmp_path / "ns.h5", w.reshape(40, 16, 16).numpy(), field="vorticity")
    out = evaluate_json(str(tmp_path / "data_file01.pt"), "--reference", str(tmp_path / "ns.h5"), "--metrics", "spectrum")
    spec = out["metrics"]["spectrum"]
    assert out["layout"] == "traj time x y" and out["n_samples"] == 40
    assert spec["kind"] == "enstrophy" and spec["relative_error_max"] < 1e-6
    assert spec["energy"]["kind"] == "energy" and spec["energy"]["relative_error_max"] < 1e-6
    assert spec["energy"]["spectrum"][1] < spec["spectrum"][1]


def test_allen_cahn_layout_with_dropped_node_and_vectors(tmp_path):
    ac = np.random.default_rng(0).standard_normal((18, 30, 9)).astype(np.float32)  # 2(N+1) walkers, N = 8
    np.save(tmp_path / "AllenCahn1D_grid8_samples.npy", ac)
    write_dataset_file(tmp_path / "ref.h5", ac[..., :8].reshape(-1, 8))
    out = evaluate_json(str(tmp_path / "AllenCahn1D_grid8_samples.npy"), "--reference", str(tmp_path / "ref.h5"),
                        "--drop-last-node", "--metrics", "spectrum,moments")
    assert out["layout"] == "walker sample x" and out["sample_shape"] == [1, 8]
    assert out["metrics"]["spectrum"]["relative_error_max"] < 1e-6 and out["metrics"]["moments"]["mean_error"] < 1e-6
    rng = np.random.default_rng(1)
    np.save(tmp_path / "v.npy", rng.standard_normal((500, 2)) + 3)
    np.save(tmp_path / "w.npy", rng.standard_normal((500, 2)) - 3)
    vec = evaluate_json(str(tmp_path / "v.npy"), "--reference", str(tmp_path / "w.npy"), "--projections", "50")
    assert set(vec["metrics"]) == {"moments", "swd", "mmd", "modes"}
    assert vec["metrics"]["swd"]["sliced_wasserstein2"] > 3
    # 10-dimensional vectors against a vector dataset: the reference's kind decides the guess
    from sictl.io import DatasetMeta, write_dataset

    write_dataset(tmp_path / "g.h5", rng.standard_normal((300, 1, 10)).astype(np.float32),
                  DatasetMeta(dataset_name="g", source="gmm", sample_shape=(10,), vector=True))
    np.save(tmp_path / "v10.npy", rng.standard_normal((300, 10)))
    out = evaluate_json(str(tmp_path / "v10.npy"), "--reference", str(tmp_path / "g.h5"), "--metrics", "moments,mmd")
    assert out["layout"] == "sample dim" and out["sample_shape"] == [10]


def _nan_samples(path, n=100, bad=(3, 40, 77)):
    x = numpy_matern(n, 16, seed=5)
    for i in bad:
        x[i, i % 16, 0] = np.nan
    np.save(path, x)


def test_nan_samples_are_counted_and_fail_unless_allowed(tmp_path):
    _nan_samples(tmp_path / "x.npy")
    np.save(tmp_path / "p.npy", matern_power(16, 2).numpy())
    result = runner.invoke(app, ["evaluate", str(tmp_path / "x.npy"), "--reference-spectrum", str(tmp_path / "p.npy")])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "3 of 100 samples hold NaN/inf" in result.stderr.splitlines()[0]
    out = evaluate_json(str(tmp_path / "x.npy"), "--reference-spectrum", str(tmp_path / "p.npy"), "--allow-nan")
    assert out["nonfinite_samples"] == 3 and out["n_samples"] == 97 and out["n_samples_total"] == 100


@pytest.mark.parametrize("case, needle", [
    ("resolution", "resolution mismatch"),
    ("channels", "channels mismatch"),
    ("metric", "unknown metric 'fid'"),
    ("vectors-spectrum", "needs fields"),
    ("spectrum-only-pdf", "needs reference samples"),
    ("both-references", "exactly one of"),
    ("bad-layout", "unknown axis name"),
    ("nan-reference", "non-finite"),
    ("missing", "no such file"),
])
def test_bad_input_one_line_error(tmp_path, case, needle):
    x = numpy_matern(20, 16, seed=0)
    np.save(tmp_path / "x.npy", x)
    write_dataset_file(tmp_path / "ref8.h5", numpy_matern(20, 8, seed=1))
    write_dataset_file(tmp_path / "ref16.h5", x)
    np.save(tmp_path / "x2.npy", np.stack([x, x], axis=1))
    np.save(tmp_path / "v.npy", np.zeros((20, 3)))
    _nan_samples(tmp_path / "nan.npy", n=20, bad=(2,))
    s, r8, r16 = str(tmp_path / "x.npy"), str(tmp_path / "ref8.h5"), str(tmp_path / "ref16.h5")
    args = {
        "resolution": [s, "--reference", r8],
        "channels": [str(tmp_path / "x2.npy"), "--layout", "sample channel x y", "--reference", r16],
        "metric": [s, "--reference", r16, "--metrics", "spectrum,fid"],
        "vectors-spectrum": [str(tmp_path / "v.npy"), "--reference", str(tmp_path / "v.npy"), "--metrics", "spectrum"],
        "spectrum-only-pdf": [s, "--reference-spectrum", r16, "--metrics", "pdf"],
        "both-references": [s, "--reference", r16, "--reference-spectrum", r16],
        "bad-layout": [s, "--layout", "sample x wibble", "--reference", r16],
        "nan-reference": [s, "--reference", str(tmp_path / "nan.npy")],
        "missing": [str(tmp_path / "nope.npy"), "--reference", r16],
    }[case]
    report = tmp_path / "rep.h5"
    result = runner.invoke(app, ["evaluate", *args, "-o", str(report)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and needle in result.stderr.splitlines()[0]
    assert "Traceback" not in result.output and not report.exists()


def test_rich_table_on_stderr_without_json(tmp_path, monkeypatch):
    """Without --json: nothing on stdout, a table on stderr whose figures are the --json ones."""
    monkeypatch.chdir(tmp_path)  # short names, so that rich does not wrap the title
    write_dataset_file("ref.h5", numpy_matern(200, 16, seed=5))
    np.save("x.npy", numpy_matern(200, 16, seed=4))
    args = ["evaluate", "x.npy", "--reference", "ref.h5", "--metrics", "spectrum,pdf,moments,correlation"]
    m = evaluate_json(*args[1:])["metrics"]
    result = runner.invoke(app, [*args, "--plot", "figs"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    err = result.stderr
    assert "x.npy: 200 samples (1, 16, 16)" in err and "metric" in err and "quantity" in err
    spec = m["spectrum"]
    assert f"{spec['relative_error_mean']:.4g} / {spec['relative_error_max']:.4g}" in err
    assert " / ".join(f"{spec['bands'][b]:.4g}" for b in ("low", "mid", "high")) in err
    assert f"{m['pdf']['wasserstein1']:.4g} ({m['pdf']['wasserstein1_relative']:.3g})" in err
    mo = m["moments"]
    assert f"{mo['mean_error']:.3g} / {mo['std_error']:.3g} / {mo['norm_error']:.3g}" in err
    assert f"{m['correlation']['max_abs_error']:.3g}" in err
    assert "wrote figs/spectrum.png" in err
    # --quiet: nothing at all
    quiet = runner.invoke(app, [*args, "--quiet"])
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
