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
from sictl.core.fields.spectra import matern_power, shell_spectrum

runner = CliRunner()


def cli_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write_matern(path, n: int, dim: int = 2, constant: float = 1.0, s: float = 3.0) -> None:
    """A field dataset whose stats/mode_power is the exact Matérn s, ℓ=1 power (S(|k|=1) = 1)."""
    from sictl.io import DatasetMeta, DatasetStats, Normalization, write_dataset

    p = matern_power(n, dim, s=s)
    meta = DatasetMeta(dataset_name="grf", source="gaussian-field", sample_shape=(n,) * dim,
                       normalization=Normalization("rms" if constant != 1 else "none", constant))
    stats = DatasetStats(p.numpy(), shell_spectrum(p, n, dim).numpy(), float(p.sum().sqrt()), 0.0)
    write_dataset(path, np.zeros((2, 1, *(n,) * dim), np.float32), meta, stats)


def exact_errors(tmp_path, data, schedule: str, solver: str, steps: int, grid: str = "uniform",
                 base: str = "white") -> tuple[dict, np.ndarray]:
    """gaussian-check's exact prediction: (run summary, per-shell relative error)."""
    from sictl.io import read_report

    rep = tmp_path / f"exact_{abs(hash((schedule, solver, steps, grid, base)))}.h5"
    out = cli_json("gaussian-check", "--spectrum", str(data), "--schedules", schedule, "--solvers", solver,
                   "--steps", str(steps), "--grid", grid, "--base", base, "-o", str(rep))
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
    from sictl.core.exact.gaussian import generated_variance
    from sictl.core.interpolants.schedules import Linear, VariancePreserving
    from sictl.core.sampling.diffusion import make_diffusion
    from sictl.core.sampling.grids import time_grid
    from sictl.core.sampling.solvers import make_solver
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
    (["--exact", "{data}", "--solver", "em", "--diffusion", "optimal", "--t-min", "0"], "not finite at t = 0"),
    (["--exact", "{data}", "--schedule", "wiggly"], "unknown schedule"),
    (["--exact", "{data}", "--grid", "nowhere.npy"], "unknown grid"),
    (["--exact", "{data}", "--grid", "{badgrid}"], "strictly increasing"),
    (["--exact", "{data}", "--base", "pink"], "unknown base"),
    (["--exact", "{data}", "--n", "0"], "--n"),
    (["--exact", "{data}", "--noise", "{data}"], "'dataset' file"),
    (["--exact", "{mix}", "--schedule", "designed"], "mixture-optimal"),
    (["--exact", "{mix}", "--base", "spectral"], "white"),
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


# ---- time grids from files -------------------------------------------------------------------------------------------
def test_grid_files_give_the_samples_of_the_equivalent_named_grid(tmp_path):
    from sictl.core.interpolants.schedules import Designed
    from sictl.core.sampling.grids import time_grid
    from sictl.io import file_checksum, load_samples_array, read_samples

    data = tmp_path / "grf.h5"
    write_matern(data, 16)
    lam = float(matern_power(16, 2)[matern_power(16, 2) > 0].min())  # `designed` takes λ_min of the data
    common = ["--exact", str(data), "--schedule", "designed", "--solver", "heun", "--n", "40", "--dtype", "float64"]

    def sample(name: str, *grid: str) -> tuple[dict, np.ndarray]:
        out = tmp_path / f"{name}.h5"
        return cli_json("sample", *common, *grid, "-o", str(out)), load_samples_array(out)

    _, logsnr = sample("logsnr", "--grid", "logsnr", "--steps", "7")
    np.save(tmp_path / "logsnr.npy", time_grid("logsnr", 7, 1e-4, 1 - 1e-4, Designed(lam)).numpy())
    s, from_npy = sample("npy", "--grid", str(tmp_path / "logsnr.npy"))
    assert np.array_equal(from_npy, logsnr) and s["grid"] == f"file:{tmp_path / 'logsnr.npy'}" and s["steps"] == 7
    assert s["inputs"][str(tmp_path / "logsnr.npy")] == file_checksum(tmp_path / "logsnr.npy")

    _, uniform = sample("uniform", "--grid", "uniform", "--steps", "5")
    assert not np.array_equal(uniform, logsnr)
    np.savetxt(tmp_path / "uniform.txt", time_grid("uniform", 5, 1e-4, 1 - 1e-4).numpy(), fmt="%.17g")
    s, from_text = sample("text", "--grid", str(tmp_path / "uniform.txt"))
    assert np.array_equal(from_text, uniform) and s["nfe"] == 10

    # a schedule file's recommended grid (design-schedule --steps 6: uniform on [1e-4, 1 − 1e-4])
    sched = tmp_path / "designed.h5"
    cli_json("design-schedule", "--data", str(data), "--steps", "6", "-o", str(sched))
    _, named = sample("named", "--grid", "uniform", "--steps", "6")
    s, from_h5 = sample("h5", "--grid", str(sched))
    assert np.array_equal(from_h5, named) and s["steps"] == 6
    assert np.array_equal(read_samples(tmp_path / "h5.h5").meta.grid_times, time_grid("uniform", 6, 1e-4, 1 - 1e-4))


# ---- base noise --------------------------------------------------------------------------------------------------------
def test_white_sigma0_base_matches_the_exact_prediction_for_that_base(tmp_path):
    """σ0 = 8 on 32² is per-mode variance 1/16, not 1: the exact errors differ by an order of magnitude."""
    from sictl.io import load_samples_array

    data, n = tmp_path / "grf.h5", 400
    write_matern(data, 32)
    out = tmp_path / "s.h5"
    s = cli_json("sample", "--exact", str(data), "--schedule", "linear", "--steps", "9", "--base", "white:8",
                 "--n", str(n), "-o", str(out), "--save-noise", str(tmp_path / "z.h5"))
    assert "pixel std 8" in s["exact"]["base"]
    run8, exact8 = exact_errors(tmp_path, data, "linear", "rk4-38", 9, base="white:8")
    run1, _ = exact_errors(tmp_path, data, "linear", "rk4-38", 9)
    assert run1["spectral_error_mean"] > 5 * run8["spectral_error_mean"]  # the base matters
    spec = measured(out, data)
    assert_agrees(spec, exact8)
    # the saved draws: pixel variance σ0² (n − 1)/n (the empty mean mode is not drawn), s.d. σ0² √(2/(n_samples n))
    z = load_samples_array(tmp_path / "z.h5").astype(np.float64)
    assert abs(z.var() / (64 * 1023 / 1024) - 1) < 5 * np.sqrt(2 / (n * 1023))


def test_spectral_file_base_matches_the_exact_prediction_and_has_that_spectrum(tmp_path):
    from sictl.core.fields.spectra import mode_power
    from sictl.io import load_samples_array

    data, base, n = tmp_path / "grf.h5", tmp_path / "smooth.h5", 400
    write_matern(data, 32)
    write_matern(base, 32, s=2.0)  # a base rougher than the data (s = 2 against 3)
    out = tmp_path / "s.h5"
    s = cli_json("sample", "--exact", str(data), "--schedule", "linear", "--steps", "9", "--base", f"spectral:{base}",
                 "--n", str(n), "-o", str(out), "--save-noise", str(tmp_path / "z.h5"))
    assert s["exact"]["base"] == f"spectral ({base})"
    run, exact = exact_errors(tmp_path, data, "linear", "rk4-38", 9, base=f"spectral:{base}")
    assert run["spectral_error_mean"] < 0.05  # with white noise the same run is off by hundreds
    assert_agrees(measured(out, data), exact)
    # the draws have the base file's per-mode power: |ẑ_k|² ~ S0_k Exp(1), mean of n has s.d. S0_k/√n
    z = torch.from_numpy(load_samples_array(tmp_path / "z.h5")).double()
    p, s0 = mode_power(z[:, 0], 2), matern_power(32, 2, s=2.0)
    keep = s0 > 0
    assert bool(((p[keep] / s0[keep] - 1).abs() < 5 * np.sqrt(2 / n)).all())


# ---- data units ----------------------------------------------------------------------------------------------------------
def test_samples_are_written_in_data_units(tmp_path):
    """Normalisation constant c = 3: the samples' spectrum is the dataset's stored one × c² (data units)."""
    data, c, n = tmp_path / "grf.h5", 3.0, 400
    write_matern(data, 16, constant=c)
    out = tmp_path / "s.h5"
    s = cli_json("sample", "--exact", str(data), "--schedule", "designed", "--n", str(n), "-o", str(out))
    assert s["normalization_constant"] == c
    _, exact = exact_errors(tmp_path, data, "designed", "rk4-38", 19)
    spec = measured(out, data)  # evaluate's reference from a dataset is in data units: c² × mode_power
    assert_agrees(spec, exact)
    np.save(tmp_path / "normalised.npy", matern_power(16, 2).numpy())
    raw = cli_json("evaluate", str(out), "--reference-spectrum", str(tmp_path / "normalised.npy"),
                   "--metrics", "spectrum")["metrics"]["spectrum"]
    ratio, sd = np.array(raw["spectrum"]) / np.array(raw["reference"]), np.array(raw["mc_relative_sd"])
    assert np.all(np.abs(ratio - c**2 * (1 + exact)) <= 5 * sd * c**2 * (1 + exact))


# ---- provenance: schedule checksums ------------------------------------------------------------------------------------------
def test_named_schedules_record_the_checksum_of_their_canonical_description(tmp_path):
    import hashlib

    from sictl.io import read_samples

    data = tmp_path / "grf.h5"
    write_matern(data, 8)

    def checksum(schedule: str, source=data) -> str:
        out = tmp_path / "s.h5"
        s = cli_json("sample", "--exact", str(source), "--schedule", schedule, "--steps", "2", "--n", "4", "-o", str(out))
        assert read_samples(out).meta.schedule_checksum == s["schedule_checksum"]
        assert read_samples(out).meta.attrs["schedule_description"] == json.dumps(s["schedule_description"], sort_keys=True)
        return s["schedule_checksum"]

    canonical = json.dumps({"family": "designed", "params": {"lam": 0.01}}, sort_keys=True)
    assert checksum("designed:0.01") == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    assert checksum("designed:0.01") == checksum("designed:1e-2")  # the same schedule, however written
    assert len({checksum("designed:0.01"), checksum("designed:0.02"), checksum("linear"), checksum("trig")}) == 4
    # `designed` takes λ from the data: another dataset, another schedule, another checksum
    other = tmp_path / "other.h5"
    write_matern(other, 8, s=2.0)
    assert checksum("designed") != checksum("designed", other)
    lam = float(matern_power(8, 2)[matern_power(8, 2) > 0].min())
    assert checksum("designed") == checksum(f"designed:{lam!r}")


# ---- the drift-source plug-in (what a checkpoint will use) ---------------------------------------------------------------------
def test_a_source_with_its_own_training_schedule_is_transferred_automatically(tmp_path):
    """A DriftSource whose drift exists only under `linear` (a checkpoint's training schedule), sampled with
    `designed`: the plan applies the transfer formula, and the samples match the designed exact drift."""
    import dataclasses

    from sictl.core.interpolants.schedules import Linear
    from sictl.io import load_samples_array, read_samples
    from sictl.pipeline.drift_sources import open_exact_source
    from sictl.pipeline.sample import SampleConfig, run

    data = tmp_path / "grf.h5"
    write_matern(data, 16)
    exact = open_exact_source(str(data))
    built = []

    def trained_under_linear(schedule):
        built.append(schedule)
        return exact.build(Linear())

    fake = dataclasses.replace(exact, label="checkpoint:fake.safetensors", build=trained_under_linear,
                               native_schedule=Linear())
    cfg = SampleConfig(exact=str(data), schedule="designed", steps=9, n=40, dtype="float64")
    moved = run(cfg, str(tmp_path / "moved.h5"), source=fake)
    direct = run(cfg, str(tmp_path / "direct.h5"))
    assert moved["transfer"] and moved["drift_schedule"] == "linear" and not direct["transfer"]
    assert [s.describe() for s in built] == [{"name": "linear"}]
    assert read_samples(tmp_path / "moved.h5").meta.drift_source == "checkpoint:fake.safetensors"
    a, b = load_samples_array(tmp_path / "moved.h5"), load_samples_array(tmp_path / "direct.h5")
    assert np.abs(a - b).max() <= 1e-5 * np.abs(b).max()  # integrator tolerance (float32 storage)
    # sampled with its own schedule there is nothing to transfer
    same = run(dataclasses.replace(cfg, schedule="linear"), str(tmp_path / "same.h5"), source=fake)
    assert not same["transfer"] and same["drift_schedule"] == "linear"


# ---- human output --------------------------------------------------------------------------------------------------------------
def test_progress_bar_and_summary_table_on_stderr_without_json(tmp_path):
    data = tmp_path / "grf.h5"
    write_matern(data, 8)
    args = ["sample", "--exact", str(data), "--steps", "6", "--n", "100", "--batch-size", "50"]
    # a terminal (rich draws its live bar only there): 2 batches × 6 steps
    tty = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "160"}
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "a.h5")], env=tty)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "sampling" in result.stderr and "12/12 steps" in result.stderr
    assert "rk4-38, 6 steps, grid uniform, NFE 24" in result.stderr and "data units" in result.stderr
    # not a terminal: no bar, the summary table all the same
    plain = runner.invoke(app, [*args, "-o", str(tmp_path / "b.h5")], env={"COLUMNS": "160"})
    assert plain.exit_code == 0 and plain.stdout == "" and "sampling" not in plain.stderr
    for needle in ("sictl sample", f"{tmp_path / 'b.h5'} (100 × (1, 8, 8), data units)", "NFE 24", "drift"):
        assert needle in plain.stderr, needle
    # --json and --quiet: stderr stays empty
    for flag in ("--json", "--quiet"):
        quiet = runner.invoke(app, [*args, "-o", str(tmp_path / "c.h5"), flag], env=tty)
        assert quiet.exit_code == 0 and quiet.stderr == ""
