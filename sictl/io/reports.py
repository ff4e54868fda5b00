"""Report files (``sictl_kind = "report"``), written by ``sictl evaluate`` and ``sictl gaussian-check``.

A report is a JSON object (root attribute ``@report``) plus any number of numeric arrays under
``arrays/`` (spectra, per-t errors, histograms). Names may contain ``/`` to nest groups
(``"spectrum/k"``). Arrays are stored with their own dtype and may hold NaN (e.g. an undefined
relative error); they are not checked for finiteness.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from sictl.errors import SchemaError, ShapeError
from sictl.io._h5 import (
    check_root,
    display_name,
    open_input,
    read_json_attr,
    read_provenance_attrs,
    write_attrs,
    write_root_attrs,
)
from sictl.io._writer import h5_output


@dataclass(frozen=True, eq=False)
class ReportFile:
    """A report as read by :func:`read_report`.

    Attributes:
        report: the JSON report (the same object ``--json`` prints).
        arrays: name (``"spectrum/k"``) -> array, with the dtype it was written with.
        config: configuration that produced the file.
        inputs: input name -> ``"sha256:..."`` checksum.
        seed: seed used, if any.
        created_by: ``"sictl <version>"``.
        created_at: ISO 8601 creation time (UTC).
    """

    report: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    seed: int | None = None
    created_by: str = ""
    created_at: str = ""


def write_report(
    path: str | os.PathLike,
    report: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    inputs: Mapping[str, str] | None = None,
    seed: int | None = None,
) -> None:
    """Write a report file atomically (``-`` = stdout).

    Args:
        path: output path.
        report: JSON-able dict (numpy scalars and arrays are converted; NaN/inf are kept as JSON
            ``NaN``/``Infinity``, which Python's ``json`` reads).
        arrays: name -> numeric array (bool, int, float); ``/`` in a name nests groups.
        config: configuration that produced the report.
        inputs: input name -> checksum.
        seed: seed used, if any.

    Raises:
        ShapeError: a non-numeric array or an empty/invalid name.
    """
    arrays = dict(arrays or {})
    for name, value in arrays.items():
        kind = np.asarray(value).dtype.kind
        if not name or name.startswith("/") or name.endswith("/") or "//" in name or kind not in "biuf":
            raise ShapeError(
                f"report array {name!r}: need a relative name and a numeric array, got dtype {kind}"
            )
    with h5_output(path) as f:
        write_root_attrs(f, "report", config=config, inputs=inputs, seed=seed)
        write_attrs(f, {"report": dict(report)})
        group = f.create_group("arrays")
        for name, value in sorted(arrays.items()):
            group.create_dataset(name, data=np.asarray(value))


def read_report(path: str | os.PathLike) -> ReportFile:
    """Read a report file (``-`` = stdin), loading every array.

    Raises:
        SchemaError: wrong kind or version, a missing or invalid ``@report``.
    """
    name = display_name(path)
    with open_input(path) as f:
        check_root(f, path, "report")
        prov = read_provenance_attrs(f, path)
        report = read_json_attr(f, "report", name)
        if not isinstance(report, dict):
            raise SchemaError(
                f"{name}: @report is missing or not a JSON object",
                hint="regenerate it with `sictl evaluate` or `sictl gaussian-check`",
            )
        arrays: dict[str, np.ndarray] = {}
        if "arrays" in f:

            def visit(key: str, obj: h5py.HLObject) -> None:
                if isinstance(obj, h5py.Dataset):
                    arrays[key] = obj[()]

            f["arrays"].visititems(visit)
    return ReportFile(report, arrays, prov.config, prov.inputs, prov.seed, prov.created_by, prov.created_at)
