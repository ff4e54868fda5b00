"""`design-schedule --model RUN --data FILE`: a learned drift's A2 profile → a design target.

The run's network (its EMA weights), its training schedule and base noise are opened as a drift
source (:func:`sictl.pipeline.drift_sources.open_model_source`); ``--data`` gives the data draws x1
(a seeded subset of its rows, rescaled to the model's units when the file is normalised differently);
:func:`sictl.models.jacobian.drift_profile` estimates G(β) = E‖∇f‖₂² at the β matched to a log-SNR grid
of the model's own training window; :class:`sictl.core.exact.tabulated.TabulatedTarget` designs the
schedule from it. When the data file stores a per-mode spectrum, the closed-form profile of the
Gaussian with that spectrum over the model's base is reported beside the estimate.
"""

from __future__ import annotations

import numpy as np
import torch

from sictl.core.exact.tabulated import TabulatedProfile, TabulatedTarget
from sictl.core.sampling.grids import time_grid
from sictl.errors import ConfigError

__all__ = ["check_model_options", "model_target"]


def check_model_options(cfg) -> None:
    """``--model`` needs ``--data`` (the draws x1) and takes no other target; the sizes are sane."""
    if cfg.model is None:
        return
    others = [flag for flag, given in (("--ratio", bool(cfg.ratios)), ("--matern", cfg.matern is not None),
                                        ("--spectrum", cfg.spectrum is not None), ("--gmm", cfg.gmm is not None),
                                        ("--gmm-file", cfg.gmm_file is not None),
                                        ("--field-mixture", cfg.field_mixture is not None)) if given]
    if others:
        raise ConfigError(f"--model is the target; it does not combine with {', '.join(others)}",
                          hint="drop the other target option, or drop --model to design for that target")
    if cfg.data is None:
        raise ConfigError("--model needs --data FILE: the data draws the drift's Jacobian is averaged over",
                          hint="give the dataset the model was trained on, e.g. --model runs/grf --data grf.h5")
    if cfg.grid_for is not None:
        raise ConfigError("--grid-for designs grids on exact targets; a learned drift has no exact error to minimise",
                          hint="design the schedule with --model, then a grid for its Gaussian or mixture counterpart")
    if cfg.base != "white":
        raise ConfigError(f"--base {cfg.base}: a model brings the base noise it was trained with",
                          hint="drop --base with --model")
    if cfg.profile_times < 4:
        raise ConfigError(f"--profile-times must be ≥ 4, got {cfg.profile_times}", hint="the default is 33")
    if cfg.jacobian_samples < 2:
        raise ConfigError(f"--jacobian-samples must be ≥ 2, got {cfg.jacobian_samples}",
                          hint="the standard error needs at least 2 draws; the default is 128")
    if cfg.power_iterations < 1 or cfg.probes < 1:
        raise ConfigError(f"--power-iterations and --probes must be ≥ 1, got {cfg.power_iterations}, {cfg.probes}",
                          hint="the defaults are 20 and 4")


def _draws(path: str, field: str | None, rows: int, seed: int, shape: tuple[int, ...], model_c: float):
    """(``rows`` rows of the dataset chosen at random (seeded), in the model's units; the dataset)."""
    from sictl.io import read_dataset

    ds = read_dataset(path)
    if tuple(ds.batch_shape) != tuple(shape):
        raise ConfigError(f"the model was trained on samples of shape {tuple(shape)}, but {path} holds {tuple(ds.batch_shape)}",
                          hint="give the dataset at the model's resolution (the one it was trained on)")
    field = field if field in ds.meta.field_names else None
    n = ds.n_samples
    want = min(rows, n)
    pick = np.sort(np.random.default_rng(seed).choice(n, size=want, replace=False))
    out, start = [], 0
    for block in ds.iter_batches(field, batch_size=4096):
        stop = start + block.shape[0]
        sel = pick[(pick >= start) & (pick < stop)] - start
        if sel.size:
            out.append(block[sel])
        start = stop
        if start > pick[-1]:
            break
    x1 = np.concatenate(out).astype(np.float64)
    data_c = float(ds.meta.normalization.constant)
    return x1 * (data_c / model_c), ds


def model_target(cfg, progress=None) -> tuple[TabulatedTarget, dict]:
    """The tabulated target of ``cfg.model`` over ``cfg.data``, and the summary's ``profile`` entry."""
    from sictl.core.exact.design import gaussian_profile
    from sictl.core.sampling.noise import FourierNoise
    from sictl.models.jacobian import drift_profile, fourier_projector
    from sictl.pipeline.drift_sources import open_model_source

    source = open_model_source(cfg.model, weights=cfg.weights)
    if source.conditional:
        raise ConfigError(f"{cfg.model} is a forecasting (point-source) model: its drift starts from a state, not a base",
                          hint="design schedules from generative models trained without --point-source")
    drift = source.build(None)
    from sictl.io import read_run_checkpoint

    config = read_run_checkpoint(cfg.model).config
    t_lo, t_hi = float(config["objective"]["t_min"]), float(config["objective"]["t_max"])
    x1_np, ds = _draws(cfg.data, config["data"].get("field"), cfg.jacobian_samples, cfg.seed, source.sample_shape,
                       source.normalization_constant)
    x1 = torch.from_numpy(x1_np).to(drift.dtype)
    gen = torch.Generator().manual_seed(cfg.seed)
    z = drift.sample_base(tuple(x1.shape), generator=gen, like=x1).to(x1.dtype)
    lo, hi = max(t_lo, 1e-6), min(t_hi, 1 - 1e-6)  # the ends themselves: β = 0 or α = 0, no Jacobian to match
    times = time_grid("logsnr", cfg.profile_times - 1, lo, hi, drift.schedule)
    fourier = isinstance(drift.base, FourierNoise)
    project = fourier_projector(drift.base.power > 0) if fourier else None
    prof = drift_profile(drift.differentiable_velocity, drift.schedule, times, x1, z, width=cfg.probes,
                         iterations=cfg.power_iterations, seed=cfg.seed, project=project, progress=progress)
    keep = torch.cat([torch.ones(1, dtype=torch.bool), torch.diff(prof.beta) > 0])  # β may saturate at 1
    table = TabulatedProfile(prof.beta[keep], prof.g[keep], prof.kinetic[keep], prof.g_max[keep])
    info = {"model": str(cfg.model), "data": str(cfg.data), "weights": cfg.weights,
            "training_schedule": source.info.get("training_schedule"), "model_window": [t_lo, t_hi],
            "data_matches_training": bool(source.info.get("data_checksum") == _checksum(cfg.data))}
    target = TabulatedTarget(table, info, source.checksum)
    profile = prof.as_dict()
    profile["g_relative_se"] = (prof.g_se / prof.g.clamp_min(1e-300)).tolist()
    power = getattr(getattr(ds, "stats", None), "mode_power", None)
    if fourier and power is not None and tuple(power.shape) == tuple(drift.base.power.shape):
        base_power = drift.base.power
        valid = (base_power > 0) & (torch.as_tensor(power, dtype=torch.float64) > 0)
        ratios = torch.as_tensor(power, dtype=torch.float64)[valid] / base_power[valid]
        ref = gaussian_profile(ratios)(prof.beta)
        profile["gaussian_reference"] = {
            "g": ref.tolist(),
            "sqrt_relative_error": ((prof.g / ref).sqrt() - 1).tolist(),
            "note": "closed-form G of the Gaussian with the data's stored spectrum over the model's base",
        }
    profile["method"] = {"norm": "spectral (power iteration on (∇f)ᵀ∇f by torch.func.jvp/vjp)",
                         "frobenius": "Hutchinson, Rademacher probes", "iterations": cfg.power_iterations,
                         "grid": "log-SNR of the training schedule", "same_draws_at_every_time": True}
    return target, profile


def _checksum(path: str) -> str | None:
    from sictl.io import file_checksum

    return file_checksum(path) if str(path) != "-" else None
