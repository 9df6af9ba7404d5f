"""Helpers the benchmark scripts share: smooth random inputs, a matmul peak, FLOP counts, process memory.

Imported by the scripts in this folder (which is on ``sys.path`` when a script runs).
"""
from __future__ import annotations

import resource
import time
from typing import Callable, Mapping, Optional, Tuple

import torch
from torch.utils.flop_counter import FlopCounterMode


def inputs(frames: int, size: int = 256, seed: int = 1) -> Tuple[torch.Tensor, torch.Tensor]:
    """Smooth random images (low-frequency noise) in [0, 1]: a 1×3×S×S source and ``frames`` driving frames."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(frames + 1, 3, max(size // 16, 2), max(size // 16, 2), generator=g)
    imgs = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    return imgs[:1], imgs[1:]


def matmul_peak(n: int = 2048, reps: int = 5) -> float:
    """Best-of-``reps`` GFLOP/s of an n×n fp32 matmul."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def count_gflop(fn: Callable[[], object], custom_mapping: Optional[Mapping] = None) -> float:
    """GFLOP of one call of ``fn`` (``torch.utils.flop_counter``: convolutions and matmuls, plus
    ``custom_mapping`` for operators it does not count)."""
    with FlopCounterMode(display=False, custom_mapping=dict(custom_mapping or {})) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def _proc_status_mib(field: str) -> Optional[float]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """Peak RSS of this process image: VmHWM (ru_maxrss would report the forking parent's RSS after exec)."""
    value = _proc_status_mib("VmHWM")
    return value if value is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """Current RSS of this process (VmRSS)."""
    value = _proc_status_mib("VmRSS")
    if value is None:
        raise RuntimeError("no VmRSS in /proc/self/status")
    return value
