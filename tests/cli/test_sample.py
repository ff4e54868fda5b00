"""`sictl sample` (and `evaluate` on its output) through the CLI: the issue's acceptance points.

Datasets are written directly with sictl.io (exact Matérn statistics), so these tests do not depend
on `sictl prepare`. Monte Carlo tolerances: a shell-κ spectrum estimated from M fields has relative
standard deviation σ_κ = 1/√(M n_κ/2) (n_κ modes in the shell); measured relative errors must agree
with the exact prediction b_κ within 5 σ_κ (1 + b_κ).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sictl.cli.app import app
from sictl.core.spectra import matern_power, shell_spectrum

runner = CliRunner()


def cli_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write_matern(path, n: int, dim: int = 2, constant: float = 1.0) -> None:
    """A field dataset whose stats/mode_power is the exact Matérn s=3, ℓ=1 power (S(|k|=1) = 1)."""
    from sictl.io import DatasetMeta, DatasetStats, Normalization, write_dataset

    p = matern_power(n, dim)
    meta = DatasetMeta(dataset_name="grf", source="gaussian-field", sample_shape=(n,) * dim,
                       normalization=Normalization("rms" if constant != 1 else "none", constant))
    stats = DatasetStats(p.numpy(), shell_spectrum(p, n, dim).numpy(), float(p.sum().sqrt()), 0.0)
    write_dataset(path, np.zeros((2, 1, *(n,) * dim), np.float32), meta, stats)


def exact_errors(tmp_path, data, schedule: str, solver: str, steps: int, grid: str = "uniform") -> tuple[dict, np.ndarray]:
    """gaussian-check's exact prediction: (run summary, per-shell relative error)."""
    from sictl.io import read_report

    rep = tmp_path / f"exact_{abs(hash((schedule, solver, steps, grid)))}.h5"
    out = cli_json("gaussian-check", "--spectrum", str(data), "--schedules", schedule, "--solvers", solver,
                   "--steps", str(steps), "--grid", grid, "-o", str(rep))
    return out["runs"][0], read_report(rep).arrays["runs/000/relative_error"]


def measured(samples, data) -> dict:
    return cli_json("evaluate", str(samples), "--reference-spectrum", str(data), "--metrics", "spectrum")["metrics"]["spectrum"]


def assert_agrees(spec: dict, exact: np.ndarray) -> None:
    rel, sd = np.array(spec["relative_error"]), np.array(spec["mc_relative_sd"])
    assert np.all(np.abs(rel - exact) <= 5 * sd * (1 + exact)), (rel, exact)


def test_end_to_end_linear_and_designed_match_the_exact_prediction(tmp_path):
    data, designed = tmp_path / "grf64.h5", tmp_path / "designed.h5"
    write_matern(data, 64)
    cli_json("design-schedule", "--data", str(data), "-o", str(designed))
    for schedule in ("linear", str(designed)):
        out = tmp_path / "s.h5"
        s = cli_json("sample", "--exact", str(data), "--schedule", schedule, "--solver", "rk4-38", "--steps", "19",
                     "--n", "2000", "--batch-size", "1000", "-o", str(out))
        assert s["nfe"] == 76 and s["steps"] == 19 and s["nonfinite_samples"] == 0
        run, exact = exact_errors(tmp_path, data, schedule, "rk4-38", 19)
        spec = measured(out, data)
        assert_agrees(spec, exact)
        assert abs(spec["relative_error_mean"] - run["spectral_error_mean"]) <= \
            5 * np.mean(np.array(spec["mc_relative_sd"]) * (1 + exact))
        if schedule == "linear":
            assert spec["relative_error_mean"] > 10
        else:
            assert spec["relative_error_mean"] < 0.05
            from sictl.io import file_checksum, read_samples

            meta = read_samples(out).meta
            assert meta.schedule_checksum == file_checksum(designed) and meta.nfe == 76
            assert meta.drift_checksum == file_checksum(data) and meta.seed == 0 and meta.wall_time_s > 0
            assert len(meta.grid_times) == 20 and meta.config["solver"] == "rk4-38"


@pytest.mark.parametrize("n", [64, 128])
def test_expint2_logsnr_40_nfe_keeps_max_error_under_5_percent(tmp_path, n):
    out = cli_json("gaussian-check", "--matern", str(n), "--schedules", "designed", "--solvers", "expint2",
                   "--grid", "logsnr", "--steps", "40")["runs"][0]
    assert out["nfe"] == 40 and out["spectral_error_max"] < 0.05
    if n == 64:  # a Monte Carlo check of the same run through the sampler
        data = tmp_path / "grf.h5"
        write_matern(data, n)
        s = cli_json("sample", "--exact", str(data), "--schedule", "designed", "--solver", "expint2", "--grid", "logsnr",
                     "--steps", "40", "--n", "500", "-o", str(tmp_path / "s.h5"))
        assert s["nfe"] == 40
        _, exact = exact_errors(tmp_path, data, "designed", "expint2", 40, "logsnr")
        assert exact.max() < 0.05
        assert_agrees(measured(tmp_path / "s.h5", data), exact)


def test_mixture_mode_weights_linear_collapses_designed_does_not(tmp_path):
    from sictl.io import DatasetMeta, write_dataset

    mix = {"weights": [0.3, 0.7], "means": [[100.0], [-100.0]], "covs": [1.0, 1.0]}
    spec = tmp_path / "mix.json"
    spec.write_text(json.dumps(mix))
    data = tmp_path / "gmm.h5"  # the same mixture as a dataset (what `prepare gmm` writes)
    meta = DatasetMeta(dataset_name="gmm", source="gmm", sample_shape=(1,), vector=True,
                       attrs={"mixture": json.dumps(mix)})
    write_dataset(data, np.zeros((4, 1, 1), np.float32), meta)
    designed = tmp_path / "gmm_schedule.h5"
    cli_json("design-schedule", "--gmm", "100,0.3", "-o", str(designed))
    n = 20000
    weights = {}
    for schedule, source in (("linear", spec), (str(designed), data)):
        out = tmp_path / "m.h5"
        cli_json("sample", "--exact", str(source), "--schedule", schedule, "--solver", "rk4-38", "--steps", "4",
                 "--t-min", "1e-3", "--t-max", "0.999", "--n", str(n), "--batch-size", "5000", "-o", str(out))
        modes = cli_json("evaluate", str(out), "--reference", str(spec), "--metrics", "modes")["metrics"]["modes"]
        assert modes["minority_reference_weight"] == pytest.approx(0.3)
        exact = cli_json("gaussian-check", "--gmm", "100,0.3", "--schedules", schedule, "--steps", "4",
                         "--t-min", "1e-3", "--t-max", "0.999")["runs"][0]["mode_weight_plus"]
        w = modes["minority_weight"]
        assert abs(w - exact) < 5 * np.sqrt(exact * (1 - exact) / n)
        weights[schedule] = w
    assert weights["linear"] == pytest.approx(0.03, abs=0.01)
    assert weights[str(designed)] >= 0.2


def test_euler_maruyama_optimal_diffusion_converges_to_the_variance(tmp_path):
    from sictl.core.gaussian import generated_variance
    from sictl.core.schedules import Linear, VariancePreserving
    from sictl.core.solvers import make_diffusion, make_solver, time_grid
    from sictl.io import load_samples_array

    spec = tmp_path / "gauss.json"
    spec.write_text(json.dumps({"weights": [1.0], "means": [[0.0]], "covs": [2.0]}))  # N(0, 2), base N(0, 1)
    vp, n = VariancePreserving(Linear()), 20000
    errors = []
    for steps in (10, 40, 160):
        cli_json("sample", "--exact", str(spec), "--solver", "em", "--diffusion", "optimal", "--steps", str(steps),
                 "--n", str(n), "--batch-size", "20000", "--seed", str(steps), "-o", str(tmp_path / "e.h5"))
        x = load_samples_array(tmp_path / "e.h5")[:, 0].astype(np.float64)
        solver = make_solver("em", diffusion=make_diffusion("optimal", vp))
        exact, _ = generated_variance(solver, vp, torch.tensor([2.0]), time_grid("uniform", steps, 1e-4, 1 - 1e-4, vp))
        exact = float(exact[0])
        assert x.var() == pytest.approx(exact, rel=5 * np.sqrt(2 / n))  # the sampler does what the exact recursion says
        assert abs(x.mean()) < 5 * np.sqrt(exact / n)
        errors.append(abs(exact / 2.0 - 1))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.005


def test_transfer_matches_direct_sampling_and_noise_is_reused(tmp_path):
    from sictl.io import load_samples_array

    data = tmp_path / "grf.h5"
    write_matern(data, 32, constant=3.0)
    common = ["--exact", str(data), "--schedule", "designed", "--steps", "9", "--n", "70", "--dtype", "float64"]
    direct = cli_json("sample", *common, "-o", str(tmp_path / "direct.h5"), "--save-noise", str(tmp_path / "z.h5"))
    moved = cli_json("sample", *common, "--drift-schedule", "linear", "--batch-size", "33", "-o", str(tmp_path / "moved.h5"))
    assert not direct["transfer"] and moved["transfer"] and moved["drift_schedule"] == "linear"
    a, b = load_samples_array(tmp_path / "direct.h5"), load_samples_array(tmp_path / "moved.h5")
    assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max()  # integrator tolerance (float32 storage)
    assert direct["normalization_constant"] == 3.0
    # the same noise with another seed and batching: an ODE gives the same samples again
    cli_json("sample", *common, "--seed", "99", "--batch-size", "16", "--noise", str(tmp_path / "z.h5"),
             "-o", str(tmp_path / "again.h5"))
    assert np.array_equal(load_samples_array(tmp_path / "again.h5"), a)
    z = load_samples_array(tmp_path / "z.h5")
    assert z.shape == a.shape and not np.array_equal(z, a / 3.0)


def test_same_seed_same_samples_for_any_batch_size_and_prefixes(tmp_path):
    from sictl.io import load_samples_array

    data = tmp_path / "grf.h5"
    write_matern(data, 16, dim=1)
    args = ["sample", "--exact", str(data), "--solver", "em", "--diffusion", "const:0.3", "--steps", "6"]
    cli_json(*args, "--n", "100", "--batch-size", "7", "-o", str(tmp_path / "a.h5"))
    cli_json(*args, "--n", "100", "--batch-size", "100", "-o", str(tmp_path / "b.h5"))
    cli_json(*args, "--n", "150", "--batch-size", "64", "-o", str(tmp_path / "c.h5"))
    cli_json(*args, "--n", "100", "--seed", "1", "-o", str(tmp_path / "d.h5"))
    a = load_samples_array(tmp_path / "a.h5")
    assert a.shape == (100, 1, 16)
    assert np.array_equal(a, load_samples_array(tmp_path / "b.h5"))
    assert np.array_equal(a, load_samples_array(tmp_path / "c.h5")[:100])
    assert not np.allclose(a, load_samples_array(tmp_path / "d.h5"))


@pytest.mark.parametrize("args, needle", [
    (["--exact", "{missing}"], "no such file"),
    (["--exact", "{schedule}"], "'schedule' file"),
    (["--exact", "{data}", "--solver", "rk5"], "unknown solver"),
    (["--exact", "{data}", "--diffusion", "optimal"], "needs --solver em"),
    (["--exact", "{data}", "--schedule", "wiggly"], "unknown schedule"),
    (["--exact", "{data}", "--grid", "nowhere.npy"], "unknown grid"),
    (["--exact", "{data}", "--grid", "{badgrid}"], "strictly increasing"),
    (["--exact", "{data}", "--base", "pink"], "unknown base"),
    (["--exact", "{data}", "--n", "0"], "--n"),
    (["--exact", "{data}", "--noise", "{data}"], "'dataset' file"),
    (["--exact", "{mix}", "--schedule", "designed"], "mixture-optimal"),
    (["--exact", "{mix}", "--base", "spectral"], "white"),
    (["--schedule", "linear"], "--exact"),
])
def test_bad_input_one_line_error_and_no_output(tmp_path, args, needle):
    from sictl.io.fixtures import write_tiny_schedule

    write_matern(tmp_path / "d.h5", 8)
    write_tiny_schedule(tmp_path / "sched.h5")
    (tmp_path / "mix.json").write_text(json.dumps({"weights": [1.0], "means": [[0.0]]}))
    np.save(tmp_path / "bad.npy", np.array([0.0, 0.5, 0.4]))
    paths = {"missing": tmp_path / "nope.h5", "schedule": tmp_path / "sched.h5", "data": tmp_path / "d.h5",
             "badgrid": tmp_path / "bad.npy", "mix": tmp_path / "mix.json"}
    argv = [a.format(**paths) for a in args]
    result = runner.invoke(app, ["sample", *argv, "-o", str(tmp_path / "out.h5")])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and needle in result.stderr.splitlines()[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.h5").exists() and not list(tmp_path.glob(".*.tmp"))
