"""torch.distributed for ``torchrun``: process-group set-up from the environment, DDP, reductions.

``torchrun --nproc_per_node N $(which sictl) train …`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_from_env` then joins the group with
the ``gloo`` backend on CPU and ``nccl`` on CUDA (each rank on ``cuda:LOCAL_RANK``). Without those
variables it returns a single-process :class:`DistInfo` and nothing is initialised. Only rank 0
writes files (:attr:`DistInfo.is_main`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["DistInfo", "all_reduce_mean", "barrier", "broadcast_object", "gather_to_main", "init_from_env", "shutdown",
           "wrap_ddp"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world`` processes, ``local_rank`` on its node."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def launched_by_torchrun() -> bool:
    """Whether the process was started by torchrun (``WORLD_SIZE`` and ``RANK`` are set)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def init_from_env(device: str) -> tuple[DistInfo, str]:
    """Join the torchrun process group (if any) and pick this rank's device.

    Args:
        device: ``"cpu"`` or ``"cuda"``.

    Returns:
        ``(info, device)`` with device ``"cpu"`` or ``"cuda:<local_rank>"``.
    """
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return DistInfo(), device
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank, world, local, backend), device


def wrap_ddp(model: nn.Module, info: DistInfo, device: str) -> nn.Module:
    """``DistributedDataParallel(model)`` when several processes run, else ``model`` itself."""
    if not info.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(device).index] if device.startswith("cuda") else None
    return DistributedDataParallel(model, device_ids=ids)


def all_reduce_mean(x: Tensor, info: DistInfo) -> Tensor:
    """Mean of ``x`` over the ranks (``x`` itself with one process); returns a new tensor."""
    if not info.active:
        return x.clone()
    y = x.detach().clone()
    dist.all_reduce(y, op=dist.ReduceOp.SUM)
    return y / info.world


def broadcast_object(obj, info: DistInfo):
    """Rank 0's ``obj`` on every rank."""
    if not info.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_to_main(obj, info: DistInfo) -> list | None:
    """Every rank's ``obj``, in rank order, on rank 0 (``[obj]`` with one process; None elsewhere)."""
    if not info.active:
        return [obj]
    box = [None] * info.world if info.is_main else None
    dist.gather_object(obj, box, dst=0)
    return box


def barrier(info: DistInfo) -> None:
    if info.active:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Leave the process group (safe to call after an error)."""
    if info.active and dist.is_initialized():
        dist.destroy_process_group()
