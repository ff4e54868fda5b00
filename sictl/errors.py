"""Exception hierarchy. Every error a user can cause is a :class:`SictlError`.

The CLI prints ``Error: <message>`` and, when given, ``Hint: <hint>`` and exits with code 1.
"""

from __future__ import annotations


class SictlError(Exception):
    """A domain error: bad input, bad file, invalid parameter. Exit code 1 in the CLI."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(SictlError):
    """An option or parameter outside its domain (λ ≤ 0, steps ≤ 0, t_min ≥ t_max, ...)."""


class SchemaError(SictlError):
    """A file of the wrong kind or version, truncated, corrupt, or with bad shapes or values."""


class ShapeError(SictlError):
    """Tensors or files whose shapes, channels or resolutions do not match."""


class ConvergenceError(SictlError):
    """A numerical procedure that did not converge (root finder, optimiser, NaN loss)."""
