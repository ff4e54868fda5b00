"""Files: nothing lost, nothing half-written, nothing read that the user did not name.

Each case is a CLI run whose parameter id (``files-…``) is a row of the table in docs/reliability.md
(tests/bad_input/test_reliability_table.py keeps the two in sync). Every refused run must exit 1 with
one ``Error:`` line holding a stable fragment, create no file (no hidden temporary either) and leave
every file in the folder byte-identical. Interrupted and killed runs are in test_bad_input_files_signals.py.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from sictl.cli.app import app

runner = CliRunner()
SMALL = ["--n", "32", "--batch-size", "16", "--steps", "2", "--solver", "euler", "-q"]


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, hidden ones included, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if p.name.endswith(".tmp"))


def assert_refused(result, fragment: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> Path:
    """Valid inputs of every kind: d.h5 (dataset), sched.h5, s.h5 (samples), z.h5 (base noise), x.npy."""
    from sictl.io.fixtures import write_tiny_dataset, write_tiny_schedule

    folder = tmp_path_factory.mktemp("originals")
    write_tiny_dataset(folder / "d.h5", n=8, shape=(16, 16))
    write_tiny_schedule(folder / "sched.h5")
    result = runner.invoke(app, ["sample", "--exact", str(folder / "d.h5"), *SMALL, "-o", str(folder / "s.h5"),
                                 "--save-noise", str(folder / "z.h5")])
    assert result.exit_code == 0, result.output
    np.save(folder / "x.npy", np.random.default_rng(0).standard_normal((6, 16, 16)).astype(np.float32))
    return folder


@pytest.fixture
def folder(tmp_path, originals) -> Path:
    for p in originals.iterdir():
        shutil.copy(p, tmp_path / p.name)
    return tmp_path


def refused_unchanged(folder: Path, args: list[str], fragment: str) -> None:
    before = snapshot(folder)
    assert_refused(runner.invoke(app, args), fragment)
    assert snapshot(folder) == before and temporaries(folder) == []


# ------------------------------------------------------------------- 1. disk full while writing


def _enospc() -> OSError:  # what h5py raises: the errno is in the message only
    return RuntimeError("Can't write data (file write failed: errno = 28, error message = 'No space left on device')")


def _edquot() -> OSError:  # an OSError with its errno, as Python's own writes raise
    return OSError(errno.EDQUOT, "Disk quota exceeded")


def _fail_on_call(monkeypatch, owner, name: str, call: int, error=_enospc) -> None:
    """``owner.name`` raises ``error()`` from its ``call``-th call on."""
    original, count = getattr(owner, name), [0]

    def wrapped(*args, **kwargs):
        count[0] += 1
        if count[0] >= call:
            raise error()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


DISK_FULL = [  # (where the write fails, which call, command, old outputs, fragment)
    pytest.param("dataset-write", 2, ["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/s.h5"], "no space left on device writing",
                 id="files-enospc-sample-write"),
    pytest.param("flush", 1, ["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/s.h5", "--save-noise", "{d}/z.h5"],
                 "no space left on device writing", id="files-enospc-sample-flush"),
    pytest.param("dataset-write", 3, ["prepare", "gaussian-field", "--res", "8", "--dim", "1", "--n", "10", "--split", "0.5",
                                      "-q", "-o", "{d}/p.h5"], "no space left on device writing", id="files-enospc-split-write"),
    pytest.param("flush", 1, ["design-schedule", "--ratio", "0.1", "-o", "{d}/sched.h5", "-q"],
                 "no space left on device writing", id="files-enospc-schedule-flush"),
    pytest.param("quota", 1, ["gaussian-check", "--ratio", "0.1", "--steps", "4", "-o", "{d}/r.h5", "-q"],
                 "disk quota exceeded writing", id="files-edquot-report-flush"),
]


@pytest.mark.parametrize("where, call, args, fragment", DISK_FULL)
def test_disk_full_is_one_error_and_leaves_the_old_files(folder, monkeypatch, where, call, args, fragment):
    runner.invoke(app, ["prepare", "gaussian-field", "--res", "8", "--dim", "1", "--n", "4", "--split", "0.5", "-q",
                        "-o", str(folder / "p.h5")])  # old split files to keep
    if where == "dataset-write":
        _fail_on_call(monkeypatch, h5py.Dataset, "__setitem__", call)
    else:
        _fail_on_call(monkeypatch, h5py.File, "flush", call, _edquot if where == "quota" else _enospc)
    refused_unchanged(folder, [a.format(d=folder) for a in args], fragment)


@pytest.mark.parametrize("size_limit", [pytest.param(1 << 20, id="files-efbig-sample-real")])
def test_a_real_size_limit_is_one_error_not_a_crash(folder, size_limit):
    """The real failure, not a mock: a file-size limit (``ulimit -f``, 1 MiB) makes HDF5's writes fail
    with EFBIG inside its caches, as a full disk does with ENOSPC (which needs a small file system to
    reproduce, hence root)."""
    limited = ("import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]),) * 2); "
               "sys.argv = ['sictl', *sys.argv[2:]]; runpy.run_module('sictl', run_name='__main__')")
    before = snapshot(folder)
    proc = subprocess.run([sys.executable, "-c", limited, str(size_limit), "sample", "--exact", str(folder / "d.h5"),
                           "--n", "2048", "--batch-size", "256", "--steps", "1", "--solver", "euler", "-q",
                           "-o", str(folder / "s.h5")], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("Error: file too large writing") and proc.stderr.count("Error:") == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert snapshot(folder) == before and temporaries(folder) == []


# ------------------------------------------------------------- 2. --split appears all or nothing


@pytest.mark.parametrize("error, code", [
    pytest.param(KeyboardInterrupt, (1, 130), id="files-split-interrupted-keyboard"),  # Ctrl-C: 130 = 128 + SIGINT
    pytest.param("terminated", (143,), id="files-split-interrupted-sigterm"),  # 143 = 128 + SIGTERM
    pytest.param(MemoryError, (1,), id="files-split-interrupted-error"),
])
def test_split_files_appear_together_or_not_at_all(folder, monkeypatch, error, code):
    """The train file is complete and the test file half-written when the run stops: neither changes."""
    from sictl.io.signals import Terminated
    from sictl.pipeline import prepare

    args = ["prepare", "gaussian-field", "--res", "8", "--dim", "1", "--n", "10", "--split", "0.5", "-q",
            "-o", str(folder / "p.h5")]
    assert runner.invoke(app, [*args, "--seed", "1"]).exit_code == 0
    _fail_on_call(monkeypatch, prepare, "_write_part", 2, Terminated if error == "terminated" else error)
    before = snapshot(folder)
    result = runner.invoke(app, [*args, "--seed", "2"])
    assert result.exit_code in code, result.output
    assert snapshot(folder) == before and temporaries(folder) == []


@pytest.mark.parametrize("target", [pytest.param("s.h5", id="files-stale-temporaries")])
def test_stale_temporaries_of_dead_processes_are_removed(folder, target):
    """Only sictl-named temporaries of the same target, whose process is gone and which are older than
    the run, are removed."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = time.time() - 3600
    stale = [f".{target}.{dead.pid}.0badc0de.tmp", f"..{target}.raw.{dead.pid}.00000000.tmp.{dead.pid}.11111111.tmp"]
    kept = [f".{target}.1.0badc0de.tmp", f".other.h5.{dead.pid}.0badc0de.tmp", f".{target}.tmp",
            f".{target}.{dead.pid}.xyz.tmp"]
    for name in stale + kept:
        (folder / name).write_bytes(b"partial")
        os.utime(folder / name, (old, old))
    result = runner.invoke(app, ["sample", "--exact", str(folder / "d.h5"), *SMALL, "-o", str(folder / target)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == sorted(kept)


# ------------------------------------------------------------- 3. an output that is an input


SAME_PATH = [
    pytest.param(["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/d.h5"], "is both input and output (--exact and -o)",
                 id="files-same-sample-exact"),
    pytest.param(["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/sub/../d.h5"], "is both input and output",
                 id="files-same-sample-exact-dotdot"),
    pytest.param(["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/hard.h5"], "is both input and output",
                 id="files-same-sample-hardlink"),
    pytest.param(["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/soft.h5"], "is both input and output",
                 id="files-same-sample-symlink"),
    pytest.param(["sample", "--exact", "{d}/d.h5", *SMALL, "--schedule", "{d}/sched.h5", "-o", "{d}/sched.h5"],
                 "is both input and output (--schedule and -o)", id="files-same-sample-schedule"),
    pytest.param(["sample", "--exact", "{d}/d.h5", *SMALL, "--grid", "{d}/sched.h5", "-o", "{d}/sched.h5"],
                 "is both input and output", id="files-same-sample-grid"),
    pytest.param(["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/s.h5", "--save-noise", "{d}/s.h5"],
                 "is written twice (-o and --save-noise)", id="files-same-sample-save-noise-output"),
    pytest.param(["sample", "--exact", "{d}/d.h5", *SMALL, "--noise", "{d}/z.h5", "-o", "{d}/s2.h5", "--save-noise",
                  "{d}/z.h5"], "is both input and output (--noise and --save-noise)", id="files-same-sample-noise"),
    pytest.param(["evaluate", "{d}/s.h5", "--reference", "{d}/d.h5", "-o", "{d}/s.h5"],
                 "is both input and output (SAMPLES and -o)", id="files-same-evaluate-report-samples"),
    pytest.param(["evaluate", "{d}/s.h5", "--reference", "{d}/d.h5", "-o", "{d}/d.h5"],
                 "is both input and output (--reference and -o)", id="files-same-evaluate-report-reference"),
    pytest.param(["evaluate", "{d}/s.h5", "--reference-spectrum", "{d}/d.h5", "-o", "{d}/d.h5"],
                 "is both input and output (--reference-spectrum and -o)", id="files-same-evaluate-report-spectrum"),
    pytest.param(["evaluate", "{d}/s.h5", "--reference", "{d}/d.h5", "-o", "{d}/r.h5", "--plot", "{d}/r.h5"],
                 "is written twice (-o and --plot)", id="files-same-evaluate-plot-report"),
    pytest.param(["design-schedule", "--data", "{d}/d.h5", "-o", "{d}/d.h5"], "is both input and output (--data and -o)",
                 id="files-same-design-data"),
    pytest.param(["design-schedule", "--ratio", "0.1", "-o", "{d}/n.h5", "--plot", "{d}/n.h5"],
                 "is written twice (-o and --plot)", id="files-same-design-plot"),
    pytest.param(["design-schedule", "--ratio", "0.1", "-o", "{d}/n.h5", "--export", "csv", "--export-path", "{d}/n.h5"],
                 "is written twice (-o and --export-path)", id="files-same-design-export"),
    pytest.param(["gaussian-check", "--spectrum", "{d}/d.h5", "-o", "{d}/d.h5"],
                 "is both input and output (--spectrum and -o)", id="files-same-gaussian-check-spectrum"),
    pytest.param(["prepare", "import", "{d}/x.npy", "--layout", "sample x y", "-o", "{d}/x.npy"],
                 "is both input and output (SRC and -o)", id="files-same-prepare-import"),
]


@pytest.mark.parametrize("args, fragment", SAME_PATH)
def test_an_output_that_is_an_input_is_refused_before_any_work(folder, args, fragment):
    os.link(folder / "d.h5", folder / "hard.h5")
    os.symlink(folder / "d.h5", folder / "soft.h5")
    (folder / "sub").mkdir()
    refused_unchanged(folder, [a.format(d=folder) for a in args], fragment)


# --------------------------------------------------------- 4. a newer schema, 5. data elsewhere


def _newer(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 99


def _external_link(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        f["extra"] = h5py.ExternalLink("secret.h5", "/data")


def _foreign(kind: str):
    def make(path: Path) -> None:
        secret = path.parent / "secret.bin"
        secret.write_bytes(b"not yours\n" * 256)
        with h5py.File(path.parent / "secret.h5", "w") as f:
            f["data"] = np.ones((6, 16, 16), np.float32)
        with h5py.File(path, "w") as f:
            if kind == "external":
                f.create_dataset("data", shape=(10, 16), dtype="u1", external=[(str(secret), 0, 160)])
            elif kind == "link":
                f["data"] = h5py.ExternalLink("secret.h5", "/data")
            else:
                layout = h5py.VirtualLayout(shape=(6, 16, 16), dtype="f4")
                layout[:] = h5py.VirtualSource("secret.h5", "data", shape=(6, 16, 16))
                f.create_virtual_dataset("data", layout)
    return make


CRAFTED = [  # (file to change, how, command, fragment)
    pytest.param("s.h5", _newer, ["evaluate", "{d}/s.h5", "--reference", "{d}/d.h5", "-o", "{d}/r.h5"],
                 "samples schema version 99", id="files-newer-evaluate-samples"),
    pytest.param("d.h5", _newer, ["evaluate", "{d}/s.h5", "--reference", "{d}/d.h5"], "dataset schema version 99",
                 id="files-newer-evaluate-reference"),
    pytest.param("d.h5", _newer, ["evaluate", "{d}/s.h5", "--reference-spectrum", "{d}/d.h5"],
                 "dataset schema version 99", id="files-newer-evaluate-reference-spectrum"),
    pytest.param("d.h5", _newer, ["prepare", "import", "{d}/d.h5", "-o", "{d}/out.h5"], "dataset schema version 99",
                 id="files-newer-prepare-import-dataset"),
    pytest.param("s.h5", _newer, ["prepare", "import", "{d}/s.h5", "-o", "{d}/out.h5"], "samples schema version 99",
                 id="files-newer-prepare-import-samples"),
    pytest.param("d.h5", _newer, ["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/out.h5"], "dataset schema version 99",
                 id="files-newer-sample-exact"),
    pytest.param("f.h5", _foreign("external"), ["prepare", "import", "{d}/f.h5", "--layout", "sample x", "-o", "{d}/out.h5"],
                 "stores its values in other files", id="files-external-storage-import"),
    pytest.param("f.h5", _foreign("external"), ["evaluate", "{d}/f.h5", "--layout", "sample x", "--reference", "{d}/x.npy",
                                                "--reference-layout", "sample x y"], "stores its values in other files",
                 id="files-external-storage-evaluate"),
    pytest.param("f.h5", _foreign("link"), ["prepare", "import", "{d}/f.h5", "--key", "data", "-o", "{d}/out.h5"],
                 "is an external link to secret.h5:/data", id="files-external-link-import"),
    pytest.param("f.h5", _foreign("virtual"), ["prepare", "import", "{d}/f.h5", "-o", "{d}/out.h5"],
                 "is a virtual dataset reading secret.h5", id="files-virtual-dataset-import"),
    pytest.param("d.h5", _external_link, ["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/out.h5"],
                 "/extra is an external link", id="files-external-link-sample-exact"),
    pytest.param("d.h5", _external_link, ["design-schedule", "--data", "{d}/d.h5", "-o", "{d}/out.h5"],
                 "/extra is an external link", id="files-external-link-design-data"),
    pytest.param("bad.npz", lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 60),
                 ["evaluate", "{d}/bad.npz", "--reference", "{d}/x.npy"], "is not a readable .npz file",
                 id="files-bad-npz-evaluate"),
    pytest.param("bad.npz", lambda p: p.write_bytes(_half_npz()), ["prepare", "import", "{d}/bad.npz", "-o", "{d}/out.h5"],
                 "is not a readable .npz file", id="files-bad-npz-import"),
]


def _half_npz() -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, a=np.ones((4, 16), np.float32))
    return buffer.getvalue()[:200]


@pytest.mark.parametrize("name, craft, args, fragment", CRAFTED)
def test_crafted_inputs_are_refused(folder, name, craft, args, fragment):
    craft(folder / name)
    refused_unchanged(folder, [a.format(d=folder) for a in args], fragment)


# ------------------------------------------------------------------ 6. sizes checked before work


SIZES = [  # (what the machine has left, command, fragment)
    pytest.param("disk", ["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/out.h5"], "needs about 32.8 kB in",
                 id="files-size-sample-disk"),
    pytest.param("disk", ["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/out.h5", "--save-noise", "{d}/z2.h5"],
                 "needs about 65.5 kB in", id="files-size-sample-disk-two-files"),
    pytest.param("memory", ["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/out.h5"], "of memory; 1 kB is available",
                 id="files-size-sample-memory"),
    pytest.param("disk", ["prepare", "gaussian-field", "--res", "8", "--dim", "1", "--n", "100", "--split", "0.5",
                          "-o", "{d}/p.h5"], "needs about 6.4 kB in", id="files-size-prepare-disk"),
]


@pytest.mark.parametrize("short, args, fragment", SIZES)
def test_sizes_are_checked_before_work(folder, monkeypatch, short, args, fragment):
    from sictl.io import resources

    monkeypatch.setattr(resources, "free_disk_bytes" if short == "disk" else "available_memory_bytes",
                        lambda *a: 1000)
    args = [a.format(d=folder) for a in args]
    refused_unchanged(folder, args, fragment)
    assert "--no-size-check" in runner.invoke(app, args).stderr


@pytest.mark.parametrize("args", [
    pytest.param(["sample", "--exact", "{d}/d.h5", *SMALL, "-o", "{d}/out.h5"], id="files-size-override-sample"),
    pytest.param(["prepare", "gaussian-field", "--res", "8", "--dim", "1", "--n", "4", "-q", "-o", "{d}/out.h5"],
                 id="files-size-override-prepare"),
])
def test_no_size_check_overrides(folder, monkeypatch, args):
    from sictl.io import resources

    monkeypatch.setattr(resources, "free_disk_bytes", lambda *a: 1000)
    monkeypatch.setattr(resources, "available_memory_bytes", lambda *a: 1000)
    result = runner.invoke(app, [*(a.format(d=folder) for a in args), "--no-size-check"])
    assert result.exit_code == 0, result.output
    assert (folder / "out.h5").exists() and temporaries(folder) == []


def test_estimates():
    from sictl.pipeline.budget import human, prepare_disk_needs, sample_batch_bytes, sample_disk_needs

    assert sample_disk_needs(["a/s.h5", None, "a/z.h5"], 1000, (1, 64, 64))[0][1] == 1000 * 64 * 64 * 4
    assert len(sample_disk_needs(["a/s.h5", None], 10, (3,))) == 1
    assert sample_batch_bytes(256, (1, 64, 64), 4, 4) == 256 * 4096 * (4 * 8 + 8)
    raw, final = prepare_disk_needs("d.h5", ["d-train.h5", "d-test.h5"], 10, 5, (8, 8), 2)
    assert raw[1] == 10 * 5 * 256 and final[1] == raw[1] + 2 * 10 * 3 * 256
    assert human(12_345_678_901) == "12.3 GB" and human(999) == "999 B"
    json.dumps(raw)  # plain numbers
