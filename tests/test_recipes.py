"""Every recipe runs end to end on tiny settings (the README promises they work), and the Gaussian-field
recipe's table says what gaussian-check's exact prediction says at that size.

Recipes that train a network (allen_cahn.sh, navier_stokes.sh) take minutes at their full scale; they read
``SICTL_RECIPE_SCALE=quick`` (a tiny network, a few steps, seconds), which every recipe gets here. Tiny tensors
run faster on one thread than on two that contend with other processes, hence ``OMP_NUM_THREADS=1``."""

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.sh"))


def test_there_are_recipes():
    assert RECIPES


def check_gaussian_field(out: subprocess.CompletedProcess, work: Path) -> None:
    """N = 16, 2000 samples, rk4-38 on 19 steps: exact mean errors ≈ 2.08 (linear) and 0.0026 (designed).

    A shell's relative error from n samples has standard deviation sd_κ (1 + b_κ), b_κ the exact error, so
    the mean over shells is within 5 · mean(sd) · (1 + max b) of the exact mean.
    """
    summary = json.loads((work / "summary.json").read_text())
    assert summary["n"] == 16 and summary["samples"] == 2000
    runs = summary["runs"]
    for name, r in runs.items():
        assert r["nfe"] == 76, name
        tolerance = 5 * r["mc_relative_sd_mean"] * (1 + r["exact_max"])
        assert abs(r["measured_mean"] - r["exact_mean"]) <= tolerance, (name, r, tolerance)
    lin, des = runs["linear"], runs["designed"]
    assert lin["exact_mean"] > 1 and des["exact_mean"] < 0.01  # gaussian-check at N = 16
    assert des["exact_mean"] < 1e-2 * lin["exact_mean"]
    # the measured errors keep the order by the same margin, allowing for sampling noise
    des_hi = des["exact_mean"] + 5 * des["mc_relative_sd_mean"] * (1 + des["exact_max"])
    lin_lo = lin["exact_mean"] - 5 * lin["mc_relative_sd_mean"] * (1 + lin["exact_max"])
    assert des["measured_mean"] <= des_hi < 0.05 * lin_lo <= 0.05 * lin["measured_mean"]
    # the table on stdout is the same numbers
    rows = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()[1:] if line.strip()}
    for name in ("linear", "designed"):
        assert float(rows[name][1]) == pytest.approx(runs[name]["measured_mean"], rel=1e-3)


def check_learned(out: subprocess.CompletedProcess, work: Path) -> None:
    """A learned-drift recipe at the quick scale: one checkpoint sampled three ways (the transfer for the designed
    schedule), each evaluated; the summary and the table on stdout agree. Quality is not checked at this size."""
    summary = json.loads((work / "summary.json").read_text())
    assert summary["scale"] == "quick"
    runs = summary["runs"]
    assert len(runs) == 3 and [r["transfer"] for r in runs.values()] == [False, False, True]
    assert (work / "run" / "model.safetensors").exists()
    rows = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines() if line.split()[:1] and
            line.split()[0] in runs}
    for name, r in runs.items():
        assert int(rows[name][0]) == r["nfe"] == 4 * r["steps"]
        assert float(rows[name][1]) == pytest.approx(r["relative_error_mean"], rel=1e-3)


def check_forecast(out: subprocess.CompletedProcess, work: Path) -> None:
    """ns_forecast.sh at the quick scale: σ and g_F forecasts at equal NFE, every lead scored; the summary and the
    table on stdout agree. Quality is not checked at this size."""
    summary = json.loads((work / "summary.json").read_text())
    assert summary["scale"] == "quick" and summary["comparison"]["equal_nfe"]
    runs = summary["runs"]
    assert list(runs) == ["sigma", "follmer"] and [r["diffusion"] for r in runs.values()] == ["sigma", "follmer"]
    rows = [line.split() for line in out.stdout.splitlines() if line.split()[:1] and line.split()[0] in runs]
    assert len(rows) == sum(len(r["lead"]) for r in runs.values()) == 4
    for row in rows:
        r = runs[row[0]]
        lead = int(row[1])
        assert int(row[2]) == r["nfe_per_lead"] == r["steps"]
        assert float(row[3]) == pytest.approx(r["crps"][lead - 1], rel=1e-3)
    assert summary["comparison"]["follmer_below_sigma"] == (runs["follmer"]["crps"][0] < runs["sigma"]["crps"][0])


def _run(recipe: Path, work: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SICTL_RECIPE_SCALE": "quick", "OMP_NUM_THREADS": "1"}  # see the module docstring
    return subprocess.run(["bash", str(recipe), "16", str(work)], capture_output=True, text=True, timeout=300,
                          env=env)


@pytest.fixture(scope="module")
def recipe_runs(tmp_path_factory) -> dict:
    """Every recipe run once, two at a time: each is one thread and mostly process start-ups, so two share the
    two cores of a small machine without slowing each other much."""
    if shutil.which("sictl") is None:
        pytest.skip("the sictl console script is not on PATH (install the package)")
    works = {r.name: tmp_path_factory.mktemp(r.stem) for r in RECIPES}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {r.name: pool.submit(_run, r, works[r.name]) for r in RECIPES}
        return {name: (f.result(), works[name]) for name, f in futures.items()}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_runs(recipe, recipe_runs):
    out, work = recipe_runs[recipe.name]
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Error" not in out.stderr
    assert any(work.iterdir())
    if recipe.name == "gaussian_field.sh":
        check_gaussian_field(out, work)
    if recipe.name in ("allen_cahn.sh", "navier_stokes.sh"):
        check_learned(out, work)
    if recipe.name == "ns_forecast.sh":
        check_forecast(out, work)
