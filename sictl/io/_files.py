"""File plumbing shared by every sictl format: checksums, atomic writes, and the ``-`` convention.

``-`` as an output path means stdout (the file is built in a temporary file and copied out on
success); ``-`` as an input path means stdin (copied once into a temporary file, because HDF5 and
safetensors need random access).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from sictl.errors import SchemaError, SictlError

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
    """SHA-256 of a file's bytes, read in 1 MiB blocks.

    Returns:
        ``"sha256:<64 hex digits>"``.

    Raises:
        SchemaError: if the file cannot be read.
    """
    digest = hashlib.sha256()
    local = local_input_path(path)
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


def _create_temp(directory: str, base: str) -> str:
    """Create an empty ``.<base>.<random>.tmp`` in ``directory`` with the usual umask permissions.

    (``tempfile.mkstemp`` would make it 0600, and the renamed output would keep that.)
    """
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, binary: bool = True) -> Iterator[str]:
    """Yield a temporary path to write to; it replaces ``path`` only if the block succeeds.

    The temporary file lives in the target's directory (so ``os.replace`` is atomic). With ``path ==
    "-"`` it lives in the system temp directory and its bytes are copied to ``sys.stdout.buffer`` on
    success. On any exception (``KeyboardInterrupt`` included) the temporary file is removed and an
    existing target is left untouched.

    Args:
        path: final output path, or ``-`` for stdout.
        binary: passed to :func:`check_writable`.

    Yields:
        The temporary path (the file exists and is empty; writers may truncate or recreate it).
    """
    check_writable(path, binary=binary)
    to_stdout = str(path) == STDIO
    if to_stdout:
        directory, base = None, "sictl-stdout"
    else:
        target = os.path.abspath(os.fspath(path))
        directory, base = os.path.dirname(target), os.path.basename(target)
    tmp = _create_temp(directory or tempfile.gettempdir(), base)
    try:
        yield tmp
        if to_stdout:
            _copy_to_stdout(tmp)
        else:
            os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


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
