"""`sictl evaluate FORECASTS --truth TRUTH`: ensemble forecasts scored against the truth at each lead.

``sictl evaluate`` is in forecast mode when ``--truth`` is given (:func:`sictl.pipeline.evaluate.run`
hands the :class:`~sictl.pipeline.evaluate.EvaluateConfig` over to :func:`run`). The metrics are the
registry :data:`sictl.pipeline.evaluate_forecast_metrics.FORECAST_METRICS`, their maths
:mod:`sictl.core.fields.forecast_metrics`; the JSON keys are documented in docs/cli.md.

**Readers.** Forecasts and truth are arrays with a layout (:func:`open_ensemble`): any file
:func:`sictl.io.foreign.open_foreign` opens (``.npy``, ``.npz``, ``.pt``, ``.h5``), read block by block
along its condition axis, so files larger than memory are scored in one pass. The layout is
``--layout``/``--truth-layout`` or the one the file states (:attr:`ForeignArray.layout`): its
``condition`` (= ``traj``) axis is the initial condition, ``member`` (= ``sample``) the ensemble member
and ``lead`` (= ``time``) the lead; a missing axis has length 1, but forecasts need a member axis. A
sictl forecasts file plugs in as one more kind of :func:`open_foreign`: a :class:`ForeignArray` whose
``data`` reads the forecasts in data units, whose ``layout`` names the axes (e.g.
``"condition member lead channel x y"``), whose ``time`` holds the (L,) lead times (optional) and whose
``attrs["field"]`` names the field (``vorticity`` turns on energy and enstrophy). The truth may hold
several realisations per condition (a ``member`` axis): each is scored as one observation.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from sictl.errors import ConfigError, ShapeError
from sictl.pipeline.evaluate_forecast_metrics import FORECAST_METRICS, Context, make_accumulators

__all__ = ["Ensemble", "open_ensemble", "validate", "run", "table_rows", "FORECAST_METRICS"]

#: size of the blocks of conditions read at a time (each side, before conversion to float64)
BLOCK_BYTES = 32 << 20
_HINTS = {False: 'name its axes, e.g. --layout "condition member lead x y"',
          True: 'name its axes, e.g. --truth-layout "condition lead x y"'}


@dataclass
class Ensemble:
    """Forecasts or truth opened for reading: ``shape`` is ``(conditions, members, leads, C, *spatial)``.

    Attributes:
        source: the array as stored (an :class:`sictl.io.foreign.ArraySource`: ``shape``, ``read``, ``load``).
        layout: its :class:`~sictl.pipeline.layout.Layout`.
        path, kind: the file and what it is (``npy``, ``h5``, ``sictl-…``).
        lead_times: (L,) lead times when the file gives them, else None.
        field: the field's name when the file gives it.
    """

    source: Any
    layout: Any
    path: str
    kind: str
    lead_times: Any = None
    field: str | None = None

    def size(self, role: str) -> int:
        axis = self.layout.axis(role)
        return 1 if axis is None else int(self.source.shape[axis])

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.size("traj"), self.size("sample"), self.size("time"), self.size("channel"),
                *(int(self.source.shape[a]) for a in self.layout.spatial))

    def rows(self) -> int:
        """Conditions per block (about :data:`BLOCK_BYTES`)."""
        axis = self.layout.axis("traj")
        return self.size("traj") if axis is None else self.source.rows_for(axis, BLOCK_BYTES)

    def read(self, start: int, stop: int):
        """Conditions ``start:stop`` as float64 ``(b, members, leads, C, *spatial)``."""
        import numpy as np

        from sictl.pipeline.layout import to_ensemble

        axis = self.layout.axis("traj")
        block = self.source.load() if axis is None else self.source.read(axis, start, stop)
        return np.ascontiguousarray(to_ensemble(block, self.layout), dtype=np.float64)


@contextlib.contextmanager
def open_ensemble(path: str, key: str | None, layout: str | None, *, truth: bool):
    """Open forecasts (``truth=False``) or the truth as an :class:`Ensemble` (valid inside the block).

    Raises:
        ConfigError: no layout (none given, none stated by the file), forecasts without a member axis.
        ShapeError: a layout that does not fit the array, vectors instead of fields.
    """
    from sictl.io.foreign import open_foreign
    from sictl.pipeline.layout import parse_layout

    what = "truth" if truth else "forecasts"
    with open_foreign(path, key) as fa:
        text = layout or fa.layout
        if not text:
            raise ConfigError(f"{path}: the axes of the {what} array {tuple(fa.data.shape)} are not named", hint=_HINTS[truth])
        lay = parse_layout(text, fa.data.ndim)
        if lay.vector:
            raise ShapeError(f"{path}: layout {text!r} holds vectors; forecasts are scored as fields on a grid",
                             hint=_HINTS[truth])
        if not truth and lay.axis("sample") is None:
            raise ConfigError(f"{path}: layout {text!r} has no member axis", hint=_HINTS[truth])
        ens = Ensemble(fa.data, lay, str(path), fa.kind, None, fa.attrs.get("field"))
        if fa.time is not None and lay.axis("time") is not None and len(fa.time) == ens.size("time"):
            ens.lead_times = fa.time
        yield ens


def validate(cfg) -> None:
    """Options that do not belong to forecast mode, and unknown metrics."""
    clash = [opt for opt, value in (("--reference", cfg.reference), ("--reference-spectrum", cfg.reference_spectrum),
                                    ("--reference-key", cfg.reference_key), ("--reference-layout", cfg.reference_layout))
             if value is not None]
    if clash:
        raise ConfigError(f"--truth (scoring forecasts) and {', '.join(clash)} (comparing samples) exclude each other",
                          hint="give --truth TRUTH for forecasts, or --reference REF for samples")
    if cfg.allow_nan or cfg.drop_last_node:
        flag = "--allow-nan" if cfg.allow_nan else "--drop-last-node"
        raise ConfigError(f"{flag} does not apply to forecasts", hint="forecasts are scored as they are; every value must be finite")
    unknown = [m for m in cfg.metrics or () if m not in FORECAST_METRICS]
    if unknown:
        raise ConfigError(f"unknown forecast metric {', '.join(map(repr, unknown))}",
                          hint=f"with --truth choose among {', '.join(FORECAST_METRICS)}")


def _check_shapes(fe: Ensemble, te: Ensemble) -> None:
    (nf, members, lf, *field), (nt, _, lt, *tfield) = fe.shape, te.shape
    if members < 2:
        raise ShapeError(f"{fe.path}: {members} member per condition; the fair scores need an ensemble",
                         hint="forecast at least 2 members per condition (sample --members M)")
    if nf != nt:
        raise ShapeError(f"the forecasts hold {nf} conditions but the truth holds {nt}",
                         hint="the condition axes must match one to one (same initial states, same order)")
    if lf != lt:
        raise ShapeError(f"the forecasts hold {lf} leads but the truth holds {lt}",
                         hint="give the truth at the forecast leads only (lead 1 = one lag after the condition)")
    if field != tfield:
        what = "channels" if field[1:] == tfield[1:] else "resolution"
        raise ShapeError(f"{what} mismatch: forecast fields are {tuple(field)} but truth fields are {tuple(tfield)}",
                         hint="score forecasts at the truth's resolution and channels")


def _choose(cfg, square: bool, leads: int) -> tuple[str, ...]:
    names = cfg.metrics or tuple(FORECAST_METRICS)
    chosen = []
    for name in names:
        reason = FORECAST_METRICS[name].needs(square, leads)
        if reason is None:
            chosen.append(name)
        elif cfg.metrics:
            raise ConfigError(f"forecast metric {name!r} needs {reason}", hint="leave it out of --metrics")
    return tuple(dict.fromkeys(chosen))


def _vorticity(cfg, fe: Ensemble, te: Ensemble) -> bool:
    from sictl.pipeline.evaluate import _VORTICITY_NAMES

    field = fe.shape[3:]
    fits = len(field) == 3 and field[0] == 1 and field[1] == field[2]
    if cfg.vorticity is None:
        return fits and any(f in _VORTICITY_NAMES for f in (fe.field, te.field) if f)
    if cfg.vorticity and not fits:
        raise ConfigError(f"--vorticity needs square 2-D fields of one channel, got {tuple(field)}",
                          hint="--no-vorticity scores other fields (spectra of the power, ½⟨x²⟩ for KL)")
    return bool(cfg.vorticity)


def run(cfg, *, plot_dir: str | None = None, device: str = "cpu") -> tuple[dict, dict]:
    """Score forecasts against the truth. Returns (JSON summary, arrays for the HDF5 report)."""
    import numpy as np

    from sictl.io import file_checksum

    validate(cfg)
    started = time.perf_counter()
    with open_ensemble(cfg.samples, cfg.key, cfg.layout, truth=False) as fe, \
            open_ensemble(cfg.truth, cfg.truth_key, cfg.truth_layout, truth=True) as te:
        _check_shapes(fe, te)
        n, members, leads, *field = fe.shape
        grid = field[1:]
        square = 1 <= len(grid) <= 3 and len(set(grid)) == 1 and grid[0] % 2 == 0
        chosen = _choose(cfg, square, leads)
        ctx = Context(members=members, leads=leads, field_shape=tuple(field), vorticity=_vorticity(cfg, fe, te),
                      rng=np.random.default_rng(cfg.seed), device=device)
        accumulators = make_accumulators(chosen, ctx)
        step = max(1, min(fe.rows(), te.rows()))
        for start in range(0, n, step):
            f, t = fe.read(start, start + step), te.read(start, start + step)
            for acc in accumulators.values():
                acc.update(f, t)
        lead_times = fe.lead_times if fe.lead_times is not None else te.lead_times
        summary: dict = {"mode": "forecast", "forecasts": cfg.samples, "truth": cfg.truth,
                         "layout": str(fe.layout), "truth_layout": str(te.layout), "n_conditions": n,
                         "n_members": members, "n_leads": leads, "truth_members": te.shape[1],
                         "field_shape": list(field), "vorticity": ctx.vorticity, "lead": list(range(1, leads + 1)),
                         "lead_time": None if lead_times is None else np.asarray(lead_times, np.float64).tolist(),
                         "metrics": {}}
    arrays: dict = {"lead": np.arange(1, leads + 1)}
    blocks: dict = {}
    for acc in accumulators.values():
        b, a = acc.result(chosen)
        blocks.update(b)
        arrays.update(a)
    summary["metrics"] = {name: blocks[name] for name in FORECAST_METRICS if name in blocks}
    if plot_dir is not None:
        from sictl.pipeline.forecast_plots import forecast_figures

        os.makedirs(plot_dir, exist_ok=True)
        summary["plots"] = forecast_figures(plot_dir, summary)
    summary["inputs"] = {p: file_checksum(p) for p in (cfg.samples, cfg.truth) if p != "-"}
    summary["config"] = asdict(cfg)
    summary["seed"] = cfg.seed
    summary["wall_time_s"] = time.perf_counter() - started
    return summary, arrays


def table_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    """Columns and one row per lead of the CLI's table (the metrics that were computed)."""
    m = summary["metrics"]
    cols = [("CRPS", "crps", "per_lead"), ("RMSE", "rmse", "per_lead"), ("spread", "spread", "per_lead"),
            ("SSR", "spread_skill", "per_lead"), ("energy score", "energy_score", "per_lead"),
            ("rank δ", "rank_histogram", "delta")]
    cols = [c for c in cols if c[1] in m]
    kl = [q for q in m.get("kl", {}).get("quantities", [])]
    header = ["lead", *(c[0] for c in cols), *(f"KL {q}" for q in kl)]
    if "autocorrelation" in m:
        header += ["autocorr (truth)"]
    rows = []
    for i, lead in enumerate(summary["lead"]):
        label = str(lead) if summary.get("lead_time") is None else f"{lead} (t={summary['lead_time'][i]:.3g})"
        row = [label, *(f"{m[c[1]][c[2]][i]:.4g}" for c in cols), *(f"{m['kl'][q]['per_lead'][i]:.3g}" for q in kl)]
        if "spread_skill" in m:
            row[header.index("SSR")] += f" ± {m['spread_skill']['standard_error'][i]:.2g}"
        if "autocorrelation" in m:
            a = m["autocorrelation"]
            row.append(f"{a['forecast'][i]:.3g} ({a['truth'][i]:.3g})")
        rows.append(row)
    return header, rows
