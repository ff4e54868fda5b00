"""The output helpers every command shares: one user of stdout at a time, one progress bar."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from typer.testing import CliRunner

from sictl.cli.app import app
from sictl.cli.output import ProgressBar

runner = CliRunner()


@pytest.mark.parametrize("args, message", [
    (["prepare", "gaussian-field", "--n", "4", "-o", "-"], "-o - and --json both want stdout"),
    (["evaluate", "x.npy", "--reference", "x.npy", "-o", "-"], "-o - and --json both want stdout"),
    (["sample", "--exact", "x.h5", "-o", "-"], "-o - and --json both want stdout"),
    (["gaussian-check", "--ratio", "0.1", "-o", "-"], "-o - and --json both want stdout"),
    (["design-schedule", "--ratio", "0.1", "-o", "-"], "only one of -o -, --export-path - and --json can use stdout"),
    (["design-schedule", "--ratio", "0.1", "-o", "s.h5", "--export", "csv", "--export-path", "-"],
     "only one of -o -, --export-path - and --json can use stdout"),
])
def test_every_command_refuses_two_outputs_on_stdout(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[0] == f"Error: {message}" and result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_progress_bar_with_a_fixed_stage_and_extra_fields():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    with ProgressBar(console, stage="sampling", counts="{task.completed}/{task.total} steps",
                     columns=("loss {task.fields[loss]}",), fields={"loss": "–"}) as bar:
        bar(3, 19)
        bar(19, 19, loss="0.25")
    text = buffer.getvalue()
    assert "sampling" in text and "19/19 steps" in text and "loss 0.25" in text


def test_progress_bar_draws_nothing_off_a_terminal_or_when_quiet():
    for console in (Console(file=io.StringIO(), force_terminal=False), Console(file=io.StringIO(), quiet=True,
                                                                               force_terminal=True)):
        bar = ProgressBar(console)
        bar("write", 1, 2)
        bar.close()
        assert console.file.getvalue() == "" and bar.bar is None
