"""`design-schedule`: build the target, let it design its schedule, measure it, write the files.

The target (:mod:`sictl.core.exact.targets`) chooses the method (docs/math.md, "Schedule design";
arXiv 2509.01629):

  a. Gaussian, every ratio on one side of 1 → closed form ``designed:λ`` (λ_min or λ_max rule);
  b. any target on the variance-preserving path → optimal clock t = H(β)/H(1) (numerical);
  c. Gaussian with ratios on both sides of 1 → the rescaled closed form ``designed:λ_lo,λ_hi``,
     the A2 lower bound; method b's value is reported to show what the rescaling saves.

Here the designed schedule is compared with linear and trig on the target's path, tabulated, and
written (schedule file, csv/json export, plot) through :mod:`sictl.io`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from sictl.core.exact import design
from sictl.core.exact.targets import Design, DesignTarget
from sictl.core.interpolants.schedules import Linear, Trig
from sictl.core.sampling.grids import time_grid
from sictl.errors import ConfigError
from sictl.pipeline.targets import build_target

EXPORT_FORMATS = ("csv", "json")


@dataclass(frozen=True, kw_only=True)
class DesignConfig:
    ratios: tuple[float, ...] = ()
    matern: str | None = None
    dim: int = 2
    data: str | None = None
    spectrum: str | None = None
    gmm: str | None = None
    gmm_file: str | None = None
    base: str = "white"
    criterion: str = "a2"
    rescale: bool = True
    steps: int = 19
    t_min: float = 1e-4
    t_max: float = 1 - 1e-4
    mc_samples: int = 2048
    seed: int = 0
    field_mixture: str | None = None
    grid_for: str | None = None  # --grid-for SOLVER --nfe K: a grid designed for that solver and budget
    nfe: int | None = None
    diffusion: str = "optimal"  # the diffusion of a stochastic --grid-for solver
    lab_samples: int = 64  # base draws of the field-mixture laboratory
    model: str | None = None  # --model RUN: the target is the learned drift's estimated profile (with --data)
    weights: str = "ema"
    profile_times: int = 33  # model times (a log-SNR grid of its training window) the profile is estimated at
    jacobian_samples: int = 128  # data and base draws per time
    power_iterations: int = 20
    probes: int = 4  # block width of the power iteration = Hutchinson probes per draw

    def validate(self) -> None:
        from sictl.pipeline.design_model import check_model_options
        from sictl.pipeline.grid_design import check_options

        check_model_options(self)
        check_options(self.grid_for, self.nfe, self.gmm is not None or self.gmm_file is not None)
        if self.criterion not in ("a2", "kinetic"):
            raise ConfigError(f"unknown criterion {self.criterion!r}", hint="use --lipschitz (a2) or --kinetic")
        time_grid("uniform", self.steps, self.t_min, self.t_max)  # raises on bad steps / window
        if self.mc_samples < 16:
            raise ConfigError(f"--mc-samples must be ≥ 16, got {self.mc_samples}",
                              hint="the Monte-Carlo profile of a mixture needs enough draws; the default is 2048")


@dataclass(frozen=True)
class DesignOutputs:
    """Where `design-schedule` writes: the schedule file (``-`` = stdout), an export of its table
    (``csv`` or ``json``; ``-`` = stdout) and a PNG plot. Build it with :meth:`resolve`."""

    schedule: str | None = None
    export: str | None = None
    export_path: str | None = None
    plot: str | None = None

    @classmethod
    def resolve(cls, schedule: str | None = None, export: str | None = None, export_path: str | None = None,
                plot: str | None = None) -> DesignOutputs:
        """Fill in the export path (-o with the format's suffix; stdout without -o) and check, before
        any work, that every file can be written."""
        from sictl.io import check_writable

        if export is not None and export not in EXPORT_FORMATS:
            raise ConfigError(f"unknown export format {export!r}", hint="use --export csv or --export json")
        if export is not None and export_path is None:
            export_path = "-" if schedule in (None, "-") else str(Path(schedule).with_suffix("." + export))
        for path in (schedule, export_path if export_path != "-" else None, plot):
            if path is not None:
                check_writable(path)
        return cls(schedule, export, export_path, plot)

    def stdout_users(self) -> dict[str, str | None]:
        """The file options that may name stdout, by flag (for the CLI's one-user-of-stdout check)."""
        return {"-o": self.schedule, "--export-path": self.export_path}


def design_schedule(cfg: DesignConfig) -> tuple[DesignTarget, Design, dict]:
    """Design the schedule and measure it against linear and trig. Returns (target, design, JSON summary)."""
    cfg.validate()
    started = time.perf_counter()
    profile = None
    if cfg.model is not None:
        from sictl.pipeline.design_model import model_target

        target, profile = model_target(cfg)
    else:
        target = build_target(cfg)
    made = target.design(cfg.criterion, rescale=cfg.rescale)
    shown = {"designed": made.schedule, "linear": Linear(), "trig": Trig()}
    a2 = {k: target.a2(s) for k, s in shown.items()}
    lip = {k: made.lipschitz if k == "designed" and made.lipschitz is not None else target.lipschitz(s)
           for k, s in shown.items()}
    info = dict(made.info)
    if cfg.criterion == "kinetic":
        info["kinetic"] = {k: target.kinetic(s) for k, s in shown.items()}
    from sictl.io import description_checksum

    described = target.describe()
    described["checksum"] = target.checksum or description_checksum(described)
    summary = {
        "family": made.family,
        "params": made.params,
        "criterion": cfg.criterion,
        "a2": a2,
        "lipschitz": lip,
        "target": described,
        "path": made.path,
        "grid": time_grid("uniform", cfg.steps, cfg.t_min, cfg.t_max).tolist(),
        **info,
        "config": asdict(cfg),
        "inputs": {"target": target.checksum} if target.checksum else {},
        "wall_time_s": time.perf_counter() - started,
    }
    if made.note:
        summary["note"] = made.note
    if profile is not None:
        summary["profile"] = profile
    if cfg.grid_for is not None:  # the recommended grid becomes the one designed for that solver and budget
        from sictl.pipeline.grid_design import designed_grid

        summary["grid"], summary["grid_design"] = designed_grid(cfg, target, made.schedule)
    return target, made, summary


def run(cfg: DesignConfig, outputs: DesignOutputs = DesignOutputs()) -> dict:
    """Design the schedule and write what ``outputs`` asks for. Returns the JSON summary."""
    from sictl.io import check_distinct
    from sictl.pipeline.inputs import design_inputs

    check_distinct(design_inputs(cfg), {"-o": outputs.schedule, "--export-path": outputs.export_path, "--plot": outputs.plot})
    target, made, summary = design_schedule(cfg)
    table = schedule_table(made, summary, cfg)
    if outputs.schedule is not None:
        from sictl.io import write_schedule

        write_schedule(outputs.schedule, table)
        summary["schedule"] = outputs.schedule
        if outputs.schedule != "-":
            from sictl.io import file_checksum

            summary["checksum"] = file_checksum(outputs.schedule)
    else:
        summary["schedule"] = None
    if outputs.export is not None:
        from sictl.io import export_schedule_csv, export_schedule_json

        (export_schedule_csv if outputs.export == "csv" else export_schedule_json)(table, outputs.export_path)
        summary["export"] = outputs.export_path
    if outputs.plot is not None:
        from sictl.pipeline.plots import schedule_figure

        ts = plot_times(made.schedule)
        profiles = {"designed": target.lipschitz_profile(made.schedule, ts),
                    "linear": target.lipschitz_profile(Linear(), ts)}
        schedule_figure(outputs.plot, made.schedule, Linear(), profiles, ts,
                        f"{summary['family']} schedule, target {summary['target'].get('kind')}")
        summary["plot"] = outputs.plot
    return summary


def plot_times(schedule, window: float = 1e-13) -> torch.Tensor:
    """Times that resolve a schedule's fast stretches, for plots: its own table's nodes (refined
    geometrically near both ends) and times uniform in the log-SNR of it and of linear (where a
    mixture's transition and linear's Lipschitz peak lie), within [window, 1 − window]."""
    parts = [design.table_times()]
    for sched in (schedule, Linear()):
        try:
            parts.append(time_grid("logsnr", 1000, window, 1 - window, sched))
        except (ConfigError, ValueError, RuntimeError, NotImplementedError):
            pass  # a schedule without a usable log-SNR inverse: its table suffices
    ts = torch.unique(torch.cat(parts).to(torch.float64))
    return ts[(ts >= window) & (ts <= 1 - window)]


def schedule_table(made: Design, summary: dict, cfg: DesignConfig):
    """The schedule file's content: the designed schedule on the table times, with ε*, the
    recommended grid, and the summary's target, metrics, configuration and inputs."""
    from sictl.io import ScheduleTable

    columns = design.tabulate(made.schedule)
    columns["eps_star"] = design.eps_star_column(made.schedule, columns["t"], vp_clock=made.vp_clock)
    extra = ("kinetic", "a2_variance_preserving", "a2_saved_by_rescaling")
    metrics = {"criterion": summary["criterion"], "a2": summary["a2"], "lipschitz": summary["lipschitz"],
               **{k: summary[k] for k in extra if k in summary}}
    return ScheduleTable(
        **{k: v.numpy() for k, v in columns.items()},
        family=summary["family"],
        params=summary["params"],
        grid=np.asarray(summary["grid"], dtype=np.float64),
        grid_design=summary.get("grid_design"),
        target=summary["target"],
        metrics=metrics,
        config=summary["config"],
        inputs=summary["inputs"],
        seed=cfg.seed,
    )


__all__ = ["DesignConfig", "DesignOutputs", "design_schedule", "run", "schedule_table"]
