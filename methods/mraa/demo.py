"""The official demo's per-frame animation loop (``demo.make_animation``), on motionbench tensors.

It re-runs the generator's source encoder and the flow predictor's downsampling for every driving frame and
processes one frame at a time, as the official code does. It is the reference the fast path
(:meth:`MRAAAnimator.animate`) is tested and benchmarked against; use ``animate`` for real work.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, List, Optional

import torch
from torch import Tensor

from motionbench.methods.fomm.normalize import movement_scale

if TYPE_CHECKING:  # pragma: no cover
    from .animator import MRAAAnimator

__all__ = ["make_animation"]


def make_animation(model: "MRAAAnimator", source: Tensor, driving: Tensor, mode: str = "relative",
                   frame_times: Optional[List[float]] = None) -> Tensor:
    """Per-frame loop for one source (1×3×H×W) and one clip (T×3×H×W) → T×3×H×W predictions.

    ``mode`` is ``absolute`` (official "standard"), ``relative`` or ``avd``; ``frame_times`` (a list) receives
    the wall time of each frame's iteration (for benchmarks).
    """
    with torch.no_grad():
        source_regions = model.region_predictor(source)
        initial = model.region_predictor(driving[:1])
        scale = movement_scale(source_regions["shift"], initial["shift"]) if mode == "relative" else None
        predictions = []
        for frame_idx in range(driving.shape[0]):
            t0 = time.perf_counter()
            regions = model.region_predictor(driving[frame_idx:frame_idx + 1])
            new = model.animated_regions(source_regions, regions, mode, initial, scale)
            predictions.append(model.generator(source, new, source_regions)["prediction"])
            if frame_times is not None:
                frame_times.append(time.perf_counter() - t0)
    return torch.cat(predictions)
