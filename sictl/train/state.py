"""Training state as flat named tensors plus a JSON skeleton (what a safetensors file can hold).

:func:`capture_state` turns model, EMA, optimizer, LR scheduler, step, progress figures and RNG
states into ``(tensors, meta)``: ``tensors`` maps names to tensors, ``meta`` is JSON (numbers,
strings, lists, dicts). :func:`restore_state` puts them back. Floats in ``meta`` round-trip
exactly (JSON writes ``repr``), tensors bit for bit, so a resumed run continues exactly.

Tensor names: ``model.<param>``, ``ema.<AveragedModel key>`` (``ema.n_averaged`` included),
``optim.<param index>.<state key>`` (AdamW's ``step``, ``exp_avg``, ``exp_avg_sq``),
``rng.torch`` (CPU generator state) and ``rng.cuda.<i>`` (CUDA generator states).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["StateMismatch", "capture_state", "restore_state"]


class StateMismatch(ValueError):
    """The stored state does not fit the model or optimizer being restored."""


def _prefixed(prefix: str, sd: dict[str, Tensor]) -> dict[str, Tensor]:
    return {f"{prefix}{k}": v for k, v in sd.items()}


def _strip(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def capture_state(model: nn.Module, ema: nn.Module, optimizer: torch.optim.Optimizer, scheduler,
                  step: int, progress: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Everything a resumed run needs.

    Args:
        model: the raw network (not the DDP wrapper).
        ema: its :class:`~torch.optim.swa_utils.AveragedModel`.
        optimizer, scheduler: the AdamW optimizer and its LambdaLR.
        step: optimiser steps taken.
        progress: JSON-able figures of the loop (smoothed loss, best losses, ...).

    Returns:
        ``(tensors, meta)``.
    """
    tensors = {**_prefixed("model.", model.state_dict()), **_prefixed("ema.", ema.state_dict())}
    osd = optimizer.state_dict()
    keys: dict[str, list[str]] = {}
    for index, entry in osd["state"].items():
        keys[str(index)] = sorted(entry)
        for name, value in entry.items():
            if not isinstance(value, Tensor):
                raise StateMismatch(f"optimizer state {index}.{name} is not a tensor ({type(value).__name__})")
            tensors[f"optim.{index}.{name}"] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in osd["param_groups"]]
    tensors["rng.torch"] = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    for i, s in enumerate(cuda_states):
        tensors[f"rng.cuda.{i}"] = s
    meta = {"step": int(step), "optimizer": {"param_groups": groups, "state_keys": keys},
            "scheduler": scheduler.state_dict(), "progress": progress, "cuda_rng_states": len(cuda_states)}
    return tensors, meta


def restore_state(tensors: dict[str, Tensor], meta: dict[str, Any], model: nn.Module, ema: nn.Module,
                  optimizer: torch.optim.Optimizer, scheduler) -> tuple[int, dict[str, Any]]:
    """Load what :func:`capture_state` returned into freshly built objects.

    Returns:
        ``(step, progress)``.

    Raises:
        StateMismatch: missing or unexpected tensors (another architecture), or a corrupt skeleton.
    """
    try:
        model.load_state_dict(_strip("model.", tensors), strict=True)
        ema.load_state_dict(_strip("ema.", tensors), strict=True)
        device = next(model.parameters()).device
        state = {}
        for index, names in meta["optimizer"]["state_keys"].items():
            state[int(index)] = {n: tensors[f"optim.{index}.{n}"].to(device) if n != "step"
                                 else tensors[f"optim.{index}.{n}"] for n in names}
        groups = [dict(g) for g in meta["optimizer"]["param_groups"]]
        for g in groups:
            if isinstance(g.get("betas"), list):
                g["betas"] = tuple(g["betas"])
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        scheduler.load_state_dict(meta["scheduler"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise StateMismatch(str(exc).splitlines()[0][:300]) from None
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        n = min(int(meta.get("cuda_rng_states", 0)), torch.cuda.device_count())
        for i in range(n):
            torch.cuda.set_rng_state(tensors[f"rng.cuda.{i}"], i)
    return int(meta["step"]), dict(meta.get("progress", {}))
