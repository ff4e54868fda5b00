"""``--diffusion FILE``: a tabulated g(t) for `sictl sample` (ordinary SDE sampling and forecasts).

The file is read by :func:`sictl.io.read_diffusion_table`; the coefficient is
:class:`sictl.core.sampling.diffusion.TabulatedDiffusion` (g linear between nodes, ε = g²/2). The table
must cover the sampling window [t_min, t_max].
"""

from __future__ import annotations

from sictl.errors import ConfigError

__all__ = ["is_diffusion_table", "load_diffusion_table"]


def is_diffusion_table(spec: str | None) -> bool:
    """Whether a ``--diffusion`` value names a table file (``.csv`` or ``.json``)."""
    from sictl.io import is_diffusion_table as by_suffix

    return spec is not None and by_suffix(spec)


def load_diffusion_table(spec: str, t_min: float, t_max: float):
    """(TabulatedDiffusion, checksum of the file) for ``--diffusion FILE`` on the window [t_min, t_max].

    Raises:
        SchemaError: a bad file (see :func:`sictl.io.read_diffusion_table`).
        ConfigError: a table that does not cover the window.
    """
    from sictl.core.sampling.diffusion import TabulatedDiffusion
    from sictl.io import file_checksum, read_diffusion_table

    t, g = read_diffusion_table(spec)
    table = TabulatedDiffusion(t, g, label=str(spec))
    if not table.covers(t_min, t_max):
        raise ConfigError(f"--diffusion {spec}: the table covers t ∈ [{t[0]:g}, {t[-1]:g}] but the sampling window "
                          f"is [{t_min:g}, {t_max:g}]",
                          hint="tabulate g over the whole window, or move --t-min/--t-max inside the table")
    return table, file_checksum(spec)
