"""File plumbing shared by every sictl format: checksums, atomic writes, and the ``-`` convention.

``-`` as an output path means stdout (the file is built in a temporary file and copied out on
success); ``-`` as an input path means stdin (copied once into a temporary file, because HDF5 and
safetensors need random access).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import hashlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

from sictl.errors import SchemaError, SictlError
from sictl.io._temps import create_temp, target_of

STDIO = "-"
_STDIN_NAME = "<stdin>"


def display_name(path: str | os.PathLike) -> str:
    """The name used for ``path`` in messages: ``<stdin>`` stands for ``-``."""
    return _STDIN_NAME if str(path) == STDIO else str(path)


# --------------------------------------------------------------------------------------------- files


def description_checksum(description: dict) -> str:
    """SHA-256 of the canonical (key-sorted) JSON of something that is not a file: a named schedule,
    a ratio, Matérn or two-mode target. Equal descriptions give equal checksums, however written."""
    import json

    return "sha256:" + hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()


def file_checksum(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (of a folder's files and their names, for a zarr store).

    Returns:
        ``"sha256:<64 hex digits>"``.

    Raises:
        SchemaError: if the file cannot be read.
    """
    digest = hashlib.sha256()
    local = local_input_path(path)
    if os.path.isdir(local):  # a folder store (zarr): its files' relative paths and bytes, in sorted order
        for root, dirs, files in os.walk(local):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, local).encode() + b"\0")
                digest.update(file_checksum(full).encode())
        return f"sha256:{digest.hexdigest()}"
    try:
        with open(local, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise SchemaError(f"{display_name(path)}: cannot read ({exc.strerror})") from exc
    return f"sha256:{digest.hexdigest()}"


def check_writable(path: str | os.PathLike, *, overwrite: bool = True, binary: bool = True) -> None:
    """Check, before any work, that ``path`` can be written.

    Args:
        path: output path, or ``-`` for stdout.
        overwrite: if False, an existing file is an error (the CLI's ``--force`` sets it True).
        binary: the output is binary (HDF5, safetensors): refuse to write it to a terminal.

    Raises:
        SictlError: missing or read-only directory, a directory as target, an existing file without
            ``overwrite``, or binary output to a terminal.
    """
    if str(path) == STDIO:
        isatty = getattr(sys.stdout, "isatty", None)
        if binary and isatty is not None and isatty():
            raise SictlError(
                "refusing to write a binary file to the terminal",
                hint="redirect stdout (`-o - > out.h5`) or pipe it into the next sictl command",
            )
        return
    target = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise SictlError(
            f"cannot write {path}: directory {directory} does not exist",
            hint=f"create it first (mkdir -p {directory}) or choose another -o path",
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SictlError(
            f"cannot write {path}: directory {directory} is not writable",
            hint="choose an -o path in a directory you can write to",
        )
    if os.path.isdir(target):
        raise SictlError(f"cannot write {path}: it is a directory", hint="give a file name, e.g. -o out.h5")
    if os.path.exists(target) and not overwrite:
        raise SictlError(f"{path} already exists", hint="pass --force to replace it or choose another name")


def _copy_to_stdout(tmp: str) -> None:
    out = getattr(sys.stdout, "buffer", sys.stdout)
    with open(tmp, "rb") as handle:
        shutil.copyfileobj(handle, out)
    out.flush()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, binary: bool = True,
                  group: OutputGroup | None = None) -> Iterator[str]:
    """Yield a temporary path to write to; it replaces ``path`` only if the block succeeds.

    The temporary file ``.NAME.<pid>.<random>.tmp`` lives in the target's directory (so
    ``os.replace`` is atomic; see :mod:`sictl.io._temps`). With ``path == "-"`` it lives in the
    system temp directory and its bytes are copied to ``sys.stdout.buffer`` on success. On any
    exception (``KeyboardInterrupt`` and SIGTERM included, :mod:`sictl.io.signals`) the temporary file
    is removed and an existing target is left untouched; a full disk becomes one
    :class:`~sictl.errors.SictlError` naming the target.

    Args:
        path: final output path, or ``-`` for stdout.
        binary: passed to :func:`check_writable`.
        group: an :class:`OutputGroup`: on success the file is handed to it, and appears when the
            group commits, together with the group's other files.

    Yields:
        The temporary path (the file exists and is empty; writers may truncate or recreate it).
    """
    from sictl.io.signals import cleanup_on_signals

    check_writable(path, binary=binary)
    to_stdout = str(path) == STDIO
    if to_stdout:
        directory, base, target = tempfile.gettempdir(), "sictl-stdout", STDIO
    else:
        target = os.path.abspath(os.fspath(path))
        directory, base = os.path.dirname(target), os.path.basename(target)
    with cleanup_on_signals():
        tmp = None
        try:
            tmp = create_temp(directory, base)
            yield tmp
            if to_stdout:
                _copy_to_stdout(tmp)
            elif group is not None:
                group.add(tmp, target)
                tmp = None  # the group owns it now
            else:
                os.replace(tmp, target)
        except BaseException as exc:
            error = disk_error(exc, path)
            if error is None:
                raise
            raise error from None
        finally:
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(tmp)


class OutputGroup:
    """Output files that appear together or not at all (``prepare --split``'s train and test files,
    ``sample``'s samples and ``--save-noise`` files).

    Use as a context manager around the writers, each given ``group=``: a writer that succeeds hands
    its temporary file to the group instead of renaming it; when the block ends without an exception
    every file is renamed onto its target (SIGINT/SIGTERM are held back for those few renames), and
    on an exception every temporary file is removed and no target changes.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[str, str]] = []
        self._stack = contextlib.ExitStack()

    def add(self, tmp: str, target: str) -> None:
        """Take over the finished temporary file ``tmp`` of ``target``."""
        self._pending.append((tmp, target))

    def __enter__(self):
        from sictl.io.signals import cleanup_on_signals

        self._stack.enter_context(cleanup_on_signals())
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        from sictl.io.signals import signals_deferred

        try:
            if exc_type is None:
                with signals_deferred():
                    while self._pending:
                        tmp, target = self._pending[0]
                        os.replace(tmp, target)
                        self._pending.pop(0)
        finally:
            for tmp, _ in self._pending:
                with contextlib.suppress(OSError):
                    os.remove(tmp)
            self._pending.clear()
            self._stack.close()


def output_group() -> OutputGroup:
    """A new :class:`OutputGroup`, for a ``with`` statement."""
    return OutputGroup()


# ------------------------------------------------------------------------------------- write errors

_ERRNO = re.compile(r"errno = (\d+)")


def _errno(exc: BaseException | None) -> int | None:
    """The operating-system error number behind an exception (h5py puts it in the message only)."""
    for _ in range(8):
        if exc is None:
            return None
        number = getattr(exc, "errno", None)
        if isinstance(number, int):
            return number
        match = _ERRNO.search(str(exc)) if isinstance(exc, (OSError, RuntimeError)) else None
        if match:
            return int(match.group(1))
        exc = exc.__cause__ or exc.__context__
    return None


def disk_error(exc: BaseException, path: str | os.PathLike) -> SictlError | None:
    """The one-line error for a write that failed because the disk is full (or a size limit was hit),
    or None for any other exception."""
    if isinstance(exc, SictlError) or not isinstance(exc, (OSError, RuntimeError)):
        return None
    number, name = _errno(exc), display_name(path) if str(path) != STDIO else "<stdout>"
    target = target_of(os.fspath(path)) if str(path) != STDIO else None
    if target is not None:  # prepare's scratch file: name the output it is for
        name = f"the scratch file of {target}"
    if number in (errno.ENOSPC, errno.EDQUOT):
        where = tempfile.gettempdir() if str(path) == STDIO else os.path.dirname(os.path.abspath(os.fspath(path)))
        what = "disk quota exceeded" if number == errno.EDQUOT else "no space left on device"
        return SictlError(f"{what} writing {name}",
                          hint=f"free space in {where} (`df -h {where}` shows it) or write elsewhere; "
                               "the target was left as it was")
    if number == errno.EFBIG:
        return SictlError(f"file too large writing {name} (a size limit of the file system or of `ulimit -f`)",
                          hint="raise the limit (`ulimit -f unlimited`) or write to another file system; "
                               "the target was left as it was")
    return None


# ------------------------------------------------------------------------------- inputs vs outputs


def _paths(spec: Any) -> list[str]:
    if spec is None:
        return []
    if isinstance(spec, (list, tuple)):
        return [p for item in spec for p in _paths(item)]
    return [] if str(spec) == STDIO else [os.fspath(spec)]


def _identity(path: str) -> tuple[str, tuple[int, int] | None]:
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return real, None
    return real, (st.st_dev, st.st_ino)


def _same(a: tuple[str, tuple[int, int] | None], b: tuple[str, tuple[int, int] | None]) -> bool:
    return a[0] == b[0] or (a[1] is not None and a[1] == b[1])


def check_distinct(inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
    """Refuse, before any work, an output that is also an input or another output.

    Paths are compared after resolving symbolic links (``realpath``) and by device and inode (hard
    links). ``-`` (stdin/stdout) and None are skipped.

    Args:
        inputs: option (e.g. ``"--exact"``) -> path, a list of paths, or None.
        outputs: option (e.g. ``"-o"``) -> path, a list of paths, or None.

    Raises:
        SictlError: ``X is both input and output`` or ``X is written twice``, naming the options.
    """
    ins = [(label, path, _identity(path)) for label, spec in inputs.items() for path in _paths(spec)]
    outs = [(label, path, _identity(path)) for label, spec in outputs.items() for path in _paths(spec)]
    for i, (label, path, ident) in enumerate(outs):
        for in_label, in_path, in_ident in ins:
            if _same(ident, in_ident):
                shown = path if os.path.abspath(path) == os.path.abspath(in_path) else f"{path} (= {in_path})"
                raise SictlError(f"{shown} is both input and output ({in_label} and {label})",
                                 hint="write the output to another path: it would replace the input")
        for other_label, other_path, other_ident in outs[:i]:
            if _same(ident, other_ident):
                shown = path if os.path.abspath(path) == os.path.abspath(other_path) else f"{path} (= {other_path})"
                raise SictlError(f"{shown} is written twice ({other_label} and {label})",
                                 hint="give each output its own path")


# --------------------------------------------------------------------------------------------- stdin

_stdin_copy: tuple[Any, str] | None = None


def _remove_stdin_copy() -> None:
    if _stdin_copy is not None:
        with contextlib.suppress(OSError):
            os.remove(_stdin_copy[1])


atexit.register(_remove_stdin_copy)


def local_input_path(path: str | os.PathLike) -> str:
    """The local file behind an input path; ``-`` copies stdin to a temporary file (once per stream).

    Raises:
        SictlError: ``-`` was given but stdin is a terminal.
    """
    global _stdin_copy
    if str(path) != STDIO:
        return os.fspath(path)
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    if _stdin_copy is not None and _stdin_copy[0] is stream:
        return _stdin_copy[1]
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        raise SictlError("input '-' means stdin, but stdin is a terminal", hint="pipe a file: `... < in.h5`")
    _remove_stdin_copy()
    fd, tmp = tempfile.mkstemp(prefix="sictl-stdin.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        shutil.copyfileobj(stream, handle)
    _stdin_copy = (stream, tmp)
    return tmp


def check_input_file(path: str | os.PathLike) -> str:
    """Check that an input path names a non-empty regular file; return the local path to open.

    Raises:
        SchemaError: missing file, a directory, or an empty file.
    """
    name = display_name(path)
    local = local_input_path(path)
    if not os.path.exists(local):
        raise SchemaError(f"{name}: no such file", hint="check the path (and the current directory)")
    if os.path.isdir(local):
        raise SchemaError(f"{name} is a directory, not a file", hint="give the path of a file inside it")
    if os.path.getsize(local) == 0:
        raise SchemaError(f"{name} is empty", hint="the command that wrote it failed; regenerate it")
    return local
