"""sictl.io.signals and sictl.io._temps: signals as exceptions while temporaries exist, temporary names."""

from __future__ import annotations

import signal

import pytest

from sictl.io._temps import target_of, temp_name
from sictl.io.signals import Terminated, cleanup_on_signals, signals_deferred


def test_sigterm_raises_inside_the_block_and_the_defaults_come_back():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(Terminated) as info, cleanup_on_signals(), cleanup_on_signals():  # nested: one install
        signal.raise_signal(signal.SIGTERM)
    assert info.value.code == 143
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    with pytest.raises(KeyboardInterrupt), cleanup_on_signals():
        signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before[1]


def test_a_handler_installed_by_the_program_is_left_alone():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with cleanup_on_signals():
            signal.raise_signal(signal.SIGTERM)
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_deferred_signals_arrive_after_the_block():
    done = []
    with pytest.raises(KeyboardInterrupt), cleanup_on_signals(), signals_deferred():
        signal.raise_signal(signal.SIGINT)
        done.append("renames")
    assert done == ["renames"]


def test_temporary_names_say_whose_and_for_what():
    name = temp_name("s.h5")
    assert name.startswith(".s.h5.") and name.endswith(".tmp") and target_of("/d/" + name) == "/d/s.h5"
    assert target_of("/d/.s.h5.raw.12.0badc0de.tmp") == "/d/s.h5"
    assert target_of("/d/s.h5") is None and target_of("/d/.s.h5.tmp") is None
