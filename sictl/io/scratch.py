"""Intermediate files: a path next to the output for data written and read back before it is removed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from sictl.io._temps import create_temp

__all__ = ["scratch_path"]


@contextlib.contextmanager
def scratch_path(near: str, suffix: str) -> Iterator[str]:
    """Yield a fresh path (no file there yet) in the directory of ``near`` — the system temp directory
    when ``near`` is ``-`` (stdout) — and remove whatever was written there on exit, error or not.

    The name is hidden and names its process, ``.NAME<suffix>.<pid>.<random>.tmp`` (``suffix`` without
    its last extension, e.g. ``.raw`` for ``.raw.h5``), so that a run killed with SIGKILL leaves only
    dot-files that the next write of ``NAME`` removes (:mod:`sictl.io._temps`). SIGINT and SIGTERM
    remove it at once (:mod:`sictl.io.signals`).
    """
    from sictl.io.signals import cleanup_on_signals

    if near != "-":
        directory, base = os.path.dirname(os.path.abspath(near)), os.path.basename(near)
    else:
        directory, base = tempfile.gettempdir(), "sictl-stdout"
    base += os.path.splitext(suffix)[0] if suffix.count(".") > 1 else suffix
    with cleanup_on_signals():
        path = create_temp(directory, base)
        try:
            os.unlink(path)
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
