"""Base class of the streaming HDF5 writers: build in a temporary file, rename on success."""

from __future__ import annotations

import contextlib
import os
import sys

import h5py

from sictl.io._files import atomic_output, check_writable


class AtomicH5Writer:
    """Context manager owning one HDF5 file under construction.

    ``__enter__`` opens a temporary file (see :func:`~sictl.io._files.atomic_output`) and calls
    :meth:`_layout`; a clean ``__exit__`` calls :meth:`_finish` and renames the file onto the target.
    Any exception, in the block or in ``_finish``, removes the temporary file and leaves an existing
    target untouched. Subclasses override ``_layout`` and ``_finish``.

    Args:
        path: output path (``-`` = stdout); checked for writability at construction.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        check_writable(path)
        self.path = path
        self._stack: contextlib.ExitStack | None = None
        self._file: h5py.File | None = None

    def __enter__(self):
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_output(self.path))
        try:
            self._file = h5py.File(tmp, "w")
            self._layout(self._file)
        except BaseException:
            self._abort()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort(exc_type, exc, tb)
            return
        try:
            self._finish(self._file)
            self._file.close()  # type: ignore[union-attr]
        except BaseException:
            self._abort()
            raise
        self._stack.close()  # type: ignore[union-attr]  (renames the temporary file)

    def _abort(self, *exc_info) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
        if self._stack is not None:
            self._stack.__exit__(*(exc_info or sys.exc_info()))

    def _require_open(self) -> h5py.File:
        if self._file is None or not self._file.id.valid:
            raise RuntimeError(f"{type(self).__name__} must be used as a context manager (with ... as w:)")
        return self._file

    def _layout(self, f: h5py.File) -> None:
        """Create the groups and empty resizable datasets."""

    def _finish(self, f: h5py.File) -> None:
        """Check counts and write the final attributes."""
