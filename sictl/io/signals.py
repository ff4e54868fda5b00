"""Signals while temporary files exist: SIGINT and SIGTERM become exceptions, so temporaries are removed.

Python turns SIGINT into :class:`KeyboardInterrupt`, but SIGTERM (``kill``, a batch scheduler's
time limit) ends the process at once by default, and every ``finally`` that would remove a temporary
file is skipped. :func:`cleanup_on_signals` makes SIGTERM raise :class:`Terminated` (a
``SystemExit`` with status 143 = 128 + 15) in the main thread for as long as the block runs, and makes
a second SIGINT/SIGTERM is ignored while the first one's cleanup runs. Every temporary sictl creates
(:func:`sictl.io._files.atomic_output`, :func:`sictl.io.scratch.scratch_path`, an
:class:`~sictl.io._files.OutputGroup`) lives inside such a block, so no command has to remember it.

Handlers somebody else installed (anything but the defaults) are left alone, and nothing is installed
outside the main thread (Python delivers signals only there). SIGKILL cannot be caught: what it leaves
are dot-prefixed temporaries named after their process, which the next write to the same target
removes (:func:`sictl.io._files.remove_stale_temps`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["Terminated", "cleanup_on_signals", "signals_deferred"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(SystemExit):
    """Raised in the main thread by SIGTERM inside :func:`cleanup_on_signals`; exit status 128 + 15."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(128 + int(signum))
        self.signum = int(signum)


_depth = 0
_saved: dict[int, object] = {}


def _wait(signum, frame) -> None:  # a later signal is ignored: the cleanup under way ends the process
    return None


def _raise(signum, frame) -> None:
    for sig in _saved:  # the cleanup that follows is not interrupted by a second signal
        signal.signal(sig, _wait)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def _is_default(sig: int, handler: object) -> bool:
    return handler is signal.SIG_DFL or (sig == signal.SIGINT and handler is signal.default_int_handler)


@contextlib.contextmanager
def cleanup_on_signals() -> Iterator[None]:
    """Within the block, SIGINT raises ``KeyboardInterrupt`` and SIGTERM raises :class:`Terminated`.

    Re-entrant (nested blocks share one installation); the previous handlers come back when the
    outermost block ends. A no-op outside the main thread.
    """
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth == 0:
        for sig in _SIGNALS:
            current = signal.getsignal(sig)
            if _is_default(sig, current):
                _saved[sig] = current
                signal.signal(sig, _raise)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            for sig, handler in _saved.items():
                if signal.getsignal(sig) in (_raise, _wait):  # not if somebody installed a handler since
                    signal.signal(sig, handler)  # type: ignore[arg-type]
            _saved.clear()


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the block (a few renames); one that came is delivered at its end.

    (A signal mask would not do: the kernel may hand the signal to another thread, e.g. one of torch's.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    for sig in _SIGNALS:
        signal.signal(sig, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        if pending:
            signal.raise_signal(pending[0])
