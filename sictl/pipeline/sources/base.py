"""What a ``prepare`` source declares (see :mod:`sictl.pipeline.sources`): :class:`Source`, and
:func:`option`/:func:`argument` for the fields of its options dataclass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Source", "WRITER_OPTIONS", "option", "argument"]

#: Options of the writer (:class:`~sictl.pipeline.prepare.PrepareOptions`) a source may take, in --help order.
WRITER_OPTIONS = ("normalize", "resolution", "resample", "split", "lag")


def option(default: Any, flag: str, help: str):
    """A dataclass field that is a command-line option ``flag`` (e.g. ``"--res"``, ``"--grid-nodes/--periodic"``)."""
    return field(default=default, metadata={"flag": flag, "help": help})


def argument(help: str):
    """A required dataclass field that is a positional command-line argument."""
    return field(metadata={"argument": True, "help": help})


@dataclass(frozen=True)
class Source:
    """One ``prepare`` source (see :mod:`sictl.pipeline.sources`)."""

    name: str
    help: str
    options: type
    build: Callable[..., Any]
    check: Callable[[Any, str], Any] | None = None
    writer_options: tuple[str, ...] = WRITER_OPTIONS
