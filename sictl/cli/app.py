"""The ``sictl`` command: a typer app with one module per subcommand and one error boundary.

Exit codes (docs/cli.md, "Exit codes"): 0 success; 1 a domain error (``Error: …`` and a ``Hint: …``
on stderr): a value outside its domain, a bad or missing file, out of memory; 2 a usage error, a
command line that does not parse: an unknown option, a value of the wrong type, a missing required
option or argument (click's own message); 141 (128 + SIGPIPE) when the reader of stdout went away
(``sictl … | head``): the command stops quietly, as ``cat`` or ``yes`` do.
Heavy imports (torch, h5py, scipy) happen inside command bodies, so ``sictl --help`` is fast.
"""

from __future__ import annotations

import errno
import os
import sys
import zipfile

import typer
from typer.core import TyperGroup

from sictl import __version__
from sictl.cli.runtime import keep_freed_memory
from sictl.errors import SictlError

#: exit status when stdout is a closed pipe: what a shell reports for a tool stopped by SIGPIPE
EXIT_BROKEN_PIPE = 141
_MEMORY_HINT = "lower --batch-size or --n (how much is held at once), or free memory"


def _fail(message: str, hint: str | None) -> None:
    typer.echo(f"Error: {message}", err=True)
    if hint:
        typer.echo(f"Hint: {hint}", err=True)


def _is_cli_control(exc: BaseException) -> bool:
    """Exits, aborts and usage errors of typer/click (vendored or not) pass through untouched."""
    return isinstance(exc, typer.Exit) or type(exc).__module__.split(".")[0] in ("click", "typer")


def _is_broken_pipe(exc: BaseException) -> bool:
    """EPIPE, or rich's way of ending on one: rich (help, tables) catches the broken pipe itself and
    raises ``SystemExit(1)``, which nothing else inside a command or the help raises."""
    if isinstance(exc, SystemExit):
        return exc.code == 1
    return isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE)


def _out_of_memory(exc: BaseException) -> bool:
    """A failed allocation: Python's and numpy's MemoryError, torch's OutOfMemoryError or CPU allocator."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and any(s in str(exc) for s in ("can't allocate memory", "out of memory"))


def stdout_closed() -> typer.Exit:
    """The reader of stdout went away: send whatever is still buffered to /dev/null and stop quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (a test runner)
        pass
    return typer.Exit(EXIT_BROKEN_PIPE)


class ErrorBoundaryGroup(TyperGroup):
    """Turns domain errors into one ``Error:`` line and exit code 1, never a traceback."""

    def make_context(self, *args, **kwargs):
        try:  # `sictl --help | head` prints the root help here, before any command runs
            return super().make_context(*args, **kwargs)
        except (OSError, SystemExit) as exc:
            if _is_broken_pipe(exc):
                raise stdout_closed() from None
            raise

    def invoke(self, ctx):
        keep_freed_memory()
        try:
            return super().invoke(ctx)
        except SictlError as exc:
            _fail(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except SystemExit as exc:
            if _is_broken_pipe(exc):
                raise stdout_closed() from None
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary of the program
            if _is_broken_pipe(exc):
                raise stdout_closed() from None
            if _is_cli_control(exc) or os.environ.get("SICTL_DEBUG") == "1":
                raise
            if _out_of_memory(exc):
                _fail(f"out of memory ({type(exc).__name__}: {str(exc) or 'allocation failed'})", _MEMORY_HINT)
            elif isinstance(exc, zipfile.BadZipFile):
                _fail(f"not a valid zip archive ({exc}): .npz and .pt files are zip archives",
                      "the file is truncated or of another kind; re-save it (numpy.savez, torch.save) or copy it again")
            elif isinstance(exc, OSError):
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
    """Console entry point. A closed stdout at exit (the last buffered bytes) also ends quietly."""
    try:
        app(prog_name="sictl")
    except SystemExit as done:
        code = done.code
    else:
        code = 0
    try:
        sys.stdout.flush()
    except OSError as exc:
        if not _is_broken_pipe(exc):
            raise
        stdout_closed()
        code = EXIT_BROKEN_PIPE
    sys.exit(code)
