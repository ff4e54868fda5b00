"""Every recipe runs end to end on tiny settings (the README promises they work)."""

import shutil
import subprocess
from pathlib import Path

import pytest

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.sh"))


def test_there_are_recipes():
    assert RECIPES


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_runs(recipe, tmp_path):
    if shutil.which("sictl") is None:
        pytest.skip("the sictl console script is not on PATH (install the package)")
    out = subprocess.run(["bash", str(recipe), "16", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Error" not in out.stderr
    assert any(tmp_path.iterdir())
