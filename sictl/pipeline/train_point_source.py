"""`sictl train --point-source zero|state`: the forecasting model of arXiv 2403.13724 (docs/train.md).

The data are the dataset's forecasting pairs (``sictl prepare … --lag K``: ``/pairs/x0``, ``/pairs/x1``),
read through :class:`sictl.io.PairRows`; the network is the preset with the current state as extra
input channel(s); the objective is :class:`sictl.train.point_source.PointSourceObjective` under a
point-source schedule (``--schedule`` a family of
:data:`~sictl.core.interpolants.point_source.POINT_SOURCE_FAMILIES`, ``linear`` = ``lin-beta``) with
σ = c s(t), c = ``--sigma-scale``. ξ is ``white`` (pixel-wise N(0, I)), ``white:σ0`` (N(0, σ0² I)) or
``spectral`` (the dataset's stored per-mode power). Everything else (order, checkpoints, resume, DDP)
is the unconditional pipeline's (:mod:`sictl.pipeline.train`).

The checkpoint metadata holds ``point_source`` = {source, family, c, weighted_loss, cond_channels, xi,
lag}, from which :func:`point_source_schedule` and :func:`point_source_noise` rebuild the sampler.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from sictl.core.interpolants.point_source import POINT_SOURCE_FAMILIES, PointSource
from sictl.core.sampling.noise import FourierNoise, WhiteNoise
from sictl.errors import ConfigError, SchemaError
from sictl.train.data import BufferedSource, DataOrder
from sictl.train.point_source import PointSourceObjective

__all__ = ["point_source_noise", "point_source_schedule", "point_source_setup"]


def _family(spec: str) -> str:
    family = "lin-beta" if spec == "linear" else spec
    if family not in POINT_SOURCE_FAMILIES:
        raise ConfigError(f"--schedule {spec}: --point-source takes a point-source schedule",
                          hint=f"choose one of {', '.join(POINT_SOURCE_FAMILIES)} (σ's scale is --sigma-scale)")
    return family


def _xi(cfg, ds, shape) -> tuple[object, dict, dict]:
    """(law of ξ, aux tensors, description)."""
    from sictl.pipeline.train import _base

    name, _, arg = cfg.base.partition(":")
    if name == "white":
        std = float(arg) if arg else 1.0
        if not (std > 0 and np.isfinite(std)):
            raise ConfigError(f"--base white:σ0 needs σ0 > 0, got {arg}", hint="e.g. --base white:1")
        return WhiteNoise(std), {}, {"spec": cfg.base, "law": "white", "std": std}
    if name != "spectral":
        raise ConfigError(f"--base {cfg.base}: ξ of a point-source model is white, white:σ0 or spectral",
                          hint="e.g. --base white (pixel-wise N(0, I))")
    law, aux, info, _ = _base(cfg, ds, shape)
    return law, aux, info


def point_source_setup(cfg):
    """The :class:`sictl.pipeline.train._Setup` of a point-source run (bad input fails here, before any write)."""
    from sictl.io import PairRows, description_checksum, file_checksum
    from sictl.pipeline.train import _dataset, _model, _Setup

    ds, rows, field = _dataset(cfg)
    rows.close()
    if ds.meta.vector:
        raise ConfigError(f"--point-source: {cfg.data} holds vectors; forecasting models take fields",
                          hint="prepare a field dataset with --lag")
    if ds.n_pairs < 1:
        raise ConfigError(f"--point-source: {cfg.data} stores no forecasting pairs",
                          hint="re-run `sictl prepare … --lag K` (e.g. `sictl prepare ou-pairs --lag 1`)")
    reader = PairRows(cfg.data)
    nodes = ds.meta.attrs.get("fft_nodes")
    stored = tuple(ds.meta.sample_shape)
    shape = (1, *stored) if nodes is None else (1, *stored[:-1], int(nodes))
    crop = None if nodes is None else (lambda a, n=int(nodes): np.ascontiguousarray(a[..., :n]))
    family = _family(cfg.schedule)
    sched = PointSource(family, float(cfg.sigma_scale))
    xi, aux, xi_info = _xi(cfg, ds, shape)
    model, model_info = _model(cfg, shape, cond_channels=shape[0])
    pair_bytes, budget = 8 * int(np.prod(stored)), int(cfg.memory_budget * (1 << 20))
    block = max(1, min(1 << 20, budget // 16) // pair_bytes)
    order = DataOrder(ds.n_pairs, block, max(1, budget // (2 * block * pair_bytes)), cfg.seed)
    source = BufferedSource(order, reader.read, crop)
    val, val_info = None, None
    if cfg.val is not None:
        val, val_info = _validation(cfg, stored, crop)
    described = {"family": family, "params": {"c": float(cfg.sigma_scale)}}
    c = ds.meta.normalization
    config = {
        "sample_shape": list(shape), "target": "velocity", "model": model_info, "base": xi_info,
        "schedule": {"spec": cfg.schedule, "source": "point-source", "family": family, "params": described["params"],
                     "checksum": description_checksum(described), "table": None, "description": described,
                     "variance_preserving": False},
        "point_source": {"source": cfg.point_source, "family": family, "c": float(cfg.sigma_scale),
                         "weighted_loss": bool(cfg.weighted_loss), "cond_channels": shape[0], "xi": xi_info,
                         "lag": ds.meta.pairs_lag, "n_pairs": ds.n_pairs},
        "objective": {"t_min": cfg.t_min, "t_max": cfg.t_max, "network_output": "b(t, x, cond = current state)",
                      "loss": "squared error summed over channels and pixels, mean over the batch"
                              + (", residual × (1 − t)" if cfg.weighted_loss else "")},
        "data": {"path": str(cfg.data), "checksum": file_checksum(cfg.data), "field": field or ds.meta.field_names[0],
                 "dataset_name": ds.meta.dataset_name, "source": ds.meta.source, "stored_shape": list(stored),
                 "fft_nodes": nodes, "n_samples": ds.n_pairs, "n_trajectories": ds.n_trajectories, "vector": False,
                 "boundary": ds.meta.boundary, "normalization": {"scheme": c.scheme, "constant": c.constant},
                 "order": order.describe(), "pairs": True},
        "validation": val_info, "weights": {"raw": "", "ema": "ema.", "aux": "aux."},
        "options": asdict(cfg), "seed": cfg.seed,
    }
    objective = PointSourceObjective("velocity", sched, xi, shape, cfg.t_min, cfg.t_max,
                                     source=cfg.point_source, weighted=bool(cfg.weighted_loss))
    return _Setup(objective, model, aux, config, source.rows, val, reader)


def _validation(cfg, stored, crop):
    from sictl.io import PairRows, file_checksum, read_dataset

    vd = read_dataset(cfg.val)
    if tuple(vd.meta.sample_shape) != stored or vd.n_pairs < 1:
        raise ConfigError(f"--val {cfg.val}: needs forecasting pairs of shape {stored}",
                          hint="use the held-out part of the same dataset, prepared with the same --lag")
    rows = PairRows(cfg.val)
    n = min(cfg.val_n, rows.n_samples)
    x = rows.read_indices(np.unique(np.linspace(0, rows.n_samples - 1, n).round().astype(np.int64)))
    rows.close()
    x = crop(x) if crop is not None else x
    return torch.from_numpy(np.ascontiguousarray(x)), {"path": str(cfg.val), "checksum": file_checksum(cfg.val),
                                                        "n": len(x), "every": cfg.val_every or cfg.checkpoint_every}


def point_source_schedule(config: dict) -> PointSource:
    """The point-source schedule of a checkpoint's metadata."""
    ps = config.get("point_source")
    if not ps:
        raise SchemaError("the checkpoint is not a point-source model", hint="train one with --point-source")
    return PointSource(ps["family"], float(ps["c"]))


def point_source_noise(config: dict, aux: dict):
    """The law of ξ (and of the SDE increments) of a point-source checkpoint."""
    xi = config["point_source"]["xi"]
    if xi["law"] == "white":
        return WhiteNoise(float(xi.get("std", 1.0)))
    return FourierNoise(aux["base_power"].to(torch.float64))
