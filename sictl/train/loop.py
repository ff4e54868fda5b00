"""The training loop: one optimiser step per global batch, logging, validation and checkpoint calls.

:class:`Trainer` owns the network, its EMA, the optimiser and the LR schedule. It is fed by a
``rows(start, stop)`` function that returns the samples at global positions ``[start, stop)`` of
the data order (:class:`sictl.train.data.BufferedSource.rows`); it never touches a file. The
pipeline passes callbacks that write the log line and the checkpoints.

Step k (0-based) of a run on W processes with global batch B:

1. rank r reads the samples at positions ``[kB + rB/W, kB + (r+1)B/W)``;
2. the times and base noises of the whole global batch are drawn from ``SeedSequence([seed, 1, k])``
   and rank r keeps its slice (:meth:`Objective.step_draws`);
3. loss = mean over the rank's samples of the summed squared error; DDP averages the gradients over
   the ranks, which gives the gradient of the global-batch mean (equal shares);
4. gradient-norm clipping, AdamW, LR schedule, EMA update.

Losses stay on the device and are reduced over the ranks and checked for NaN/inf when a log line
is written (every ``log_every`` steps, and at every validation and checkpoint step), so a
non-finite loss stops the run before it can reach a checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from sictl.errors import ConvergenceError
from sictl.train.data import rank_slice
from sictl.train.distributed import DistInfo, all_reduce_mean, wrap_ddp
from sictl.train.objectives import Objective
from sictl.train.optim import make_ema, make_optimizer, make_scheduler
from sictl.train.state import capture_state, restore_state

__all__ = ["SMOOTHING", "LoopOptions", "Trainer"]

#: Weight of the past in the smoothed ("EMA") training loss of the log and the progress bar.
SMOOTHING = 0.98


@dataclass(frozen=True)
class LoopOptions:
    """The loop's settings (all validated by the pipeline).

    Attributes:
        steps: optimiser steps in total.
        batch_size: global batch B (divisible by the number of processes).
        lr, warmup, lr_final: peak learning rate, linear warm-up steps, final/peak ratio of the cosine.
        weight_decay: AdamW weight decay.
        clip: gradient-norm clipping threshold (0 = no clipping).
        ema: EMA decay (with warm-up, :func:`sictl.train.optim.ema_decay`).
        log_every, checkpoint_every, val_every: intervals in steps (val_every 0 = no validation).
        precision: ``"fp32"`` or ``"bf16"`` (autocast on CUDA).
        seed: the run's seed.
    """

    steps: int
    batch_size: int
    lr: float = 2e-4
    warmup: int = 100
    lr_final: float = 0.0
    weight_decay: float = 0.01
    clip: float = 1e4
    ema: float = 0.999
    log_every: int = 10
    checkpoint_every: int = 1000
    val_every: int = 0
    precision: str = "fp32"
    seed: int = 0


class Trainer:
    """Network, EMA, optimiser and schedule, stepped on the global data order.

    Args:
        model: the network, already on ``device``.
        objective: what it learns (:class:`~sictl.train.objectives.Objective`).
        opts: :class:`LoopOptions`.
        rows: ``rows(start, stop)`` → float32 array ``(stop − start, *sample)`` of the samples at
            those global positions.
        info: this process's place among the ranks.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:i"``.
        val: validation data ``(n, *sample)`` float32 (CPU), or None.
        inject_nan_at: test hook: multiply the loss of this step (1-based) by NaN.
    """

    def __init__(self, model: nn.Module, objective: Objective, opts: LoopOptions, rows: Callable[[int, int], np.ndarray],
                 info: DistInfo, device: str, *, val: Tensor | None = None, inject_nan_at: int | None = None):
        self.model, self.objective, self.opts, self.rows = model, objective, opts, rows
        self.info, self.device, self.inject_nan_at = info, device, inject_nan_at
        self.slice = rank_slice(opts.batch_size, info.rank, info.world)
        self.ema = make_ema(model, opts.ema)
        self.net = wrap_ddp(model, info, device)
        self.opt = make_optimizer(model, opts.lr, opts.weight_decay)
        self.sched = make_scheduler(self.opt, opts.warmup, opts.steps, opts.lr_final)
        self.amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if opts.precision == "bf16" else nullcontext
        self.step = 0
        self.pending: list[Tensor] = []
        self.grad_norm: Tensor | None = None
        self.lr_used = opts.lr
        self.progress = {"ema_loss_sum": 0.0, "ema_loss_weight": 0.0, "best_loss": None, "best_loss_step": None,
                         "best_val_loss": None, "best_val_step": None, "last": None}
        self._val = None
        if val is not None:
            t, z = objective.validation_draws(opts.seed, len(val))
            part = np.array_split(np.arange(len(val)), info.world)[info.rank]
            self._val = (t[part], z[part], val[part])
        self._clock = (time.perf_counter(), 0)

    # ------------------------------------------------------------------------------------- state

    def weights(self) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """(raw weights, EMA weights) as state dicts of the network (same keys)."""
        return self.model.state_dict(), self.ema.module.state_dict()

    def capture(self) -> tuple[dict[str, Tensor], dict]:
        """The full resume state (:func:`sictl.train.state.capture_state`)."""
        return capture_state(self.model, self.ema, self.opt, self.sched, self.step, dict(self.progress))

    def restore(self, tensors: dict[str, Tensor], meta: dict) -> None:
        """Continue from a captured state."""
        self.step, progress = restore_state(tensors, meta, self.model, self.ema, self.opt, self.sched)
        self.progress.update(progress)
        self.pending.clear()
        self._clock = (time.perf_counter(), self.step)

    @property
    def ema_loss(self) -> float | None:
        w = self.progress["ema_loss_weight"]
        return self.progress["ema_loss_sum"] / w if w > 0 else None

    # -------------------------------------------------------------------------------------- loop

    def train_step(self) -> None:
        """One optimiser step on global batch ``self.step``."""
        k, b = self.step, self.opts.batch_size
        x1 = torch.from_numpy(np.ascontiguousarray(self.rows(k * b + self.slice.start, k * b + self.slice.stop)))
        x1 = x1.to(self.device, non_blocking=True)
        t, z = self.objective.step_draws(self.opts.seed, k, b)
        t, z = t[self.slice], z[self.slice].to(self.device, non_blocking=True)
        self.net.train()
        loss = self.objective.per_sample_loss(self.net, t, z, x1, autocast=self.amp).mean()
        if self.inject_nan_at == k + 1:
            loss = loss * float("nan")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        clip = self.opts.clip if self.opts.clip > 0 else math.inf
        self.grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.lr_used = self.opt.param_groups[0]["lr"]
        self.opt.step()
        self.sched.step()
        self.ema.update_parameters(self.model)
        self.step += 1
        self.pending.append(loss.detach())

    @torch.no_grad()
    def validate(self) -> tuple[float, float]:
        """(validation loss of the EMA weights, of the raw weights) on the fixed validation draws."""
        t, z, x1 = self._val
        sums = torch.zeros(3, dtype=torch.float64, device=self.device)
        for net, slot in ((self.ema.module, 0), (self.model, 1)):
            net.eval()
            for s in range(0, len(x1), self.opts.batch_size):
                sl = slice(s, s + self.opts.batch_size)
                per = self.objective.per_sample_loss(net, t[sl], z[sl].to(self.device), x1[sl].to(self.device),
                                                     autocast=self.amp)
                sums[slot] += per.double().sum()
        sums[2] = len(x1)
        if self.info.active:
            import torch.distributed as dist

            dist.all_reduce(sums, op=dist.ReduceOp.SUM)
        self.model.train()
        return float(sums[0] / sums[2]), float(sums[1] / sums[2])

    def flush(self, with_val: bool) -> dict:
        """The log record of the steps since the last one; raises on a non-finite loss.

        Raises:
            ConvergenceError: a loss was NaN or inf (the step is named).
        """
        first = self.step - len(self.pending) + 1
        values = all_reduce_mean(torch.stack(self.pending).float(), self.info).tolist() if self.pending else []
        self.pending.clear()
        for i, value in enumerate(values):
            if not math.isfinite(value):
                raise ConvergenceError(
                    f"the training loss is {value} at step {first + i}; stopped before writing a checkpoint",
                    hint="the last checkpoint in the run folder is intact: lower --lr, set --clip, or check the "
                         "data and schedule, then continue with --resume (or start over with --force)")
            p = self.progress
            p["ema_loss_sum"] = SMOOTHING * p["ema_loss_sum"] + (1 - SMOOTHING) * value
            p["ema_loss_weight"] = SMOOTHING * p["ema_loss_weight"] + (1 - SMOOTHING)
        now = time.perf_counter()
        elapsed, steps = now - self._clock[0], self.step - self._clock[1]
        self._clock = (now, self.step)
        loss = float(np.mean(values)) if values else None
        record = {"step": self.step, "loss": loss, "ema_loss": self.ema_loss, "lr": self.lr_used,
                  "grad_norm": None if self.grad_norm is None else float(self.grad_norm),
                  "samples_per_s": steps * self.opts.batch_size / elapsed if elapsed > 0 and steps else None}
        p = self.progress
        if loss is not None and (p["best_loss"] is None or loss < p["best_loss"]):
            p["best_loss"], p["best_loss_step"] = loss, self.step
        if with_val:
            val, val_raw = self.validate()
            if not (math.isfinite(val) and math.isfinite(val_raw)):
                raise ConvergenceError(f"the validation loss is {val} (EMA) / {val_raw} (raw) at step {self.step}",
                                       hint="the weights diverged; lower --lr or set --clip, then --resume")
            record.update(val_loss=val, val_loss_raw=val_raw)
            if p["best_val_loss"] is None or val < p["best_val_loss"]:
                p["best_val_loss"], p["best_val_step"] = val, self.step
        p["last"] = record
        return record

    def run(self, *, on_log: Callable[[dict], None], on_checkpoint: Callable[[Trainer], None],
            on_step: Callable[[Trainer], None] | None = None) -> None:
        """Step until ``opts.steps``: log lines, validation and checkpoints at their intervals and at the end."""
        o = self.opts
        while self.step < o.steps:
            self.train_step()
            s = self.step
            due_val = self._val is not None and o.val_every > 0 and (s % o.val_every == 0 or s == o.steps)
            due_ckpt = s % o.checkpoint_every == 0 or s == o.steps
            if due_val or due_ckpt or s % o.log_every == 0:
                on_log(self.flush(due_val))
            if due_ckpt:
                on_checkpoint(self)
            if on_step is not None:
                on_step(self)
