"""Sharded evaluation under ``torchrun``: each rank animates and scores a share of every protocol's jobs,
rank 0 gathers the raw results and aggregates them exactly as one process would.

    torchrun --nproc_per_node=4 -m motionbench method=fomm dataset=taichi

Each protocol's jobs (same-identity videos, cross-identity pairs) are split into contiguous blocks, one per
rank (rank r takes jobs ``[r·n/W, (r+1)·n/W)``). Every rank runs :func:`~motionbench.eval.runner.collect_protocol`
on its block; rank 0 gathers the per-frame metric series and the set metrics' accumulated state (FID / KID
Inception features: :meth:`~motionbench.eval.runner.Collected.payload`) and merges them in rank order, which is
the single-process job order (:meth:`~motionbench.eval.runner.Collected.merge`). The
runner's aggregation (:func:`~motionbench.eval.runner.summarise_protocol`) then runs unchanged on rank 0, so the
numbers equal a one-process run's (tested with 2 gloo processes); rank 0 alone writes ``results.json`` and
the leaderboard row. The gathers use gloo (CPU tensors), also on GPU machines and across nodes.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Dict, List, Optional, Sequence, Tuple, TypeVar

import numpy as np
import torch

from ..core.animator import Animator
from ..core.distributed import DistContext, init_distributed
from ..data.base import VideoDataset
from ..metrics.base import Metric
from .runner import (BenchmarkOptions, Collected, ProtocolResult, collect_protocol, plan_jobs, run_benchmark,
                     summarise_protocol)

__all__ = ["eval_context", "shard", "run_benchmark_sharded"]

T = TypeVar("T")


def eval_context(device: torch.device) -> Tuple[DistContext, torch.device]:
    """Under torchrun (WORLD_SIZE > 1): join the process group (gloo) and use this rank's GPU
    (``LOCAL_RANK``) when ``device`` is CUDA. Otherwise a single-process context and ``device`` unchanged."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return DistContext(), device
    ctx = init_distributed("gloo")
    if device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    return ctx, device


def shard(jobs: Sequence[T], rank: int, world_size: int) -> List[T]:
    """Rank ``rank``'s contiguous block of ``jobs`` (sizes differ by at most one)."""
    n = len(jobs)
    return list(jobs[rank * n // world_size:(rank + 1) * n // world_size])


def run_benchmark_sharded(model: Animator, dataset: VideoDataset, metrics: Sequence[Metric], opts: BenchmarkOptions,
                          device: torch.device, ctx: DistContext) -> Optional[Dict[str, ProtocolResult]]:
    """:func:`~motionbench.eval.runner.run_benchmark` over ``ctx.world_size`` processes: the results on rank 0,
    None on the other ranks. In a single process it is ``run_benchmark`` itself.

    ``animate_seconds`` of a result is summed over the ranks (animation time per process)."""
    if not ctx.enabled:
        return run_benchmark(model, dataset, metrics, opts, device)
    import torch.distributed as dist

    model = model.to(device).eval()
    plan, opts = plan_jobs(model, dataset, opts)
    mine = replace(opts, progress=opts.progress and ctx.is_main)
    out: Dict[str, ProtocolResult] = {}
    for key, (protocol, mode, jobs) in plan.items():
        torch.manual_seed(opts.seed)
        np.random.seed(opts.seed)
        part = collect_protocol(model, dataset, metrics, mine, protocol, mode, shard(jobs, ctx.rank, ctx.world_size),
                                device)
        gathered: Optional[List[Any]] = [None] * ctx.world_size if ctx.is_main else None
        dist.gather_object(part.payload(metrics), gathered, dst=0)
        if ctx.is_main:
            out[key] = summarise_protocol(Collected.merge(gathered, metrics, part.mode), protocol, opts)
    return out if ctx.is_main else None
