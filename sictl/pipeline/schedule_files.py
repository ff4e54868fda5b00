"""Schedule files → core schedules. Closed-form families are rebuilt from their parameters (and the
table is checked against them); anything else is the table itself, interpolated verbatim."""

from __future__ import annotations

import os

import numpy as np
import torch

from sictl.core.interpolants.schedules import Designed, DesignedPair, Linear, Schedule, Tabulated, Trig
from sictl.errors import SchemaError

CLOSED_FORMS = {
    "designed": lambda p: Designed(float(p["lam"])),
    "designed-pair": lambda p: DesignedPair(float(p["lam_lo"]), float(p["lam_hi"])),
    "linear": lambda p: Linear(),
    "trig": lambda p: Trig(),
}


def schedule_from_table(table, label: str) -> Schedule:
    """The schedule a table describes: exact for closed-form families, :class:`Tabulated` otherwise."""
    build = CLOSED_FORMS.get(table.family)
    if build is None:
        return Tabulated(table.t, table.alpha, table.beta, table.alpha_dot, table.beta_dot, label=label)
    try:
        sched = build(table.params)
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaError(f"{label}: family {table.family!r} with unusable parameters {table.params} ({exc})",
                          hint="regenerate it with `sictl design-schedule`") from None
    v = sched(torch.as_tensor(table.t, dtype=torch.float64))
    worst = max(float(np.max(np.abs(v.alpha.numpy() - table.alpha))), float(np.max(np.abs(v.beta.numpy() - table.beta))))
    if worst > 1e-9:
        raise SchemaError(
            f"{label}: the tabulated α, β differ from family {table.family!r} {table.params} by {worst:.2e}",
            hint="the file was edited or is corrupt; regenerate it with `sictl design-schedule`",
        )
    return sched


def is_schedule_file(spec: str) -> bool:
    """Whether a ``--schedule``-like value names a file rather than a schedule of the registry: ``-``
    (stdin), a path with a directory, an ``.h5``/``.hdf5`` name, or an existing file."""
    return spec == "-" or os.sep in spec or spec.endswith((".h5", ".hdf5")) or os.path.exists(spec)


def load_schedule(path: str) -> tuple[Schedule, str, dict]:
    """Read a schedule file (``-`` = stdin): (schedule, checksum of its bytes, {"family", "params"})."""
    from sictl.io import file_checksum, read_schedule

    table = read_schedule(path)
    return (schedule_from_table(table, "<stdin>" if path == "-" else path), file_checksum(path),
            {"family": table.family, "params": table.params})
