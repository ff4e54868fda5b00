"""Exception hierarchy. Every error a user can cause is a :class:`SictlError`.

The CLI prints ``Error: <message>`` and ``Hint: <hint>`` and exits with the error's ``exit_code``: 1,
or 2 for a :class:`UsageError` (a required option missing, as click's own usage errors). A raise site gives
the most specific hint it can; where it gives none, the error class's ``default_hint`` (which says
where to look for that kind of problem) is printed instead, so every domain error carries a hint.
"""

from __future__ import annotations


class SictlError(Exception):
    """A domain error: bad input, bad file, invalid parameter. Exit code 1 in the CLI."""

    default_hint = "see the command's --help for its options and an example"
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint or self.default_hint

    def __str__(self) -> str:
        return self.message


class ConfigError(SictlError):
    """An option or parameter outside its domain (λ ≤ 0, steps ≤ 0, t_min ≥ t_max, ...)."""

    default_hint = "check the option's value against the command's --help (docs/cli.md lists every option)"


class UsageError(ConfigError):
    """A command line without an option it cannot run without: ``-o``, or the one of a group (a target,
    a reference, a drift) of which exactly one is required. Exit code 2, like click's usage errors."""

    default_hint = "see the command's --help for its required options and an example"
    exit_code = 2


class SchemaError(SictlError):
    """A file of the wrong kind or version, truncated, corrupt, or with bad shapes or values."""

    default_hint = ("check that the file is complete and of the kind this command reads "
                    "(docs/file-formats.md describes each kind; `h5dump -A FILE` shows its attributes)")


class ShapeError(SictlError):
    """Tensors or files whose shapes, channels or resolutions do not match."""

    default_hint = "compare the inputs' shapes; `--layout` names a foreign file's axes, `prepare --resolution` changes a grid"


class ConvergenceError(SictlError):
    """A numerical procedure that did not converge (root finder, optimiser, NaN loss)."""

    default_hint = "try more steps, a smaller time step or a designed schedule; SICTL_DEBUG=1 shows where it failed"
