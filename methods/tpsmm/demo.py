"""The official demo's per-frame animation loop (``demo.make_animation``), on motionbench tensors.

It re-runs the inpainting network's source encoder and the dense motion network's downsampling for every
driving frame and processes one frame at a time, as the official code does. It is the reference the fast
path (:meth:`TPSMMAnimator.animate`) is tested and benchmarked against; use ``animate`` for real work.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, List, Optional

import torch
from torch import Tensor

from motionbench.methods.fomm.normalize import movement_scale

if TYPE_CHECKING:  # pragma: no cover
    from .animator import TPSMMAnimator

__all__ = ["make_animation"]


def make_animation(model: "TPSMMAnimator", source: Tensor, driving: Tensor, mode: str = "relative",
                   frame_times: Optional[List[float]] = None) -> Tensor:
    """Per-frame loop for one source (1×3×H×W) and one clip (T×3×H×W) → T×3×H×W predictions.

    ``mode`` is ``absolute`` (official "standard"), ``relative`` or ``avd``; ``frame_times`` (a list) receives
    the wall time of each frame's iteration (for benchmarks).
    """
    with torch.no_grad():
        kp_source = model.kp_detector(source)
        kp_initial = model.kp_detector(driving[:1])
        scale = movement_scale(kp_source["fg_kp"], kp_initial["fg_kp"]) if mode == "relative" else None
        predictions = []
        for frame_idx in range(driving.shape[0]):
            t0 = time.perf_counter()
            kp_driving = model.kp_detector(driving[frame_idx:frame_idx + 1])
            kp_norm = model.animated_keypoints(kp_source, kp_driving, mode, kp_initial, scale)
            motion = model.dense_motion_network(source, kp_norm, kp_source, bg_param=None)
            predictions.append(model.inpainting_network(source, motion)["prediction"])
            if frame_times is not None:
                frame_times.append(time.perf_counter() - t0)
    return torch.cat(predictions)
