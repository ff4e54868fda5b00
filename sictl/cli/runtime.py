"""Process-level settings that the ``sictl`` command applies to itself (the library never does).

glibc's malloc returns every freed block above a threshold (128 KiB, raised dynamically up to 32 MiB)
to the kernel, so each new large tensor is page-faulted in again, zero-filled page by page. A
sampling step allocates several state-sized tensors (FFT spectra, drift outputs): at N = 128 and a
batch of 256 the exact drift spent two thirds of its time faulting pages in. The command therefore
asks malloc to keep freed blocks up to 1 GiB for reuse, which is what a caching allocator does; the
process's resident memory then stays near its peak until it exits. ``SICTL_MALLOC=system`` keeps
the C library's defaults. Other C libraries and platforms are left alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters of glibc's malloc.h
_KEEP_BYTES = 1 << 30
_applied: bool | None = None


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False


def keep_freed_memory() -> bool:
    """Keep freed blocks of up to 1 GiB in the heap for reuse (glibc only, once per process).

    Returns whether the setting is in force. Honours ``SICTL_MALLOC=system`` (no change).
    """
    global _applied
    if _applied is None:
        _applied = False
        if os.environ.get("SICTL_MALLOC", "").lower() != "system" and sys.platform.startswith("linux") and _glibc():
            try:
                mallopt = ctypes.CDLL("libc.so.6").mallopt
                _applied = bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
            except (OSError, AttributeError):
                _applied = False
    return _applied
