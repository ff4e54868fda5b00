"""`sictl --help` is fast: importing the CLI must not import torch, h5py or scipy."""

import os
import subprocess
import sys

import pytest


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
    # design-schedule computes closed forms and small float64 tables on the CPU: --device would mean
    # nothing there, so it is not accepted (rather than accepted and ignored)
    without_device = {"design-schedule"}
    seen = []
    for name, cmd in _leaf_commands():
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        expected = shared - {"--device"} if name in without_device else shared
        assert expected <= opts, (name, expected - opts)
        result = CliRunner().invoke(app, [*name.split(), "--help"], terminal_width=200)
        assert result.exit_code == 0, (name, result.output)
        if name in without_device:
            assert "--device" not in opts
            refused = CliRunner().invoke(app, [*name.split(), "--device", "cpu"])
            assert refused.exit_code == 2 and "--device" in refused.output, (name, refused.output)
        else:
            assert "auto|cpu|cuda" in result.output, (name, result.output)
        seen.append(name)
    assert {"design-schedule", "train", "sample", "evaluate", "gaussian-check", "prepare gaussian-field",
            "prepare allen-cahn", "prepare navier-stokes", "prepare gmm", "prepare import"} <= set(seen)


_HEAP_PROBE = (
    "import sys; from sictl.cli.app import app; from typer.testing import CliRunner; "
    "assert CliRunner().invoke(app, ['sample', '--help']).exit_code == 0; "
    "from sictl.cli import runtime; "
    "page = __import__('os').sysconf('SC_PAGE_SIZE'); "
    "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * page; "
    "block = bytearray(256 << 20); before = rss(); del block; "
    "print(runtime.keep_freed_memory(), (before - rss()) / 2**20)"
)


@pytest.mark.skipif(not sys.platform.startswith("linux") or "glibc" not in (os.confstr("CS_GNU_LIBC_VERSION") or ""),
                    reason="the heap setting applies to glibc on Linux only")
@pytest.mark.parametrize("mode", ["kept", "system"])
def test_the_command_keeps_freed_memory_unless_told_not_to(mode):
    """Any `sictl` command sets malloc to keep freed blocks (a freed 256 MiB block stays resident), and
    SICTL_MALLOC=system leaves glibc's defaults (the block goes back to the kernel at once)."""
    env = {**os.environ, "SICTL_MALLOC": "system" if mode == "system" else ""}
    out = subprocess.run([sys.executable, "-c", _HEAP_PROBE], capture_output=True, text=True, check=True, env=env)
    applied, released_mib = out.stdout.split()
    if mode == "kept":
        assert applied == "True" and float(released_mib) < 16
    else:
        assert applied == "False" and float(released_mib) > 200
