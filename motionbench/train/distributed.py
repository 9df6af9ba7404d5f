"""Multi-process training under ``torchrun`` (DDP semantics, gloo on CPU / nccl on GPU).

A method's training step is two calls (generator_losses, discriminator_losses), not one ``forward``, so
instead of wrapping it in DistributedDataParallel the trainer applies DDP's two synchronisations
explicitly: parameters and buffers are broadcast from rank 0 at start, gradients are all-reduced
(averaged) after every backward, and buffers (BatchNorm statistics) are broadcast from rank 0 after
every step — exactly what DistributedDataParallel does with its default ``broadcast_buffers=True``.
"""
from __future__ import annotations

import os
from typing import Iterable

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistContext", "init_distributed"]


class DistContext:
    def __init__(self, rank: int = 0, world_size: int = 1) -> None:
        self.rank, self.world_size = rank, world_size

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def broadcast_module(self, module: nn.Module) -> None:
        if self.enabled:
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, src=0)

    def broadcast_buffers(self, module: nn.Module) -> None:
        if self.enabled:
            for b in module.buffers():
                dist.broadcast(b.data, src=0)

    def all_reduce_grads(self, params: Iterable[nn.Parameter]) -> None:
        if not self.enabled:
            return
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(self.world_size)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


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
