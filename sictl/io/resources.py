"""What the machine has left: free disk space of a folder and available memory (read from the system)."""

from __future__ import annotations

import os
import shutil

__all__ = ["available_memory_bytes", "filesystem_id", "free_disk_bytes"]


def free_disk_bytes(directory: str) -> int | None:
    """Bytes an unprivileged user may still write in ``directory``'s file system (None if unknown)."""
    try:
        return int(shutil.disk_usage(directory).free)
    except OSError:
        return None


def filesystem_id(directory: str) -> int | None:
    """An id shared by folders of the same file system (so that their needs add up); None if unknown."""
    try:
        return os.stat(directory).st_dev
    except OSError:
        return None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _cgroup_available() -> int | None:
    """What a container's memory limit (cgroup v2) leaves, or None without a limit."""
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as handle:
            limit = handle.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as handle:
            current = int(handle.read().strip())
        with open("/sys/fs/cgroup/memory.stat", encoding="ascii") as handle:  # page cache it can drop
            stat = dict(line.split()[:2] for line in handle if line.strip())
        return max(int(limit) - current + int(stat.get("inactive_file", 0)), 0)
    except (OSError, ValueError):
        return None


def available_memory_bytes() -> int | None:
    """Memory this process can still take without swapping: the system's ``MemAvailable``, or less
    under a container's limit. None if unknown."""
    found = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    return min(found) if found else None
