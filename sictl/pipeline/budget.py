"""Size checks before work: refuse a run whose output will not fit on the disk, or whose batch will not
fit in memory, with the numbers — before hours of computing end in a full disk or an out-of-memory.

The estimates are deliberately simple (documented in docs/reliability.md):

* ``sample``: the samples file holds n × (values per sample) float32 (so does ``--save-noise``); a batch
  of b samples holds about b × (values per sample) × (bytes of --dtype) × (the solver's drift
  evaluations per step + 4) bytes (state, stage values, noise, the float32 copy written), plus
  b × (values per sample) × 8 for the float32 base draws and output.
* ``prepare``: the raw scratch file and the final file(s) each hold trajectories × snapshots × (values
  per sample) float32, plus 2 × pairs × (values per sample) float32 for ``--lag``; the scratch file is
  removed at the end, so the peak is their sum. Its memory is bounded by fixed read budgets.

Free disk space is counted per file system (outputs on the same one add up); memory is what the
system reports available (:mod:`sictl.io.resources`). ``--no-size-check`` skips both.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Sequence

from sictl.errors import ConfigError

__all__ = ["check_disk", "check_memory", "check_sample_size", "human", "prepare_disk_needs", "sample_batch_bytes",
           "sample_disk_needs"]

OVERRIDE = "--no-size-check"


def human(n: float) -> str:
    """Bytes as a short decimal number with a unit: 1.23 GB, 456 MB, 12.3 kB."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def _folder(path: str) -> str:
    return tempfile.gettempdir() if path == "-" else os.path.dirname(os.path.abspath(path))


def sample_disk_needs(outputs: Iterable[str | None], n: int, sample_shape: Sequence[int]) -> list[tuple[str, int]]:
    """(folder, bytes) for each samples file (``-o``, ``--save-noise``) of n float32 samples."""
    size = 4 * n * math.prod(sample_shape)
    return [(_folder(p), size) for p in outputs if p is not None]


def sample_batch_bytes(batch: int, sample_shape: Sequence[int], dtype_bytes: int, nfe_per_step: int) -> int:
    """Peak memory of one batch of ``sample`` (see the module docstring)."""
    values = batch * math.prod(sample_shape)
    return values * (dtype_bytes * (nfe_per_step + 4) + 8)


def prepare_disk_needs(output: str, paths: Sequence[str], n_trajectories: int, n_times: int,
                       sample_shape: Sequence[int], lag: int | None) -> list[tuple[str, int]]:
    """(folder, bytes) of ``prepare``'s raw scratch file and its final file(s)."""
    snapshot = 4 * math.prod(sample_shape)
    fields = n_trajectories * n_times * snapshot
    pairs = 2 * n_trajectories * max(n_times - lag, 0) * snapshot if lag else 0
    return [(_folder(output), fields), (_folder(paths[0]), fields + pairs)]  # split files share a folder


def check_disk(needs: Iterable[tuple[str, int]], what: str, hint: str) -> None:
    """Refuse when the bytes to write in each file system exceed its free space.

    Raises:
        ConfigError: ``WHAT needs about X in FOLDER, which has Y free``.
    """
    from sictl.io import resources

    total: dict[object, list] = {}
    for folder, size in needs:
        key = resources.filesystem_id(folder) or folder
        entry = total.setdefault(key, [folder, 0])
        entry[1] += size
    for folder, size in total.values():
        free = resources.free_disk_bytes(folder)
        if free is not None and size > free:
            raise ConfigError(f"{what} needs about {human(size)} in {folder}, which has {human(free)} free",
                              hint=f"{hint}, or pass {OVERRIDE} to try anyway")


def check_memory(size: int, what: str, hint: str, *, device: str = "cpu") -> None:
    """Refuse when ``size`` bytes exceed the memory available (the GPU's free memory for ``cuda``).

    Raises:
        ConfigError: ``WHAT needs about X of memory; Y is available``.
    """
    available = None
    if str(device).startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            available = int(torch.cuda.mem_get_info(torch.device(device))[0])
    else:
        from sictl.io import resources

        available = resources.available_memory_bytes()
    if available is not None and size > available:
        where = "GPU memory" if str(device).startswith("cuda") else "memory"
        raise ConfigError(f"{what} needs about {human(size)} of {where}; {human(available)} is available",
                          hint=f"{hint}, or pass {OVERRIDE} to try anyway")


def check_sample_size(cfg, sample_shape: Sequence[int], nfe_per_step: int, output: str) -> None:
    """``sample``'s checks: the samples file(s) on the disk, one batch in memory (see the module docstring)."""
    shape = tuple(int(s) for s in sample_shape)
    check_disk(sample_disk_needs((output, cfg.save_noise), cfg.n, shape),
               f"sample --n {cfg.n} (samples of shape {shape}, float32)",
               "lower --n or write to another disk (-o)")
    batch = min(cfg.batch_size, cfg.n)
    size = sample_batch_bytes(batch, shape, 8 if cfg.dtype == "float64" else 4, nfe_per_step)
    check_memory(size, f"a batch of {batch} samples of shape {shape} ({cfg.dtype}, solver {cfg.solver})",
                 "lower --batch-size (it does not change the samples)", device=cfg.device)

