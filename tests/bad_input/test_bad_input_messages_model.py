"""Refused `--model` runs of design-schedule and gaussian-check: one `Error:` line with a hint, exit 1.

Each case id (``msg-…``) is a row of the table in docs/reliability.md. The run is a 2-step `tiny` model on
16-point fields (trained once per module, ~2 s): what is refused never needs a trained network.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sictl.cli.app import app

runner = CliRunner()


def ok(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """g16.h5, g32.h5 (1-D Gaussian fields) and run16 (a tiny model trained on g16 for 2 steps)."""
    d = tmp_path_factory.mktemp("model_inputs")
    ok("prepare", "gaussian-field", "--res", "16", "--dim", "1", "--n", "32", "-o", str(d / "g16.h5"), "-q")
    ok("prepare", "gaussian-field", "--res", "32", "--dim", "1", "--n", "8", "-o", str(d / "g32.h5"), "-q")
    ok("train", str(d / "g16.h5"), "-o", str(d / "run16"), "--model", "tiny", "--steps", "2", "--batch-size", "4",
       "--checkpoint-every", "2", "--quiet")
    return d


REFUSED = [
    pytest.param(["design-schedule", "--model", "{d}/nowhere", "--data", "{d}/g16.h5", "-o", "{o}/s.h5"],
                 "nowhere: no such file", id="msg-design-model-missing-run"),
    pytest.param(["design-schedule", "--model", "{d}/run16", "-o", "{o}/s.h5"],
                 "--model needs --data FILE", id="msg-design-model-without-data"),
    pytest.param(["design-schedule", "--model", "{d}/run16", "--data", "{d}/g32.h5", "-o", "{o}/s.h5"],
                 "the model was trained on samples of shape (1, 16), but", id="msg-design-model-resolution"),
    pytest.param(["design-schedule", "--model", "{d}/run16", "--data", "{d}/g16.h5", "--matern", "16", "-o", "{o}/s.h5"],
                 "--model is the target; it does not combine with --matern", id="msg-design-model-two-targets"),
    pytest.param(["gaussian-check", "--model", "{d}/nowhere", "--spectrum", "{d}/g16.h5"],
                 "nowhere: no such file", id="msg-gaussian-check-model-missing-run"),
    pytest.param(["gaussian-check", "--model", "{d}/run16"],
                 "--model needs --spectrum FILE", id="msg-gaussian-check-model-without-spectrum"),
    pytest.param(["gaussian-check", "--model", "{d}/run16", "--spectrum", "{d}/g32.h5"],
                 "the model was trained on a 16 grid, but", id="msg-gaussian-check-model-resolution"),
    pytest.param(["gaussian-check", "--matern", "16", "--plot", "{o}/p.png"],
                 "--plot draws the per-shell errors of a model", id="msg-gaussian-check-plot-without-model"),
]


@pytest.mark.parametrize("args,fragment", REFUSED)
def test_model_input_refused_with_one_line(data, tmp_path, args, fragment):
    before = snapshot(data)
    result = runner.invoke(app, [a.format(d=data, o=tmp_path) for a in args])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert result.stderr.splitlines()[1].startswith("Hint: ") and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == [] and snapshot(data) == before
