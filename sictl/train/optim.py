"""Optimiser pieces: AdamW, the learning-rate schedule (linear warm-up, cosine decay) and the EMA.

The EMA is :class:`torch.optim.swa_utils.AveragedModel` with a warmed-up exponential average:
after n updates the decay is ``min(decay, (1 + n)/(10 + n))``, so early averages are not dominated
by the random initialisation (the warm-up of TensorFlow's ExponentialMovingAverage with
``num_updates``). ``decay = 0`` keeps the EMA equal to the raw weights.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from torch.optim.swa_utils import AveragedModel

__all__ = ["ema_decay", "lr_factor", "make_ema", "make_optimizer", "make_scheduler"]


def lr_factor(step: int, warmup: int, total: int, final: float = 0.0) -> float:
    """Multiplier of the base learning rate for optimiser step ``step`` (0-based).

    Linear warm-up ``(step + 1)/warmup`` over the first ``warmup`` steps, then a cosine decay from 1
    to ``final`` at step ``total``: ``final + (1 − final)·½(1 + cos(π (step − warmup)/(total − warmup)))``.
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(total - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


class _Factor:
    """Picklable LR lambda (LambdaLR stores the __dict__ of callable objects in its state)."""

    def __init__(self, warmup: int, total: int, final: float):
        self.warmup, self.total, self.final = int(warmup), int(total), float(final)

    def __call__(self, step: int) -> float:
        return lr_factor(step, self.warmup, self.total, self.final)


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW over every parameter (the authors' optimiser), with the multi-tensor (foreach) update on
    every device (on the CPU too, where it is several times faster for small networks)."""
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)


def make_scheduler(optimizer: torch.optim.Optimizer, warmup: int, total: int, final: float = 0.0) -> LambdaLR:
    """:class:`LambdaLR` with :func:`lr_factor`; call ``step()`` once per optimiser step."""
    return LambdaLR(optimizer, _Factor(warmup, total, final))


def ema_decay(decay: float, n_averaged: int) -> float:
    """Decay used for the update after ``n_averaged`` updates: ``min(decay, (1 + n)/(10 + n))``."""
    return min(float(decay), (1.0 + n_averaged) / (10.0 + n_averaged))


def make_ema(model: nn.Module, decay: float) -> AveragedModel:
    """An EMA copy of ``model`` (parameters and buffers); ``update_parameters(model)`` after each step.

    The first update copies the weights; update n + 1 sets ``ema ← d·ema + (1 − d)·w`` with
    ``d = ema_decay(decay, n)``, done with ``torch._foreach_lerp_`` as
    :func:`torch.optim.swa_utils.get_ema_multi_avg_fn` does.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"EMA decay must be in [0, 1), got {decay}")

    @torch.no_grad()
    def update(ema_params, model_params, num_averaged):
        d = ema_decay(decay, int(num_averaged))
        if torch.is_floating_point(ema_params[0]):
            torch._foreach_lerp_(ema_params, model_params, 1.0 - d)
        else:
            for e, m in zip(ema_params, model_params, strict=True):
                e.copy_(m)

    return AveragedModel(model, multi_avg_fn=update, use_buffers=True)
