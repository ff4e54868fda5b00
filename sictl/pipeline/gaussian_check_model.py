"""`gaussian-check --model RUN --spectrum FILE`: where a trained drift differs from the exact Gaussian one.

The run is opened as a drift source (its training schedule and base noise); the dataset's stored
per-mode power, rescaled to the model's units, is the Gaussian target; :func:`sictl.models.mode_check.
drift_mode_errors` measures the network's error per Fourier shell at a log-SNR grid of the model's
training window (inputs from the exact marginal). Optional heat map shell × t (``--plot``).
"""

from __future__ import annotations

import time
from dataclasses import asdict

import torch

from sictl.core.sampling.grids import time_grid
from sictl.errors import ConfigError

__all__ = ["check_model_options", "model_check"]


def check_model_options(cfg) -> None:
    """``--model`` needs a Gaussian dataset (``--spectrum``) and no other target; ``--plot`` needs ``--model``."""
    if cfg.model is None:
        if cfg.plot is not None:
            raise ConfigError("--plot draws the per-shell errors of a model: it needs --model RUN",
                              hint="add --model RUN --spectrum FILE, or drop --plot")
        return
    others = [flag for flag, given in (("--ratio", bool(cfg.ratios)), ("--matern", cfg.matern is not None),
                                        ("--gmm", cfg.gmm is not None), ("--field-mixture", cfg.field_mixture is not None))
              if given]
    if others:
        raise ConfigError(f"--model is compared with the Gaussian of --spectrum FILE, not with {', '.join(others)}",
                          hint="give the Gaussian dataset the model was trained on with --spectrum FILE")
    if cfg.spectrum is None:
        raise ConfigError("--model needs --spectrum FILE: a Gaussian dataset whose stored spectrum gives the exact drift",
                          hint="e.g. sictl gaussian-check --model runs/grf --spectrum grf.h5")
    if cfg.base != "white":
        raise ConfigError(f"--base {cfg.base}: a model brings the base noise it was trained with",
                          hint="drop --base with --model")
    if cfg.model_times < 2 or cfg.model_samples < 1:
        raise ConfigError(f"--model-times must be ≥ 2 and --model-samples ≥ 1, got {cfg.model_times}, {cfg.model_samples}",
                          hint="the defaults are 11 and 256")


def model_check(cfg) -> tuple[dict, dict]:
    """(summary, report arrays) of ``gaussian-check --model``."""
    from sictl.core.sampling.noise import FourierNoise
    from sictl.io import read_dataset, read_run_checkpoint
    from sictl.models.mode_check import drift_mode_errors
    from sictl.pipeline.drift_sources import open_model_source
    from sictl.pipeline.targets import _stored_power

    started = time.perf_counter()
    source = open_model_source(cfg.model, device=cfg.device)
    if source.conditional:
        raise ConfigError(f"{cfg.model} is a forecasting (point-source) model, not a generative one",
                          hint="check forecasting models with `gaussian-check --point-source`")
    drift = source.build(None)
    if not isinstance(drift.base, FourierNoise):
        raise ConfigError(f"{cfg.model} was trained on vectors; the per-mode check needs a field model",
                          hint="train on a Gaussian field dataset (sictl prepare gaussian-field)")
    power, checksum = _stored_power(cfg.spectrum)
    grid = tuple(drift.base.power.shape)
    if tuple(power.shape) != grid:
        raise ConfigError(f"the model was trained on a {'×'.join(map(str, grid))} grid, but {cfg.spectrum} stores a "
                          f"{'×'.join(map(str, power.shape))} spectrum",
                          hint="give the Gaussian dataset at the model's resolution (the one it was trained on)")
    scale = float(read_dataset(cfg.spectrum).meta.normalization.constant) / source.normalization_constant
    target_power = power * scale**2  # the file's units → the model's
    config = read_run_checkpoint(cfg.model).config
    lo = max(float(config["objective"]["t_min"]), cfg.t_min, 1e-6)
    hi = min(float(config["objective"]["t_max"]), cfg.t_max, 1 - 1e-6)
    if not lo < hi:
        raise ConfigError(f"--t-min/--t-max [{cfg.t_min}, {cfg.t_max}] leave nothing of the model's training window",
                          hint=f"the model was trained on t in [{config['objective']['t_min']}, {config['objective']['t_max']}]")
    times = time_grid("logsnr", cfg.model_times - 1, lo, hi, drift.schedule)
    errors = drift_mode_errors(drift.velocity, drift.schedule, target_power, drift.base.power, times,
                               samples=cfg.model_samples, generator=torch.Generator().manual_seed(cfg.seed),
                               dtype=drift.dtype, device=cfg.device)
    n, dim = grid[0], len(grid)
    summary = {
        "target": {"kind": "spectrum", "path": str(cfg.spectrum), "n": n, "dim": dim, "base": source.info["base"].get("description")},
        "model": {"path": str(cfg.model), **{k: source.info.get(k) for k in ("weights", "target", "preset", "training_schedule")}},
        "model_check": {**errors.as_dict(), "grid": "log-SNR of the training schedule",
                        "inputs": "x_t = α z + β x1 from the exact marginal (z: the model's base, x1: the Gaussian)"},
        "config": asdict(cfg),
        "inputs": {"spectrum": checksum, "model": source.checksum},
    }
    arrays = {"model_check/times": errors.times.numpy(), "model_check/relative_error": errors.relative_error.numpy(),
              "model_check/gain": errors.gain.numpy(), "model_check/target_error": errors.target_error.numpy(),
              "model_check/total_relative_error": errors.total.numpy()}
    if cfg.plot is not None:
        from sictl.pipeline.model_plots import mode_error_figure

        mode_error_figure(cfg.plot, errors.times, errors.shells, errors.relative_error, errors.target_error,
                          f"{cfg.model} against the exact Gaussian drift")
        summary["plot"] = cfg.plot
    summary["wall_time_s"] = time.perf_counter() - started
    return summary, arrays
