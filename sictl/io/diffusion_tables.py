"""Tabulated diffusion coefficients g(t) (``sictl sample --diffusion FILE``).

Two formats, told apart by the suffix:

* ``.csv``: a header row naming the columns, among them ``t`` and ``g`` (any order; other columns are
  ignored), then one node per row;
* ``.json``: an object with the arrays ``"t"`` and ``"g"`` (other keys are ignored).

The nodes must be at least two, finite, with t strictly increasing and g ≥ 0. Whether they cover the
sampling window is for the caller to check (it knows the window). The interpolating coefficient is
:class:`sictl.core.sampling.diffusion.TabulatedDiffusion`.
"""

from __future__ import annotations

import csv
import json
import os

import numpy as np

from sictl.errors import SchemaError
from sictl.io._files import check_input_file, display_name

__all__ = ["DIFFUSION_TABLE_SUFFIXES", "is_diffusion_table", "read_diffusion_table"]

#: Suffixes that make a ``--diffusion`` value a file.
DIFFUSION_TABLE_SUFFIXES = (".csv", ".json")
_HINT = "write columns t and g (CSV with a header row, or JSON {\"t\": [...], \"g\": [...]}), t strictly increasing, g ≥ 0"


def is_diffusion_table(spec: str) -> bool:
    """Whether a ``--diffusion`` value names a table file (by its suffix)."""
    return os.path.splitext(str(spec))[1].lower() in DIFFUSION_TABLE_SUFFIXES


def _columns_csv(name: str, local: str) -> dict[str, list[str]]:
    with open(local, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.reader(handle) if r and any(c.strip() for c in r)]
    if not rows:
        raise SchemaError(f"{name}: no header row", hint=_HINT)
    header = [c.strip() for c in rows[0]]
    out: dict[str, list[str]] = {}
    for key in ("t", "g"):
        if key not in header:
            raise SchemaError(f"{name}: no column {key!r} (columns: {', '.join(header) or 'none'})", hint=_HINT)
        j = header.index(key)
        out[key] = [r[j].strip() if j < len(r) else "" for r in rows[1:]]
    return out


def _columns_json(name: str, local: str) -> dict:
    try:
        with open(local, encoding="utf-8") as handle:
            data = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{name}: not valid JSON ({exc})", hint=_HINT) from None
    if not isinstance(data, dict):
        raise SchemaError(f"{name}: expected a JSON object with arrays \"t\" and \"g\"", hint=_HINT)
    for key in ("t", "g"):
        if key not in data:
            raise SchemaError(f"{name}: no key {key!r} (keys: {', '.join(map(str, data)) or 'none'})", hint=_HINT)
        if not isinstance(data[key], list):
            raise SchemaError(f"{name}: {key!r} must be an array of numbers", hint=_HINT)
    return {"t": data["t"], "g": data["g"]}


def _numbers(name: str, key: str, values: list) -> np.ndarray:
    out = np.empty(len(values), np.float64)
    for i, v in enumerate(values):
        if isinstance(v, bool) or v is None or v == "":
            raise SchemaError(f"{name}: {key}[{i}] is not a number ({v!r})", hint=_HINT)
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise SchemaError(f"{name}: {key}[{i}] is not a number ({v!r})", hint=_HINT) from None
    bad = np.flatnonzero(~np.isfinite(out))
    if len(bad):
        raise SchemaError(f"{name}: {key}[{bad[0]}] is {out[bad[0]]} (the table must be finite)", hint=_HINT)
    return out


def read_diffusion_table(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(t, g) of a diffusion table file, checked (see the module docstring).

    Raises:
        SchemaError: unreadable file, missing column or key, non-numeric or non-finite values, fewer than
            two nodes, t not strictly increasing, negative g. The message names the file.
    """
    name = display_name(path)
    local = check_input_file(path)
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix not in DIFFUSION_TABLE_SUFFIXES:
        raise SchemaError(f"{name}: a diffusion table is a .csv or .json file", hint=_HINT)
    try:
        cols = _columns_csv(name, local) if suffix == ".csv" else _columns_json(name, local)
    except UnicodeDecodeError:
        raise SchemaError(f"{name}: not a text file", hint=_HINT) from None
    t, g = _numbers(name, "t", cols["t"]), _numbers(name, "g", cols["g"])
    if len(t) != len(g) or len(t) < 2:
        raise SchemaError(f"{name}: {len(t)} values of t and {len(g)} of g; need the same number, at least 2", hint=_HINT)
    steps = np.flatnonzero(np.diff(t) <= 0)
    if len(steps):
        i = int(steps[0])
        raise SchemaError(f"{name}: t is not strictly increasing (t[{i}] = {t[i]:g}, t[{i + 1}] = {t[i + 1]:g})", hint=_HINT)
    neg = np.flatnonzero(g < 0)
    if len(neg):
        raise SchemaError(f"{name}: g[{neg[0]}] = {g[neg[0]]:g} is negative (g ≥ 0: it multiplies dW)", hint=_HINT)
    return t, g
