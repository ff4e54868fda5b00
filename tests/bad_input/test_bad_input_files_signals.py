"""Signals delivered mid-write: SIGINT and SIGTERM leave the old outputs intact and no temporary file;
SIGKILL leaves only hidden temporaries, which the next run of the same command removes.

Each run is a real ``python -m sictl`` process. To interrupt it at a known point without a long
computation, a small wrapper pauses the writer right after a write (it touches a marker file, then
sleeps): ``sample`` after its first batch (samples and ``--save-noise`` files half-written), ``prepare
--split`` after the first block of the *test* file (the train file complete and waiting). The
parameter ids (``files-…``) are rows of the table in docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sictl.io.fixtures import write_tiny_dataset

WRAPPER = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the parent ignores SIGINT
marker, cls_name, pause_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
import sictl.io as io
cls, calls = getattr(io, cls_name), [0]
append = cls.append
def paused(self, *args, **kwargs):
    out = append(self, *args, **kwargs)
    calls[0] += 1
    if calls[0] == pause_at:
        open(marker, "w").close()
        time.sleep(120)
    return out
cls.append = paused
from sictl.cli.app import main
sys.argv = ["sictl", *sys.argv[4:]]
main()
"""

COMMANDS = {  # writer class to pause, its append call to pause after, arguments
    "sample": ("SamplesWriter", 1, ["sample", "--exact", "{d}/in/d.h5", "--n", "32", "--batch-size", "16", "--steps", "2",
                                    "--solver", "euler", "-q", "-o", "{d}/out/s.h5", "--save-noise", "{d}/out/z.h5"]),
    # append calls: the raw scratch file (1 block), the train file (1), the test file (1)
    "split": ("DatasetWriter", 3, ["prepare", "gaussian-field", "--res", "8", "--dim", "1", "--n", "10", "--split", "0.5",
                                   "-q", "-o", "{d}/out/p.h5"]),
}


def start(folder: Path, command: str, seed: int, pause: bool = True) -> tuple[subprocess.Popen, Path]:
    cls, at, args = COMMANDS[command]
    marker = folder / f"marker-{seed}"
    argv = [a.format(d=folder) for a in args] + ["--seed", str(seed)]
    code = ["-c", WRAPPER, str(marker), cls, str(at if pause else 0)]
    proc = subprocess.Popen([sys.executable, *code, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    return proc, marker


def wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before the pause (exit {proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the run did not reach the pause")
        time.sleep(0.05)


def outputs(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "out").iterdir())}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("signals") / "d.h5"
    write_tiny_dataset(path, n=8, shape=(16, 16))
    return path


@pytest.fixture
def folder(tmp_path, dataset) -> Path:
    """in/d.h5, and out/ holding the outputs of a finished run (seed 1) that must survive."""
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    shutil.copy(dataset, tmp_path / "in" / "d.h5")
    return tmp_path


def finished(folder: Path, command: str, seed: int, *, new_process: bool = False) -> None:
    """A run to its end: in this process (fast), or in a new one (one that starts after a killed run)."""
    if new_process:
        proc, _ = start(folder, command, seed, pause=False)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        return
    from typer.testing import CliRunner

    from sictl.cli.app import app

    result = CliRunner().invoke(app, [a.format(d=folder) for a in COMMANDS[command][2]] + ["--seed", str(seed)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command, sig, codes", [
    pytest.param("sample", signal.SIGINT, (1, 130), id="files-signal-sample-sigint"),
    pytest.param("sample", signal.SIGTERM, (143,), id="files-signal-sample-sigterm"),
    pytest.param("split", signal.SIGINT, (1, 130), id="files-signal-split-sigint"),
    pytest.param("split", signal.SIGTERM, (143,), id="files-signal-split-sigterm"),
])
def test_sigint_and_sigterm_leave_the_old_outputs_and_no_temporary(folder, command, sig, codes):
    finished(folder, command, seed=1)
    old = outputs(folder)
    proc, marker = start(folder, command, seed=2)
    wait_for(marker, proc)
    assert any(name.startswith(".") for name in outputs(folder))  # mid-write: temporaries exist
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in codes, err  # ended by an exception after cleaning up, not killed
    assert "Traceback" not in err
    assert outputs(folder) == old
    assert sorted(p.name for p in folder.rglob("*") if p.name.startswith(".")) == []


@pytest.mark.parametrize("command", [
    pytest.param("sample", id="files-sigkill-sample"),
    pytest.param("split", id="files-sigkill-split"),
])
def test_sigkill_leaves_only_hidden_temporaries_that_the_next_run_removes(folder, command):
    finished(folder, command, seed=1)
    old = outputs(folder)
    proc, marker = start(folder, command, seed=2)
    wait_for(marker, proc)
    proc.kill()
    proc.communicate(timeout=60)
    left = {name: digest for name, digest in outputs(folder).items() if name not in old}
    assert left and all(name.startswith(".") and name.endswith(".tmp") for name in left), left
    assert {name: outputs(folder)[name] for name in old} == old
    finished(folder, command, seed=3, new_process=True)  # started after the killed run's temporaries were written
    after = outputs(folder)
    assert sorted(after) == sorted(old) and after != old  # new outputs, and no temporary left
