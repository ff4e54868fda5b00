"""Where output goes: data (one JSON object, or a file for ``-o -``) on stdout, everything else on stderr."""

from __future__ import annotations

import json
import math
import sys
from typing import Any


def _clean(obj: Any) -> Any:
    """Make an object strict JSON: tensors/arrays → lists, non-finite floats → "inf", "-inf", "nan"
    (the one spelling of every sictl JSON, docs/file-formats.md)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def print_json(summary: dict) -> None:
    """Print exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(_clean(summary), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


#: width of the console when stderr is not a terminal (a log file, a pipe): nothing is wrapped or cut
LOG_WIDTH = 1000


def err_console(quiet: bool = False):
    """A rich console on stderr (quiet → a console that prints nothing).

    On a terminal tables fit its width (their columns fold, see :func:`make_table`); elsewhere (a log, a
    pipe, ``2> file``) the console is :data:`LOG_WIDTH` wide, so lines are never wrapped and numbers
    never cut at an assumed 80 columns.
    """
    from rich.console import Console

    console = Console(stderr=True, quiet=quiet, highlight=False)
    if not console.is_terminal:
        console.width = LOG_WIDTH
    return console


def make_table(*headers: str, title: str | None = None, show_header: bool = True):
    """A rich table whose columns fold a value that does not fit onto more lines instead of cutting it
    with an ellipsis: numbers are always printed in full. ``add_fold_column`` adds more columns."""
    from rich.table import Table

    t = Table(title=title, show_header=show_header)
    for header in headers:
        add_fold_column(t, header)
    return t


table = make_table  # its first name, still imported by some callers


def add_fold_column(t, header: str) -> None:
    """Add a column to a :func:`make_table` that folds (never cuts) what does not fit."""
    t.add_column(header, overflow="fold")


def print_wrote(console, *paths: str | None) -> None:
    """``wrote PATH`` on stderr for each file written (stdout, ``-``, and None are skipped)."""
    for path in paths:
        if path is not None and str(path) != "-":
            console.print(f"wrote {path}", markup=False, soft_wrap=True)


def check_stdout(outputs: dict[str, str | None], json_out: bool, *, hint: str) -> None:
    """Refuse a command line where two outputs want stdout: files given as ``-`` and ``--json``.

    ``outputs`` maps each file option (``-o``, ``--export-path``, …) to its value; the message names
    them all, e.g. "-o - and --json both want stdout".
    """
    users = [flag for flag, path in outputs.items() if path == "-"] + (["--json"] if json_out else [])
    if len(users) > 1:
        from sictl.errors import ConfigError

        flags = [f"{flag} -" for flag in outputs] + ["--json"]
        message = (f"{flags[0]} and {flags[1]} both want stdout" if len(flags) == 2
                   else f"only one of {', '.join(flags[:-1])} and {flags[-1]} can use stdout")
        raise ConfigError(message, hint=hint)


def working(console, what: str):
    """A spinner with ``what`` on stderr while a step without countable progress runs (terminals only,
    not when quiet); a context manager, transient like :class:`ProgressBar`."""
    import contextlib

    if console.quiet or not console.is_terminal:
        return contextlib.nullcontext()
    return console.status(what + " …")


class ProgressBar:
    """A rich progress bar on stderr driven by callbacks, one line per stage (terminals only).

    Called as ``bar(stage, done, total)``, or as ``bar(done, total)`` when built with a fixed
    ``stage``. Nothing is drawn on a quiet or non-terminal console, and the bar starts at the first
    call, so an error before any progress prints no bar. Use it as a context manager, or call
    :meth:`close`. ``counts`` formats done/total; ``columns`` are further text columns that may show
    task fields (``"loss {task.fields[loss]}"``), whose first values are ``fields`` and which later
    calls update by keyword (``bar(done, total, loss="0.12")``).
    """

    def __init__(self, console, *, stage: str | None = None, counts: str = "{task.completed:.4g}/{task.total:.4g}",
                 columns: tuple[str, ...] = (), fields: dict | None = None):
        self.console, self.stage, self.counts, self.columns = console, stage, counts, columns
        self.fields, self.bar, self.tasks = dict(fields or {}), None, {}

    def __call__(self, *args, **fields) -> None:
        stage, done, total = (self.stage, *args) if self.stage is not None else args
        if self.console.quiet or not self.console.is_terminal:
            return
        if self.bar is None:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(self.counts),
                                *(TextColumn(c) for c in self.columns), TimeElapsedColumn(), TimeRemainingColumn(),
                                console=self.console, transient=True)
            self.bar.start()
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total, **self.fields)
        self.bar.update(self.tasks[stage], completed=done, total=total, **fields)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
