"""Every command's --help examples run as written, in sequence, in one empty folder, and show unwrapped.

The commands are taken in the order of the workflow (prepare's sources in registry order,
design-schedule, gaussian-check, train, sample, evaluate); an example may read only files an earlier
example wrote, or the foreign files a user brings (made here: the authors' Navier–Stokes .pt and
Allen–Cahn .npy, someone's .npz/.npy arrays, ensemble forecasts and their truth, and a mixture JSON
file; an example that names another such file adds it to :func:`user_files`). Nothing in an example is
substituted: the text of the help is split as a shell would (``\\`` continues a line, ``|`` pipes one
sictl command into the next) and run in process. A command that writes a file says ``wrote PATH``.
"""

from __future__ import annotations

import json
import os
import shlex

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sictl.cli.app import app
from sictl.pipeline.sources import REGISTRY

ORDER = [f"prepare {name}" for name in REGISTRY] + ["design-schedule", "gaussian-check", "train", "sample", "evaluate"]
runner = CliRunner()


def _command(name: str):
    import typer

    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    head, _, sub = name.partition(" ")
    cmd = root.get_command(ctx, head)
    return cmd.get_command(ctx, sub) if sub else cmd


def help_text(name: str) -> str:
    from sictl.cli.registry_help import fill

    return fill(_command(name).help)


def example_lines(text: str) -> list[list[str]]:
    """The examples of a help text: the indented lines after 'Example(s)…:', each a list of its
    physical lines (a trailing backslash continues an example on the next line)."""
    out, current, inside = [], None, False
    for line in text.splitlines():
        if line.strip().startswith("Example"):
            inside = True
            continue
        if inside and not line.startswith("  "):
            inside = False
        if not inside or not line.strip():
            continue
        if current is None:
            current = []
            out.append(current)
        current.append(line.strip())
        if not line.rstrip().endswith("\\"):
            current = None
    return out


def user_files(folder) -> None:
    """The foreign inputs the examples name: files a user brings, not written by any example."""
    rng = np.random.default_rng(0)
    data = torch.from_numpy(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    torch.save((data, torch.arange(3, dtype=torch.float32)), folder / "data_file01.pt")
    np.save(folder / "AllenCahn1D_grid64_samples.npy", rng.standard_normal((130, 4, 65)).astype(np.float32))
    np.savez(folder / "fields.npz", u=rng.standard_normal((20, 32, 32)).astype(np.float32))
    np.save(folder / "theirs.npy", rng.standard_normal((20, 32, 32)).astype(np.float32))
    np.save(folder / "fc.npy", rng.standard_normal((2, 3, 2, 16, 16)).astype(np.float32))
    np.save(folder / "truth.npy", rng.standard_normal((2, 2, 16, 16)).astype(np.float32))
    (folder / "mixture.json").write_text(json.dumps({"weights": [0.3, 0.7], "means": [[4.0, 0.0], [-4.0, 0.0]],
                                                     "covs": [1.0, 1.0]}))


def run_example(physical: list[str]) -> list:
    """Run one example (a pipeline of sictl commands); returns the results of its stages."""
    words = shlex.split(" ".join(line.rstrip("\\") for line in physical))
    stages, results, piped = [[]], [], None
    for word in words:
        if word == "|":
            stages.append([])
        else:
            stages[-1].append(word)
    for stage in stages:
        assert stage[0] == "sictl", f"an example runs sictl only: {physical}"
        result = runner.invoke(app, stage[1:], input=piped)
        assert result.exit_code == 0, f"{' '.join(physical)}\n{result.output}"
        piped = result.stdout_bytes
        results.append((stage, result))
    return results


def _writes(stage: list[str]) -> str | None:
    """The file a stage writes with -o/--output (None for stdout or no output)."""
    for flag in ("-o", "--output"):
        if flag in stage[:-1]:
            path = stage[stage.index(flag) + 1]
            return None if path == "-" else path
    return None


pytestmark = pytest.mark.slow  # every example of every command: about a minute


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """Run every example of every command in order; (command, example, stages) as they ran."""
    folder = tmp_path_factory.mktemp("examples")
    user_files(folder)
    done, cwd = [], os.getcwd()
    os.chdir(folder)
    try:
        for name in ORDER:
            for example in example_lines(help_text(name)):
                try:
                    done.append((name, example, run_example(example)))
                except AssertionError as failure:
                    done.append((name, example, failure))
    finally:
        os.chdir(cwd)
    return done


@pytest.mark.parametrize("name", ORDER)
def test_help_examples_run_in_sequence(workflow, name):
    ran = [(example, stages) for command, example, stages in workflow if command == name]
    assert ran, f"sictl {name} --help has no examples"
    failed = [str(stages) for _, stages in ran if isinstance(stages, AssertionError)]
    assert not failed, "\n\n".join(failed)
    for example, stages in ran:
        for stage, result in stages:
            quiet = {"--json", "-q", "--quiet"} & set(stage)
            path = _writes(stage)
            if path is not None and not quiet:
                assert "wrote " in result.stderr, (example, result.stderr)  # NAME-train.h5 … for --split


@pytest.mark.parametrize("name", ORDER)
def test_help_examples_are_not_wrapped(name):
    """At 80 columns every physical example line shows whole on one line of the rendered help."""
    head, _, sub = name.partition(" ")
    result = runner.invoke(app, [head, *([sub] if sub else []), "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    shown = [line.strip() for line in result.output.splitlines()]
    wrapped = [line for example in example_lines(help_text(name)) for line in example
               if len(line) > 76 or line not in shown]
    assert not wrapped, f"these lines wrap in `sictl {name} --help`: {wrapped}"


def test_example_parser_joins_continuations():
    text = "Intro.\n\n\b\nExamples:\n  sictl a --x 1 \\\n      --y 2\n  sictl b\n\nAfter."
    assert example_lines(text) == [["sictl a --x 1 \\", "--y 2"], ["sictl b"]]
