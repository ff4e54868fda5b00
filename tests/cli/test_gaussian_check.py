"""`sictl gaussian-check` through the CLI: parse --json and compare with the reference values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from sictl.cli.app import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def run_json(*args: str) -> dict:
    result = invoke("gaussian-check", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ratio_closed_forms_to_1e9():
    out = run_json("--ratio", "1e-4", "--schedules", "linear,trig,designed", "--steps", "9")
    s = out["schedules"]
    assert s["linear"]["lipschitz"] == pytest.approx(50.005, rel=1e-9)
    assert s["designed"]["a2"] == pytest.approx(math.log(1e-4) ** 2 / 4, rel=1e-9)
    assert s["designed"]["a2"] == pytest.approx(21.2076, rel=1e-5)
    assert s["designed"]["lipschitz"] == pytest.approx(4.60517, rel=1e-5)
    out4 = run_json("--ratio", "4", "--schedules", "linear,trig", "--steps", "9")
    assert out4["schedules"]["linear"]["a2"] == pytest.approx(5 * math.pi / 8 - 1, rel=1e-9)
    assert out4["schedules"]["trig"]["a2"] == pytest.approx(math.pi**2 / 16, rel=1e-9)


@pytest.mark.parametrize(
    "n, lin, des",
    [(32, 5579.7, 9.320), (64, 44635, 11.40), (128, 357076, 13.48)],
)
def test_matern_lipschitz_table(n, lin, des):
    out = run_json("--matern", str(n), "--schedules", "linear,designed", "--steps", "19")
    assert out["schedules"]["linear"]["lipschitz"] == pytest.approx(lin, rel=5e-5)
    assert out["schedules"]["designed"]["lipschitz"] == pytest.approx(des, abs=5e-3)


def test_matern_128_errors():
    # its run time is measured by benchmarks/cli_speed.py, not here
    out = run_json("--matern", "128", "--schedules", "linear,designed", "--solvers", "rk4-38", "--steps", "19")
    runs = {r["schedule"]: r for r in out["runs"]}
    assert set(runs) == {"linear", "designed"}
    assert runs["designed"]["nfe"] == 76 and runs["designed"]["steps"] == 19
    assert 0.05 < runs["designed"]["spectral_error_mean"] < 0.08  # ≈ 0.066 in the paper's runs
    assert 100 < runs["linear"]["spectral_error_mean"] < 1000  # ≈ 10² (463 in the paper's runs)
    # the κ = N/2 shell: scale_adaptive.md §7.1 exact expectation 8.93449e-2 (designed, RK20)
    assert runs["designed"]["spectral_error_max"] == pytest.approx(8.93449e-2, rel=1e-5)


def test_std_ratio_table_point():
    out = run_json("--ratio", "1e-4", "--schedules", "linear,designed", "--steps", "9",
                   "--t-min", "0", "--t-max", "1")
    runs = {r["schedule"]: r for r in out["runs"]}
    assert runs["linear"]["std_ratio"][0] == pytest.approx(1.6120, abs=1e-4)
    assert runs["designed"]["std_ratio"][0] == pytest.approx(1.00405, abs=1e-4)


def test_transfer_and_identities():
    out = run_json("--ratio", "1e-2", "--schedules", "linear,trig,designed", "--steps", "4", "--transfer")
    errs = out["transfer"]["max_relative_error"]
    assert set(errs) >= {"linear->designed", "designed->linear", "linear->trig", "trig->linear"}
    assert max(errs.values()) < 1e-10
    ids = out["identities"]
    assert max(ids["eps_star_vs_kl_minimiser_rel"].values()) <= ids["eps_star_grid_resolution_rel"]
    assert max(ids["follmer_g2_vs_kappa_derivative_abs"].values()) < 1e-7


def test_monte_carlo_agrees_with_exact_prediction():
    out = run_json("--matern", "32", "--schedules", "designed", "--steps", "9", "--monte-carlo", "2000", "--seed", "3")
    run = out["runs"][0]
    # shell κ=1 holds 4 modes in the worst case; 2000 samples → relative s.d. ≲ 1/sqrt(2000·4/2) ≈ 1.6%
    assert abs(run["mc_spectral_error_max"] - run["spectral_error_max"]) < 0.1
    assert run["mc_samples"] == 2000


def test_monte_carlo_same_seed_same_numbers():
    a = run_json("--ratio", "0.01", "--schedules", "designed", "--steps", "4", "--monte-carlo", "500", "--seed", "7")
    b = run_json("--ratio", "0.01", "--schedules", "designed", "--steps", "4", "--monte-carlo", "500", "--seed", "7")
    assert a["runs"][0]["mc_spectral_error_mean"] == b["runs"][0]["mc_spectral_error_mean"]


def test_gmm_mode_weight_collapse_with_linear():
    out = run_json("--gmm", "100,0.3", "--schedules", "linear", "--steps", "4", "--t-min", "1e-3", "--t-max", "0.999")
    run = out["runs"][0]
    assert run["mode_weight_plus"] == pytest.approx(0.0271, abs=0.002)  # lipschitz.md §6.2 rerun
    assert out["schedules"]["linear"]["lipschitz"] == pytest.approx(100.0**2)


def test_gmm_a2_linear_values():
    out = run_json("--gmm", "5", "--schedules", "linear", "--steps", "4")
    assert out["schedules"]["linear"]["a2"] == pytest.approx(2.54399, rel=2e-5)


def test_schedule_file_is_used_verbatim(tmp_path):
    import torch

    from sictl.core.interpolants.conversions import eps_star
    from sictl.core.interpolants.schedules import Trig
    from sictl.io import ScheduleTable, file_checksum, write_schedule

    t = torch.linspace(0, 1, 4001, dtype=torch.float64)
    v = Trig()(t)
    table = ScheduleTable(t.numpy(), v.alpha.numpy(), v.beta.numpy(), v.alpha_dot.numpy(), v.beta_dot.numpy(),
                          np.nan_to_num(eps_star(v).numpy(), posinf=np.inf), family="trig")
    path = tmp_path / "trig.h5"
    write_schedule(path, table)
    out = run_json("--ratio", "0.01", "--schedules", f"trig,{path}", "--steps", "9")
    runs = {r["schedule"]: r for r in out["runs"]}
    assert runs[str(path)]["spectral_error_max"] == pytest.approx(runs["trig"]["spectral_error_max"], rel=1e-6)
    assert out["schedules"][str(path)]["lipschitz"] == pytest.approx(out["schedules"]["trig"]["lipschitz"], rel=1e-6)
    assert out["inputs"][str(path)] == file_checksum(path)


def test_report_file_written(tmp_path):
    from sictl.io import read_report

    path = tmp_path / "report.h5"
    out = run_json("--ratio", "0.01", "--schedules", "designed", "--steps", "4", "-o", str(path))
    assert out["report"] == str(path)
    rep = read_report(path)
    assert rep.report["runs"][0]["spectral_error_max"] == pytest.approx(out["runs"][0]["spectral_error_max"])


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--ratio", "0"], "must be > 0"),
        (["--ratio", "-1e-3"], "must be > 0"),
        (["--ratio", "0.1", "--steps", "0"], "steps"),
        (["--ratio", "0.1", "--steps", "-3"], "steps"),
        (["--ratio", "0.1", "--t-min", "0.6", "--t-max", "0.5"], "t-min"),
        (["--ratio", "0.1", "--schedules", "missing_file.h5"], "missing_file.h5"),
        (["--ratio", "0.1", "--solvers", "rk5"], "unknown solver"),
        (["--ratio", "0.1", "--schedules", "wiggly"], "unknown schedule"),
        (["--ratio", "0.1", "--matern", "32"], "exactly one target"),
        (["--gmm", "10,1.5"], "(0, 1)"),
    ],
)
def test_bad_input_one_line_error(args, needle):
    result = invoke("gaussian-check", *args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Error: ") and lines[1].startswith("Hint: "), result.stderr
    assert needle in lines[0]
    assert len(lines[1]) > len("Hint: ") + 10
    assert "Traceback" not in result.output


def test_wrong_kind_and_non_monotone_schedule_file(tmp_path):
    from sictl.io import write_report

    rep = tmp_path / "r.h5"
    write_report(rep, {"x": 1}, {})
    result = invoke("gaussian-check", "--ratio", "0.1", "--schedules", str(rep))
    assert result.exit_code == 1 and "expected a 'schedule' file" in result.stderr

    import h5py
    import torch

    from sictl.core.interpolants.schedules import Linear
    from sictl.io import ScheduleTable, write_schedule

    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    v = Linear()(t)
    table = ScheduleTable(t.numpy(), v.alpha.numpy(), v.beta.numpy(), v.alpha_dot.numpy(), v.beta_dot.numpy(),
                          np.ones(11), family="linear")
    path = tmp_path / "s.h5"
    write_schedule(path, table)
    with h5py.File(path, "r+") as f:  # corrupt it: β goes down in the middle
        beta = f["beta"][...]
        beta[5] = 0.2
        f["beta"][...] = beta
    result = invoke("gaussian-check", "--ratio", "0.1", "--schedules", str(path))
    assert result.exit_code == 1 and "monoton" in result.stderr.splitlines()[0]
    assert "Traceback" not in result.output


def test_base_acts_on_every_target_as_in_design_schedule():
    scaled = run_json("--gmm", "10", "--base", "white:2", "--schedules", "linear", "--steps", "4")
    plain = run_json("--gmm", "5", "--schedules", "linear", "--steps", "4")
    assert scaled["schedules"]["linear"]["a2"] == pytest.approx(plain["schedules"]["linear"]["a2"], rel=1e-12)
    assert scaled["runs"][0]["mode_weight_plus"] == pytest.approx(plain["runs"][0]["mode_weight_plus"], rel=1e-10)
    result = invoke("gaussian-check", "--ratio", "0.1", "--base", "white:2")
    assert result.exit_code == 1 and result.stderr.startswith("Error: ") and "--ratio" in result.stderr
    own = run_json("--matern", "16", "--base", "spectral", "--schedules", "linear", "--steps", "4")
    assert own["schedules"]["linear"]["lipschitz"] == pytest.approx(1.0, rel=1e-12)  # every ratio 1: a = (β − α)/(α² + β²)


def test_report_to_stdout_round_trips(tmp_path):
    from sictl.io import read_report

    result = invoke("gaussian-check", "--ratio", "0.01", "--schedules", "designed", "--steps", "4", "-o", "-", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes[:8] == b"\x89HDF\r\n\x1a\n"  # the HDF5 signature, nothing printed before it
    path = tmp_path / "piped.h5"
    path.write_bytes(result.stdout_bytes)
    rep = read_report(path)
    direct = run_json("--ratio", "0.01", "--schedules", "designed", "--steps", "4")
    assert rep.report["runs"][0]["spectral_error_max"] == pytest.approx(direct["runs"][0]["spectral_error_max"], rel=1e-12)


def test_matern_in_one_dimension():
    import torch

    from sictl.core.exact.gaussian import lipschitz
    from sictl.core.interpolants.schedules import Linear

    n = 64
    out = run_json("--matern", str(n), "--dim", "1", "--schedules", "linear,designed", "--steps", "19")
    k = torch.arange(1, n // 2 + 1, dtype=torch.float64)
    lam = (4 * math.pi**2 + 1) ** 3 / (4 * math.pi**2 * k**2 + 1) ** 3  # S(k) = σ²(4π²k² + 1)^{-3}, unit white base
    assert out["schedules"]["linear"]["lipschitz"] == pytest.approx(float(lipschitz(Linear(), lam)), rel=1e-9)
    assert out["schedules"]["designed"]["lipschitz"] == pytest.approx(abs(math.log(float(lam.min()))) / 2, rel=1e-6)
    run = {r["schedule"]: r for r in out["runs"]}
    assert run["designed"]["spectral_error_max"] < run["linear"]["spectral_error_max"]


def test_usage_error_exit_2():
    assert invoke("gaussian-check", "--no-such-option").exit_code == 2


@pytest.mark.parametrize("name", ["prepare", "design-schedule", "train", "sample", "evaluate", "gaussian-check"])
def test_every_command_is_built(name):
    """No command is a placeholder any more: none answers "not implemented" (each has real options)."""
    result = invoke(name, "--help")
    assert result.exit_code == 0
    assert "not implemented" not in result.output
    assert "--json" in result.output or name == "prepare"
