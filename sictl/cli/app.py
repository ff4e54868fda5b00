"""The ``sictl`` command: a typer app with one module per subcommand and one error boundary.

Exit codes: 0 success, 1 domain error (``Error: …`` and a hint on stderr), 2 usage error.
Heavy imports (torch, h5py, scipy) happen inside command bodies, so ``sictl --help`` is fast.
"""

from __future__ import annotations

import os

import typer
from typer.core import TyperGroup

from sictl import __version__
from sictl.cli.runtime import keep_freed_memory
from sictl.errors import SictlError


def _fail(message: str, hint: str | None) -> None:
    typer.echo(f"Error: {message}", err=True)
    if hint:
        typer.echo(f"Hint: {hint}", err=True)


def _is_cli_control(exc: BaseException) -> bool:
    """Exits, aborts and usage errors of typer/click (vendored or not) pass through untouched."""
    return isinstance(exc, typer.Exit) or type(exc).__module__.split(".")[0] in ("click", "typer")


class ErrorBoundaryGroup(TyperGroup):
    """Turns domain errors into one ``Error:`` line and exit code 1, never a traceback."""

    def invoke(self, ctx):
        keep_freed_memory()
        try:
            return super().invoke(ctx)
        except SictlError as exc:
            _fail(exc.message, exc.hint)
            raise typer.Exit(1) from None
        except Exception as exc:  # noqa: BLE001 - the boundary of the program
            if _is_cli_control(exc) or os.environ.get("SICTL_DEBUG") == "1":
                raise
            if isinstance(exc, (OSError, MemoryError)):
                _fail(f"{type(exc).__name__}: {exc}", "check the paths, permissions and free space")
            else:
                _fail(f"internal error ({type(exc).__name__}: {exc})", "rerun with SICTL_DEBUG=1 for a traceback and report it")
            raise typer.Exit(1) from None


app = typer.Typer(
    name="sictl",
    cls=ErrorBoundaryGroup,
    help="Stochastic interpolants for scientific fields: designed schedules, spectral noise, exact checks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        typer.echo(f"sictl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
):
    """sictl: prepare → design-schedule → train → sample → evaluate, and gaussian-check, the exact laboratory."""


from sictl.cli import design_schedule as _design_schedule  # noqa: E402
from sictl.cli import evaluate as _evaluate  # noqa: E402
from sictl.cli import gaussian_check as _gaussian_check  # noqa: E402
from sictl.cli import prepare as _prepare  # noqa: E402
from sictl.cli import sample as _sample  # noqa: E402
from sictl.cli import train as _train  # noqa: E402

_prepare.register(app)
_design_schedule.register(app)
_gaussian_check.register(app)
_sample.register(app)
_evaluate.register(app)
_train.register(app)


def main() -> None:
    """Console entry point."""
    app(prog_name="sictl")
