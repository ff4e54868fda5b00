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
