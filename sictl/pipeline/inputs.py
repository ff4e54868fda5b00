"""Which files each command reads, by option: for the check, before any work, that no output is one of
them (:func:`sictl.io.check_distinct`). Values that are not files (a schedule's name, a grid's name)
are left out; ``-`` (stdin) is skipped by the check."""

from __future__ import annotations

from typing import Any

__all__ = ["base_file", "design_inputs", "gaussian_check_inputs", "sample_inputs"]


def base_file(base: str | None) -> str | None:
    """The FILE of ``--base spectral:FILE``, else None."""
    name, _, arg = (base or "").partition(":")
    return arg if name == "spectral" and arg else None


def _existing(spec: str | None) -> str | None:
    """A value that names an existing file (a --field-mixture spec is not one), else None."""
    import os

    return spec if spec is not None and os.path.exists(spec) else None


def _schedule_file(spec: str | None) -> str | None:
    from sictl.pipeline.schedule_files import is_schedule_file

    return spec if spec is not None and is_schedule_file(spec) else None


def sample_inputs(cfg: Any) -> dict[str, Any]:
    """``sample``: the drift's file, schedule files, a grid file, the noise file, a spectral base's file."""
    from sictl.core.sampling.grids import GRIDS

    return {"--exact": cfg.exact, "--schedule": _schedule_file(cfg.schedule),
            "--drift-schedule": _schedule_file(cfg.drift_schedule),
            "--grid": None if cfg.grid in GRIDS else cfg.grid, "--noise": cfg.noise, "--base": base_file(cfg.base)}


def design_inputs(cfg: Any) -> dict[str, Any]:
    """``design-schedule``: the dataset, spectrum or mixture file of the target, a spectral base's file."""
    return {"--data": cfg.data, "--spectrum": cfg.spectrum, "--gmm-file": cfg.gmm_file, "--base": base_file(cfg.base),
            "--field-mixture": _existing(getattr(cfg, "field_mixture", None)), "--model": getattr(cfg, "model", None)}


def gaussian_check_inputs(cfg: Any) -> dict[str, Any]:
    """``gaussian-check``: the spectrum file, schedule files, a spectral base's file."""
    from sictl.core.sampling.grids import GRIDS

    return {"--spectrum": cfg.spectrum, "--schedules": [s for s in cfg.schedules if _schedule_file(s)],
            "--base": base_file(cfg.base), "--field-mixture": _existing(getattr(cfg, "field_mixture", None)),
            "--grid": [g for g in getattr(cfg, "grids", ()) if g not in GRIDS], "--model": getattr(cfg, "model", None)}
