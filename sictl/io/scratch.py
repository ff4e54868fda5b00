"""Intermediate files: a path next to the output for data written and read back before it is removed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

__all__ = ["scratch_path"]


@contextlib.contextmanager
def scratch_path(near: str, suffix: str) -> Iterator[str]:
    """Yield a fresh path (no file there yet) in the directory of ``near`` — the system temp directory
    when ``near`` is ``-`` (stdout) — and remove whatever was written there on exit, error or not."""
    directory = os.path.dirname(os.path.abspath(near)) if near != "-" else None
    fd, path = tempfile.mkstemp(suffix=suffix, dir=directory)
    os.close(fd)
    os.unlink(path)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
