"""Names of sictl's temporary files, and the removal of those a killed process left behind.

Every temporary file sictl writes next to a target ``NAME`` is hidden and says whose it is:
``.NAME.<pid>.<8 hex>.tmp`` (the scratch file of ``prepare`` is ``.NAME.raw.<pid>.<8 hex>.tmp``).
A process killed with SIGKILL cannot remove its temporaries; the next process that writes ``NAME``
removes every temporary of that target whose process no longer runs and that is older than itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time

__all__ = ["create_temp", "remove_stale_temps", "target_of", "temp_name"]

_PATTERN = re.compile(r"^\.(?P<base>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")
#: When this process started (as far as this module knows): older temporaries of dead processes are stale.
_STARTED = time.time()


def temp_name(base: str) -> str:
    """A fresh hidden name for a temporary file of target ``base`` owned by this process."""
    return f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def target_of(path: str) -> str | None:
    """The target a temporary (or scratch) file of sictl's naming belongs to, or None for another name."""
    directory, name = os.path.split(path)
    while (match := _PATTERN.match(name)) is not None:
        name = match["base"]
    if name == os.path.basename(path):
        return None
    return os.path.join(directory, name.removesuffix(".raw"))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # somebody else's live process
        return True
    return True


def _belongs(found: str, base: str) -> bool:
    """A temporary of target ``base``: its own, its scratch (``base.raw``), or a temporary of either."""
    return found == base or found.startswith((f"{base}.", f".{base}."))


def remove_stale_temps(directory: str, base: str) -> list[str]:
    """Remove the temporaries of target ``base`` in ``directory`` left by processes that are gone.

    A temporary is stale when its name has sictl's form, its process id is not running and it was
    last modified before this process started. Returns the removed paths (errors are ignored: the
    cleanup never stops a run).
    """
    removed: list[str] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = _PATTERN.match(name)
        if match is None or not _belongs(match["base"], base) or _alive(int(match["pid"])):
            continue
        path = os.path.join(directory, name)
        with contextlib.suppress(OSError):
            if os.path.isfile(path) and os.path.getmtime(path) < _STARTED:
                os.remove(path)
                removed.append(path)
    return removed


def create_temp(directory: str, base: str) -> str:
    """Create an empty temporary file for target ``base`` in ``directory``; return its path.

    Stale temporaries of the same target are removed first. The file gets the usual umask
    permissions (``tempfile.mkstemp`` would make it 0600, and the renamed output would keep that).
    """
    remove_stale_temps(directory, base)
    while True:
        tmp = os.path.join(directory, temp_name(base))
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp
