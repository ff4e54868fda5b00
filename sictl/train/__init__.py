"""Training of drift models: objectives, EMA, resumable state and the loop (maths only, no files).

Like :mod:`sictl.core` and :mod:`sictl.models`, this package never imports :mod:`sictl.io`,
:mod:`sictl.pipeline` or :mod:`sictl.cli`; the pipeline feeds it batches and writes what it returns.

* :mod:`~sictl.train.objectives` — velocity and denoiser losses of ``x_t = α z + β x1``;
* :mod:`~sictl.train.optim` — AdamW, warm-up + cosine LR, EMA (``torch.optim.swa_utils``);
* :mod:`~sictl.train.data` — the deterministic, rank-independent data order and shuffle buffers;
* :mod:`~sictl.train.state` — the resume state as named tensors plus JSON;
* :mod:`~sictl.train.distributed` — torchrun process groups and DDP;
* :mod:`~sictl.train.loop` — :class:`~sictl.train.loop.Trainer`.
"""

from sictl.train.data import BufferedSource, DataOrder, rank_slice
from sictl.train.distributed import DistInfo, init_from_env
from sictl.train.loop import LoopOptions, Trainer
from sictl.train.objectives import TARGETS, Objective
from sictl.train.optim import ema_decay, lr_factor, make_ema, make_optimizer, make_scheduler
from sictl.train.state import StateMismatch, capture_state, restore_state

__all__ = [
    "TARGETS",
    "BufferedSource",
    "DataOrder",
    "DistInfo",
    "LoopOptions",
    "Objective",
    "StateMismatch",
    "Trainer",
    "capture_state",
    "ema_decay",
    "init_from_env",
    "lr_factor",
    "make_ema",
    "make_optimizer",
    "make_scheduler",
    "rank_slice",
    "restore_state",
]
