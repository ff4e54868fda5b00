"""Which samples a training step sees: a deterministic, resumable, rank-independent data order.

The order is a pure function of ``(seed, epoch, global position)``, so an interrupted run resumed at
step k, or a run split over W processes, sees exactly the samples an uninterrupted single-process
run sees:

* the dataset's n flattened samples are cut into **blocks** of ``block`` consecutive samples (whole
  contiguous reads from the file);
* epoch e permutes the block order with a generator seeded by ``SeedSequence([seed, ORDER, e])``
  and groups the permuted blocks into **buffers** of ``buffer_blocks`` blocks (what fits the memory
  budget); the samples of buffer g are shuffled by ``SeedSequence([seed, ORDER, e, g])``. A dataset
  that fits the budget is one buffer: a uniform permutation of all samples every epoch;
* the epochs are concatenated into one infinite sequence of global positions; global step k takes
  positions ``[k·B, (k+1)·B)`` and rank r of W takes the contiguous slice ``[r·B/W, (r+1)·B/W)``
  of it (:func:`rank_slice`).

:class:`BufferedSource` holds one buffer in memory at a time and reads it through a caller-supplied
``read(start, stop)`` (the pipeline passes an :mod:`sictl.io` reader), so this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["DRAWS", "ORDER", "VALIDATION", "BufferedSource", "DataOrder", "numpy_generator", "rank_slice", "seed_generator"]

#: Stream tags of :func:`seed_generator`: data order, per-step draws (t, z), validation draws.
ORDER, DRAWS, VALIDATION = 0, 1, 2


def _entropy(seed: int, keys: tuple[int, ...]) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed) & (2**63 - 1), *(int(k) for k in keys)])


def numpy_generator(seed: int, *keys: int) -> np.random.Generator:
    """A numpy generator seeded by ``SeedSequence([seed, *keys])``."""
    return np.random.Generator(np.random.PCG64(_entropy(seed, keys)))


def seed_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU torch generator seeded by ``SeedSequence([seed, *keys])`` (64 bits of its state)."""
    state = _entropy(seed, keys).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def rank_slice(batch: int, rank: int, world: int) -> slice:
    """Rank ``rank``'s part ``[r·B/W, (r+1)·B/W)`` of a global batch of ``batch`` (B divisible by W)."""
    if batch % world:
        raise ValueError(f"global batch {batch} is not divisible by {world} processes")
    per = batch // world
    return slice(rank * per, (rank + 1) * per)


class DataOrder:
    """The global sample order (see the module docstring).

    Args:
        n_samples: n, the number of flattened samples in the dataset.
        block: samples per contiguous block (≥ 1).
        buffer_blocks: blocks per shuffle buffer (≥ 1).
        seed: the run's seed.
    """

    def __init__(self, n_samples: int, block: int, buffer_blocks: int, seed: int):
        if n_samples < 1 or block < 1 or buffer_blocks < 1:
            raise ValueError(f"need n_samples, block, buffer_blocks ≥ 1, got {n_samples}, {block}, {buffer_blocks}")
        self.n, self.block, self.buffer_blocks, self.seed = int(n_samples), int(block), int(buffer_blocks), int(seed)
        self.n_blocks = -(-self.n // self.block)
        self._cache: tuple[int, list[np.ndarray]] | None = None

    def describe(self) -> dict:
        return {"n_samples": self.n, "block": self.block, "buffer_blocks": self.buffer_blocks,
                "buffers_per_epoch": -(-self.n_blocks // self.buffer_blocks)}

    def buffers(self, epoch: int) -> list[np.ndarray]:
        """The sample indices of each buffer of ``epoch`` in visiting order: a list of int64 arrays
        whose concatenation is a permutation of ``0..n-1``."""
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        blocks = numpy_generator(self.seed, ORDER, epoch).permutation(self.n_blocks)
        out = []
        for g, first in enumerate(range(0, self.n_blocks, self.buffer_blocks)):
            chosen = blocks[first : first + self.buffer_blocks]
            idx = np.concatenate([np.arange(b * self.block, min((b + 1) * self.block, self.n)) for b in chosen])
            out.append(idx[numpy_generator(self.seed, ORDER, epoch, g).permutation(len(idx))])
        self._cache = (epoch, out)
        return out

    def locate(self, position: int) -> tuple[int, int, int]:
        """(epoch, buffer, offset within the buffer) of a global position."""
        epoch, within = divmod(int(position), self.n)
        for g, idx in enumerate(self.buffers(epoch)):
            if within < len(idx):
                return epoch, g, within
            within -= len(idx)
        raise AssertionError("unreachable")

    def indices(self, start: int, stop: int) -> list[tuple[tuple[int, int], np.ndarray]]:
        """Sample indices at global positions ``[start, stop)``, grouped by buffer:
        ``[((epoch, buffer), indices), ...]`` in order."""
        groups: list[tuple[tuple[int, int], np.ndarray]] = []
        pos = int(start)
        while pos < stop:
            epoch, g, offset = self.locate(pos)
            idx = self.buffers(epoch)[g]
            take = min(stop - pos, len(idx) - offset)
            groups.append(((epoch, g), idx[offset : offset + take]))
            pos += take
        return groups


class BufferedSource:
    """Rows of the dataset in :class:`DataOrder`, one shuffle buffer in memory at a time.

    Args:
        order: the data order.
        read: ``read(start, stop)`` → float32 array ``(stop − start, *sample)`` of consecutive
            flattened samples (contiguous reads only).
        transform: applied to every array read (e.g. dropping a grid's end node), or None.
    """

    def __init__(self, order: DataOrder, read: Callable[[int, int], np.ndarray],
                 transform: Callable[[np.ndarray], np.ndarray] | None = None):
        self.order, self.read, self.transform = order, read, transform
        self._key: tuple[int, int] | None = None
        self._sorted: np.ndarray | None = None
        self._rows: np.ndarray | None = None

    def _load(self, key: tuple[int, int]) -> None:
        if key == self._key:
            return
        idx = np.sort(self.order.buffers(key[0])[key[1]])
        if self._sorted is not None and np.array_equal(idx, self._sorted):  # same samples (one buffer per epoch)
            self._key = key
            return
        self._rows = self._sorted = None  # free the old buffer before reading the new one
        parts, run_start = [], 0
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1  # contiguous runs of indices
        for run_stop in [*breaks.tolist(), len(idx)]:
            part = self.read(int(idx[run_start]), int(idx[run_stop - 1]) + 1)
            parts.append(part if self.transform is None else self.transform(part))
            run_start = run_stop
        self._rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
        self._sorted, self._key = idx, key

    def rows(self, start: int, stop: int) -> np.ndarray:
        """The samples at global positions ``[start, stop)``: float32 ``(stop − start, *sample)``."""
        out = []
        for key, idx in self.order.indices(start, stop):
            self._load(key)
            out.append(self._rows[np.searchsorted(self._sorted, idx)])
        return out[0] if len(out) == 1 else np.concatenate(out)
