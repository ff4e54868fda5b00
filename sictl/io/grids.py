"""Time-grid files for ``sample --grid FILE``: a schedule file's recommended grid, ``.npy``, or text."""

from __future__ import annotations

import os

import numpy as np

from sictl.errors import ConfigError

__all__ = ["read_time_grid", "read_grid_design"]


def read_time_grid(path: str) -> np.ndarray:
    """The times stored in ``path`` as a flat float64 array (not yet checked for order or range).

    ``.h5``/``.hdf5``: the recommended grid of a schedule file; ``.npy``: an array (no pickle);
    anything else: text with one time per line (or whitespace separated).
    """
    if not os.path.exists(path):
        raise ConfigError(f"unknown grid {path!r} (not uniform, logsnr or an existing file)",
                          hint="--grid uniform|logsnr|FILE (a schedule file's grid, .npy or text of times)")
    if path.endswith(".npy"):
        try:
            ts = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ConfigError(f"{path}: cannot read times ({exc})", hint="save a plain float array with numpy.save") from None
    elif path.endswith((".h5", ".hdf5")):
        from sictl.io.schedules import read_schedule

        ts = read_schedule(path).grid
        if ts is None:
            raise ConfigError(f"{path} stores no recommended grid", hint="use --grid uniform or logsnr")
    else:
        try:
            ts = np.loadtxt(path, dtype=np.float64, ndmin=1)
        except ValueError as exc:
            raise ConfigError(f"{path}: cannot read times ({exc})", hint="one time per line or a .npy array") from None
    return np.asarray(ts, dtype=np.float64).reshape(-1)


def read_grid_design(path: str) -> dict | None:
    """What a schedule file's grid was designed for (``{"solver", "nfe", ...}``, written by
    ``design-schedule --grid-for``), or None: a grid that is not designed, or a file that is not a
    schedule file."""
    if not (os.path.exists(path) and path.endswith((".h5", ".hdf5"))):
        return None
    from sictl.io.schedules import read_schedule

    return read_schedule(path).grid_design
