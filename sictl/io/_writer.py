"""Writing HDF5 files: build in a temporary file, rename on success, and fail cleanly when the disk is full.

HDF5 keeps written data in caches and writes them out later: when a dataset handle is dropped, when
the file is flushed or closed. A write that fails there (a full disk) is one h5py can only print from
a destructor, and a file whose close failed stays open in the HDF5 library, which tries to close it
again at exit (tracebacks, then a crash). So the writers here keep their datasets open while they
write (caches are then written inside ``ds[...] = value`` and ``flush()``, where a failure is an
exception), flush before closing, and close a file being thrown away by first pointing its file
descriptor at ``/dev/null``: whatever HDF5 still writes goes nowhere and the close succeeds.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import h5py

from sictl.io._files import OutputGroup, atomic_output, check_writable

__all__ = ["AtomicH5Writer", "discard_h5", "h5_output"]


def discard_h5(f: h5py.File) -> None:
    """Close an HDF5 file that is being thrown away, whatever state its caches are in."""
    with contextlib.suppress(Exception):
        if f.id.valid:
            fd = f.id.get_vfd_handle()
            if isinstance(fd, int) and fd >= 0:
                null = os.open(os.devnull, os.O_RDWR)
                try:
                    os.dup2(null, fd)
                finally:
                    os.close(null)
    with contextlib.suppress(Exception):
        f.close()


@contextlib.contextmanager
def h5_output(path: str | os.PathLike, *, group: OutputGroup | None = None) -> Iterator[h5py.File]:
    """An HDF5 file open for writing that replaces ``path`` only if the block succeeds.

    See :func:`~sictl.io._files.atomic_output` (``-`` = stdout, ``group``, the temporary file, a full
    disk reported as one error). The file is flushed and closed before the rename.
    """
    with atomic_output(path, group=group) as tmp:
        f = h5py.File(tmp, "w")
        try:
            yield f
            f.flush()
            f.close()
        except BaseException:
            discard_h5(f)
            raise


def _datasets(f: h5py.File) -> list[h5py.Dataset]:
    found: list[h5py.Dataset] = []
    f.visititems(lambda name, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None)
    return found


class AtomicH5Writer:
    """Context manager owning one HDF5 file under construction.

    ``__enter__`` opens a temporary file (see :func:`h5_output`) and calls :meth:`_layout`; a clean
    ``__exit__`` calls :meth:`_finish` and renames the file onto the target (or hands it to ``group``).
    Any exception, in the block or in ``_finish``, removes the temporary file and leaves an existing
    target untouched; a full disk is reported as one :class:`~sictl.errors.SictlError`. Subclasses
    override ``_layout`` and ``_finish``.

    Args:
        path: output path (``-`` = stdout); checked for writability at construction.
        group: an :class:`~sictl.io._files.OutputGroup` the file joins (it appears with the others).
    """

    def __init__(self, path: str | os.PathLike, *, group: OutputGroup | None = None) -> None:
        check_writable(path)
        self.path = path
        self._group = group
        self._stack: contextlib.ExitStack | None = None
        self._file: h5py.File | None = None
        self._held: list[h5py.Dataset] = []

    def __enter__(self):
        self._stack = contextlib.ExitStack()
        try:
            self._file = self._stack.enter_context(h5_output(self.path, group=self._group))
            self._layout(self._file)
            self._held = _datasets(self._file)  # open for the whole write (see the module docstring)
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
            self._file.flush()  # type: ignore[union-attr]  (a failure is raised here, not in a destructor)
            self._held = []
        except BaseException:
            self._abort()
            raise
        self._stack.close()  # type: ignore[union-attr]  (closes, then renames the temporary file)

    def _abort(self, *exc_info) -> None:
        try:
            if self._stack is not None:
                self._stack.__exit__(*(exc_info or sys.exc_info()))
        finally:
            self._held = []

    def _require_open(self) -> h5py.File:
        if self._file is None or not self._file.id.valid:
            raise RuntimeError(f"{type(self).__name__} must be used as a context manager (with ... as w:)")
        return self._file

    def _layout(self, f: h5py.File) -> None:
        """Create the groups and empty resizable datasets."""

    def _finish(self, f: h5py.File) -> None:
        """Check counts and write the final attributes."""
