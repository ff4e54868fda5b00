"""Schedule files (``sictl_kind = "schedule"``), written by ``sictl design-schedule``.

A schedule file tabulates α, β, α̇, β̇ and ε* on a fine grid of ``P`` times, with the family name and
parameters that evaluate them exactly, an optional recommended sampling grid, and the measured A2 and
Lipschitz figures. It is applied verbatim everywhere; its checksum is recorded by every consumer.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sictl.errors import SchemaError
from sictl.io._h5 import (
    atomic_output,
    attr_str,
    check_root,
    display_name,
    json_safe,
    open_input,
    read_array,
    read_json_attr,
    read_provenance_attrs,
    write_attrs,
    write_root_attrs,
)
from sictl.io._writer import h5_output

#: Tabulated columns, in file and export order.
COLUMNS = ("t", "alpha", "beta", "alpha_dot", "beta_dot", "eps_star")
_ENDPOINT_TOL = 1e-9
_MONOTONE_TOL = 1e-12
_HINT = "regenerate it with `sictl design-schedule`"


@dataclass(frozen=True, eq=False)
class ScheduleTable:
    """A tabulated interpolation schedule ``x_t = α(t) z + β(t) x1``.

    Attributes:
        t: (P,) float64, strictly increasing from exactly 0 to exactly 1.
        alpha: (P,) float64, α(t); α(0)=1, α(1)=0, non-increasing.
        beta: (P,) float64, β(t); β(0)=0, β(1)=1, non-decreasing.
        alpha_dot: (P,) float64, α̇(t) ≤ 0 (may be -inf at t=0 or t=1 only).
        beta_dot: (P,) float64, β̇(t) ≥ 0 (may be +inf at t=0 or t=1 only).
        eps_star: (P,) float64, ε*(t) = α²β̇/β − αα̇ ≥ 0 (may be +inf at t=0 or t=1 only).
        family: name of the closed form (e.g. ``"designed"``, ``"linear"``, ``"gmm"``, ``"numerical"``).
        params: parameters that evaluate the family exactly (JSON-able).
        grid: (M,) float64 recommended sampling time grid in [0, 1], strictly increasing, or None.
        grid_design: for a grid designed for one solver and budget (``design-schedule --grid-for``):
            ``{"solver": str, "nfe": int, ...}`` (diffusion, steps, errors reached; JSON-able), else None.
        target: description of the target the schedule was designed for (JSON-able).
        metrics: measured figures, e.g. ``{"a2": {...}, "lipschitz": {...}}`` (JSON-able).
        config: configuration that produced the file.
        inputs: input name -> ``"sha256:..."`` checksum.
        seed: seed used, if any.
    """

    t: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    alpha_dot: np.ndarray
    beta_dot: np.ndarray
    eps_star: np.ndarray
    family: str
    params: dict = field(default_factory=dict)
    grid: np.ndarray | None = None
    grid_design: dict | None = None
    target: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    seed: int | None = None

    def columns(self) -> dict[str, np.ndarray]:
        """The six tabulated columns by name, each (P,) float64."""
        return {name: np.asarray(getattr(self, name), dtype=np.float64) for name in COLUMNS}


def _fail(name: str, message: str) -> SchemaError:
    return SchemaError(f"{name}: {message}", hint=_HINT)


def validate_schedule(table: ScheduleTable, name: str = "schedule") -> None:
    """Check every invariant of a schedule table (see :class:`ScheduleTable`).

    Args:
        table: the table.
        name: file name (or description) for messages.

    Raises:
        SchemaError: the first violated invariant, with the offending time.
    """
    cols = table.columns()
    t = cols["t"]
    for key, value in cols.items():
        if value.ndim != 1:
            raise _fail(name, f"/{key}: expected float64 (P,), got shape {value.shape}")
        if len(value) != len(t):
            raise _fail(name, f"/{key} has {len(value)} points but /t has {len(t)}")
    if len(t) < 2:
        raise _fail(name, f"a schedule needs at least 2 points, got {len(t)}")
    for key, value in cols.items():
        if np.isnan(value).any():
            raise _fail(name, f"/{key} is NaN at t={t[int(np.argmax(np.isnan(value)))]:.6g}")
    inner = slice(1, -1)
    for key in ("t", "alpha", "beta"):
        if not np.isfinite(cols[key]).all():
            raise _fail(name, f"/{key} holds infinite values")
    for key in ("alpha_dot", "beta_dot", "eps_star"):
        bad = ~np.isfinite(cols[key][inner])
        if bad.any():
            at = t[1 + int(np.argmax(bad))]
            raise _fail(name, f"/{key} is infinite at t={at:.6g} (allowed only at t=0 and t=1)")
    if t[0] != 0.0 or t[-1] != 1.0:
        raise _fail(name, f"t must run from exactly 0 to exactly 1, got [{t[0]!r}, {t[-1]!r}]")
    if (np.diff(t) <= 0).any():
        raise _fail(name, f"t is not strictly increasing at t={t[int(np.argmax(np.diff(t) <= 0))]:.6g}")
    a, b = cols["alpha"], cols["beta"]
    ends = {
        "alpha(0)": (a[0], 1.0),
        "alpha(1)": (a[-1], 0.0),
        "beta(0)": (b[0], 0.0),
        "beta(1)": (b[-1], 1.0),
    }
    for label, (got, want) in ends.items():
        if abs(got - want) > _ENDPOINT_TOL:
            raise _fail(name, f"{label} must be {want:g}, got {got!r}")
    for key, sign, verb in (("alpha", -1.0, "increases"), ("beta", 1.0, "decreases")):
        step = sign * np.diff(cols[key])
        if (step < -_MONOTONE_TOL).any():
            at = t[1 + int(np.argmax(step < -_MONOTONE_TOL))]
            raise _fail(name, f"schedule is not monotone: {key} {verb} at t={at:.6g}")
    for key, sign, rel in (("alpha_dot", -1.0, "> 0"), ("beta_dot", 1.0, "< 0"), ("eps_star", 1.0, "< 0")):
        bad = sign * cols[key] < -_ENDPOINT_TOL
        if bad.any():
            raise _fail(name, f"{key} {rel} at t={t[int(np.argmax(bad))]:.6g}")
    if table.grid is not None:
        grid = np.asarray(table.grid, dtype=np.float64)
        if grid.ndim != 1 or len(grid) < 2:
            raise _fail(name, f"/grid: expected float64 (M,) with M >= 2, got shape {grid.shape}")
        if not np.isfinite(grid).all() or grid[0] < 0.0 or grid[-1] > 1.0 or (np.diff(grid) <= 0).any():
            raise _fail(name, "/grid must be strictly increasing inside [0, 1]")
    _validate_grid_design(table, name)


def _validate_grid_design(table: ScheduleTable, name: str) -> None:
    """A designed grid names its solver (a string) and budget (a positive integer), and exists."""
    meta = table.grid_design
    if meta is None:
        return
    if table.grid is None:
        raise _fail(name, "/grid@design is given but there is no /grid")
    if not isinstance(meta, dict) or not isinstance(meta.get("solver"), str) or not meta["solver"]:
        raise _fail(name, "/grid@design must be a JSON object with the solver's name (\"solver\")")
    nfe = meta.get("nfe")
    if isinstance(nfe, bool) or not isinstance(nfe, int) or nfe < 1:
        raise _fail(name, f"/grid@design: nfe must be a positive integer, got {nfe!r}")


def write_schedule(path: str | os.PathLike, table: ScheduleTable) -> None:
    """Validate ``table`` and write it atomically as a schedule file (``-`` = stdout).

    Raises:
        SchemaError: the table violates an invariant (nothing is written).
    """
    validate_schedule(table, "<stdout>" if str(path) == "-" else str(path))
    with h5_output(path) as f:
        write_root_attrs(f, "schedule", config=table.config, inputs=table.inputs, seed=table.seed)
        write_attrs(f, {"family": table.family, "params": table.params, "target": table.target})
        write_attrs(f, {"metrics": table.metrics})
        for key, value in table.columns().items():
            f.create_dataset(key, data=value)
        if table.grid is not None:
            grid = f.create_dataset("grid", data=np.asarray(table.grid, dtype=np.float64))
            write_attrs(grid, {"design": table.grid_design})


def read_schedule(path: str | os.PathLike) -> ScheduleTable:
    """Read and validate a schedule file (``-`` = stdin).

    Raises:
        SchemaError: wrong kind or version, missing or malformed datasets, violated invariants.
    """
    name = display_name(path)
    with open_input(path) as f:
        check_root(f, path, "schedule")
        prov = read_provenance_attrs(f, path)
        cols = {
            key: read_array(f, key, path, dtype="float64", ndim=1, shape="(P,)", finite=False)
            for key in COLUMNS
        }
        grid = read_array(f, "grid", path, dtype="float64", ndim=1, shape="(M,)") if "grid" in f else None
        grid_design = read_json_attr(f["grid"], "design", name) if grid is not None else None
        table = ScheduleTable(
            **cols,
            family=attr_str(f, "family"),
            params=read_json_attr(f, "params", name, {}),
            grid=grid,
            grid_design=grid_design,
            target=read_json_attr(f, "target", name, {}),
            metrics=read_json_attr(f, "metrics", name, {}),
            config=prov.config,
            inputs=prov.inputs,
            seed=prov.seed,
        )
    validate_schedule(table, name)
    return table


# ------------------------------------------------------------------------------------------ export


def _strict(obj: Any) -> Any:
    """``obj`` as strict JSON: numpy values made plain, non-finite floats written "inf", "-inf", "nan"."""
    return json_safe(obj)


def _metadata(table: ScheduleTable) -> dict[str, Any]:
    from sictl import __version__

    return _strict(
        {
            "sictl_export": "schedule",
            "created_by": f"sictl {__version__}",
            "family": table.family,
            "params": table.params,
            "target": table.target,
            "metrics": table.metrics,
            "grid": None if table.grid is None else np.asarray(table.grid, dtype=np.float64).tolist(),
            "grid_design": table.grid_design,
            "inputs": table.inputs,
            "columns": list(COLUMNS),
        }
    )


def _write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_output(path, binary=False) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def export_schedule_csv(table: ScheduleTable, path: str | os.PathLike) -> None:
    """Write the table as CSV (``-`` = stdout): a header, ``# key: JSON`` metadata lines, P rows.

    Floats are written with ``repr`` (17 significant digits, exact round trip); infinite endpoint
    derivatives are written ``inf``/``-inf``. The header comes first, so
    ``numpy.genfromtxt(path, names=True, delimiter=",")`` (which takes the first line as names) and
    ``pandas.read_csv(path, comment="#")`` read it back, as does any CSV reader that skips lines
    starting with ``#``.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for key, value in _metadata(table).items():
        buf.write(f"# {key}: {json.dumps(value, sort_keys=True, default=str)}\n")
    cols = table.columns()
    for row in zip(*(cols[key] for key in COLUMNS), strict=False):
        writer.writerow([repr(float(v)) for v in row])
    _write_text(path, buf.getvalue())


def export_schedule_json(table: ScheduleTable, path: str | os.PathLike) -> None:
    """Write the table as one strict JSON object (``-`` = stdout).

    Layout: the metadata keys of the CSV export plus ``"data": {column: [P floats]}``. JSON has no
    infinity, so a non-finite endpoint value is written as the string ``"inf"`` or ``"-inf"``
    (``numpy.asarray(column, dtype=float)`` reads it back).
    """
    obj = _metadata(table)
    obj["data"] = _strict(table.columns())
    _write_text(path, json.dumps(obj, sort_keys=True, allow_nan=False, default=str) + "\n")
