"""Atomic writes, checksums, the ``-`` convention, and input checks common to every kind."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from sictl.errors import SchemaError, SictlError
from sictl.io import (
    SamplesMeta,
    atomic_output,
    check_writable,
    file_checksum,
    open_input,
    read_provenance,
    read_report,
    read_samples,
    read_schedule,
    write_report,
    write_samples,
)
from sictl.io.fixtures import linear_schedule_table
from sictl.io.schedules import write_schedule


def _leftovers(directory) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def test_atomic_output_success_replaces_target(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with atomic_output(target) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)
        with open(tmp, "wb") as handle:
            handle.write(b"new")
        assert target.read_bytes() == b"old"  # not visible before the block ends
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path) == []


def test_atomic_output_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output(target) as tmp:
            with h5py.File(tmp, "w") as f:
                f["x"] = np.arange(3)
            raise RuntimeError("boom")
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_atomic_output_failure_keeps_existing_target(tmp_path):
    target = tmp_path / "out.h5"
    target.write_bytes(b"precious")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target) as tmp:
            with open(tmp, "wb") as handle:
                handle.write(b"partial")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"precious"
    assert _leftovers(tmp_path) == []


def test_written_file_has_normal_permissions(tmp_path):
    write_report(tmp_path / "r.h5", {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "r.h5").st_mode & 0o777 == 0o666 & ~umask


def test_check_writable_missing_directory(tmp_path):
    with pytest.raises(SictlError, match="does not exist") as info:
        check_writable(tmp_path / "nope" / "out.h5")
    assert "mkdir" in info.value.hint


def test_check_writable_directory_target_and_no_overwrite(tmp_path):
    with pytest.raises(SictlError, match="is a directory"):
        check_writable(tmp_path)
    (tmp_path / "a.h5").write_bytes(b"x")
    check_writable(tmp_path / "a.h5")
    with pytest.raises(SictlError, match="already exists") as info:
        check_writable(tmp_path / "a.h5", overwrite=False)
    assert "--force" in info.value.hint


def test_check_writable_read_only_directory(tmp_path, monkeypatch):
    # os.access is patched because the tests may run as root, who can write anywhere
    monkeypatch.setattr("sictl.io._files.os.access", lambda path, mode: False)
    with pytest.raises(SictlError, match="is not writable") as info:
        check_writable(tmp_path / "out.h5")
    assert str(tmp_path) in str(info.value)


def test_writer_checks_directory_before_work(tmp_path):
    with pytest.raises(SictlError, match="does not exist"):
        write_report(tmp_path / "missing" / "r.h5", {"a": 1})


def test_checksum_format_and_sensitivity(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc")
    first = file_checksum(path)
    assert first == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    path.write_bytes(b"abd")
    assert file_checksum(path) != first


def test_checksum_streams_large_file(tmp_path):
    path = tmp_path / "big.bin"
    data = os.urandom(3 * (1 << 20) + 17)
    path.write_bytes(data)
    import hashlib

    assert file_checksum(path) == "sha256:" + hashlib.sha256(data).hexdigest()


def test_checksum_changes_when_hdf5_content_changes(tmp_path):
    x = np.zeros((4, 3), np.float32)
    meta = SamplesMeta(drift_source="exact:a", solver="euler", steps=1, nfe=1)
    write_samples(tmp_path / "a.h5", x, meta)
    write_samples(tmp_path / "b.h5", x + np.float32(1e-3), meta)
    assert file_checksum(tmp_path / "a.h5") != file_checksum(tmp_path / "b.h5")


def test_checksum_missing_file(tmp_path):
    with pytest.raises(SchemaError, match="nope.h5"):
        file_checksum(tmp_path / "nope.h5")


def test_stdout_stdin_round_trip(tmp_path, fake_stdout, set_stdin):
    table = linear_schedule_table(21)
    out = fake_stdout()
    write_schedule("-", table)
    data = out.buffer.getvalue()
    assert data[:8] == b"\x89HDF\r\n\x1a\n"
    assert _leftovers(tmp_path) == []
    set_stdin(data)
    back = read_schedule("-")
    np.testing.assert_array_equal(back.beta, table.beta)
    # the same stdin can be read twice (e.g. checksum, then contents)
    assert file_checksum("-").startswith("sha256:")
    assert read_provenance("-").kind == "schedule"


def test_stdout_failure_writes_nothing(fake_stdout):
    out = fake_stdout()
    with pytest.raises(ValueError):
        with atomic_output("-") as tmp:
            with open(tmp, "wb") as handle:
                handle.write(b"partial")
            raise ValueError("fail")
    assert out.buffer.getvalue() == b""


def test_binary_to_terminal_refused(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdout", Tty())
    with pytest.raises(SictlError, match="terminal"):
        check_writable("-")
    check_writable("-", binary=False)


def test_stdin_garbage_names_stdin(set_stdin):
    set_stdin(b"not an hdf5 file at all")
    with pytest.raises(SchemaError, match="<stdin> is not an HDF5 file"):
        read_samples("-")


@pytest.mark.parametrize("reader", [read_schedule, read_samples, read_report])
def test_open_input_errors(tmp_path, reader):
    with pytest.raises(SchemaError, match="no such file") as info:
        reader(tmp_path / "missing.h5")
    assert "missing.h5" in str(info.value)
    with pytest.raises(SchemaError, match="is a directory"):
        reader(tmp_path)
    (tmp_path / "empty.h5").write_bytes(b"")
    with pytest.raises(SchemaError, match="empty.h5 is empty"):
        reader(tmp_path / "empty.h5")


def test_open_input_yields_readable_file(files):
    with open_input(files["report"]) as f:
        assert f.attrs["sictl_kind"] == "report"


def test_provenance(files):
    prov = read_provenance(files["dataset"])
    assert prov.kind == "dataset" and prov.schema_version == 1
    assert prov.created_by.startswith("sictl ")
    assert prov.seed == 11 and prov.inputs == {"spec.h5": "sha256:00"}
    assert prov.config == {"n": 5, "source": "gaussian-field"}
    assert prov.created_at.endswith("+00:00")
