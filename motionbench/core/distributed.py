"""The ``torchrun`` process context shared by the trainer (DDP) and the sharded benchmark runner: this process's
rank, the world size, a barrier, and joining / leaving the process group."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistContext", "init_distributed"]


class DistContext:
    """Rank and world size of this process (a single process: rank 0 of 1, every collective a no-op)."""

    def __init__(self, rank: int = 0, world_size: int = 1) -> None:
        self.rank, self.world_size = rank, world_size

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def broadcast_module(self, module: nn.Module) -> None:
        """Every parameter and buffer from rank 0 (start of training, end of training)."""
        if self.enabled:
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, src=0)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group once every rank is done (a barrier first). Without it, gloo's threads may
        abort the interpreter's exit ("terminate called without an active exception", exit code -6)."""
        if self.enabled and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def init_distributed(backend: str = "auto") -> DistContext:
    """Join the torchrun process group when WORLD_SIZE > 1; otherwise a single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return DistContext(dist.get_rank(), dist.get_world_size())
