"""`sictl --help` is fast: importing the CLI must not import torch, h5py or scipy."""

import subprocess
import sys


def test_help_does_not_import_torch():
    code = (
        "import sys; from sictl.cli.app import app; from typer.testing import CliRunner; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
        "heavy = [m for m in ('torch', 'h5py', 'scipy', 'safetensors') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_command_has_help():
    from typer.testing import CliRunner

    from sictl.cli.app import app

    for name in ["prepare", "design-schedule", "train", "sample", "evaluate", "gaussian-check"]:
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage" in result.output


def test_python_m_sictl_version():
    out = subprocess.run([sys.executable, "-m", "sictl", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("sictl ")


def _leaf_commands():
    """(name, click command) for every runnable subcommand, `prepare`'s sources included."""
    import typer

    from sictl.cli.app import app

    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    for name in root.list_commands(ctx):
        cmd = root.get_command(ctx, name)
        if hasattr(cmd, "list_commands"):
            for sub in cmd.list_commands(ctx):
                yield f"{name} {sub}", cmd.get_command(ctx, sub)
        else:
            yield name, cmd


def test_every_built_command_takes_the_shared_options():
    from typer.testing import CliRunner

    from sictl.cli.app import app

    shared = {"--json", "-o", "--seed", "--device", "--quiet"}
    seen = []
    for name, cmd in _leaf_commands():
        if name == "train":  # not built yet: it exits 2 whatever it is given
            continue
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        assert shared <= opts, (name, shared - opts)
        result = CliRunner().invoke(app, [*name.split(), "--help"], terminal_width=200)
        assert result.exit_code == 0 and "auto|cpu|cuda" in result.output, (name, result.output)
        seen.append(name)
    assert {"design-schedule", "sample", "evaluate", "gaussian-check", "prepare gaussian-field",
            "prepare allen-cahn", "prepare navier-stokes", "prepare gmm", "prepare import"} <= set(seen)
