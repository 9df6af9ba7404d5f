"""The official demo's per-frame animation loop (``demo.make_animation``), on motionbench tensors.

It re-runs the generator's source encoder for every driving frame and processes one frame at a time, as
the official code does. It is the reference the fast path (:meth:`FOMMAnimator.animate`) is tested and
benchmarked against; use ``animate`` for real work.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, List, Optional

import torch
from torch import Tensor

from .normalize import normalize_kp

if TYPE_CHECKING:  # pragma: no cover
    from .animator import FOMMAnimator

__all__ = ["make_animation", "per_frame_loop"]


def per_frame_loop(driving: Tensor, detect: Callable[[Tensor], Any], render: Callable[[Any], Tensor],
                   frame_times: Optional[List[float]] = None) -> Tensor:
    """The official demos' loop over a T×3×H×W clip, one frame (batch 1) at a time: ``render(detect(frame))``
    gives each 1×3×H×W prediction; ``frame_times`` (a list) receives each iteration's wall time."""
    predictions = []
    for frame_idx in range(driving.shape[0]):
        t0 = time.perf_counter()
        predictions.append(render(detect(driving[frame_idx:frame_idx + 1])))
        if frame_times is not None:
            frame_times.append(time.perf_counter() - t0)
    return torch.cat(predictions)


def make_animation(model: "FOMMAnimator", source: Tensor, driving: Tensor, relative: bool = True,
                   adapt_movement_scale: bool = True, driving_ref: Optional[Tensor] = None,
                   frame_times: Optional[List[float]] = None) -> Tensor:
    """Per-frame loop for one source (1×3×H×W) and one clip (T×3×H×W) → T×3×H×W predictions.

    ``frame_times`` (a list) receives the wall time of each frame's iteration (for benchmarks).
    """
    with torch.no_grad():
        kp_source = model.kp_detector(source)
        kp_driving_initial = model.kp_detector(driving[:1] if driving_ref is None else driving_ref)

        def render(kp_driving):
            kp_norm = normalize_kp(kp_source=kp_source, kp_driving=kp_driving, kp_driving_initial=kp_driving_initial,
                                   use_relative_movement=relative, use_relative_jacobian=relative,
                                   adapt_movement_scale=adapt_movement_scale)
            return model.generator(source, kp_source=kp_source, kp_driving=kp_norm)["prediction"]

        return per_frame_loop(driving, model.kp_detector, render, frame_times)
