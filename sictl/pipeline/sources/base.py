"""What a ``prepare`` source declares (see :mod:`sictl.pipeline.sources`): :class:`Source`, and
:func:`option`/:func:`argument` for the fields of its options dataclass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Source", "WRITER_OPTIONS", "option", "argument", "check_finite", "input_paths"]

#: Options of the writer (:class:`~sictl.pipeline.prepare.PrepareOptions`) a source may take, in --help order.
WRITER_OPTIONS = ("normalize", "resolution", "resample", "split", "lag")


def option(default: Any, flag: str, help: str, *, aliases: tuple[str, ...] = ()):
    """A dataclass field that is a command-line option ``flag`` (e.g. ``"--res"``, ``"--grid-nodes/--periodic"``);
    ``aliases`` are further names of the same option (older spellings that keep working)."""
    return field(default=default, metadata={"flag": flag, "help": help, "aliases": tuple(aliases)})


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
    input_files: tuple[str, ...] = ()  # fields of ``options`` that name files the source reads


def input_paths(src: Source, options: Any) -> dict[str, Any]:
    """The files ``sictl prepare SOURCE`` reads, by option flag (or argument name), for the check that
    no output is one of them."""
    from dataclasses import fields

    flags = {f.name: f.metadata.get("flag", f.name.upper()).split("/")[0] for f in fields(options)}
    return {flags[name]: getattr(options, name) for name in src.input_files}


def check_finite(options: Any, source: str) -> None:
    """Refuse a non-finite value (``inf``, ``nan``) of any float option of ``sictl prepare SOURCE`` before
    any work, naming the option.

    Raises:
        ConfigError: the first float option whose value is not a finite number.
    """
    import math
    from dataclasses import fields

    from sictl.errors import ConfigError

    for f in fields(options):
        value = getattr(options, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            flag = f.metadata.get("flag", f.name).split("/")[0]
            raise ConfigError(f"{flag} must be a finite number, got {value}",
                              hint=f"`sictl prepare {source} --help` says what {flag} means and its default")
