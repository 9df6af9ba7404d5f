"""Temporal consistency without learned weights: tOF of TecoGAN (Chu et al., "Learning Temporal Coherence via
Self-Supervision for GAN-based Video Generation", ACM TOG 39(4), 2020).

For consecutive frames t−1, t of a video, with OF the dense optical flow between two frames,

    tOF_t = mean over pixels of ‖OF(target_{t−1}, target_t) − OF(generated_{t−1}, generated_t)‖₂

i.e. how far the motion of the generated video is from the motion of the reference video, in pixels per
frame at the benchmark resolution. As in TecoGAN's ``metrics.py`` (github.com/thunil/TecoGAN): frames are
8-bit RGB turned to grey with ``cv2.cvtColor(..., COLOR_RGB2GRAY)``, the flow is OpenCV's Farnebäck
(``calcOpticalFlowFarneback(prev, next, None, 0.5, 3, 15, 3, 5, 1.2, 0)``) and the per-pixel norm is the
Euclidean norm of the flow difference. TecoGAN's script also trims every frame to a centred multiple of 32
(at least 8 pixels off each border) before all of its metrics, for its super-resolution borders; ``crop=
"tecogan"`` reproduces that (at 64² it keeps only the central 32²), the default scores the whole frame.

A generated video that stands still where the reference moves, or moves where it stands still (jitter,
flicker), scores high; one that follows the reference motion scores 0. The value of a frame belongs to the
pair (t−1, t): the first frame of every video is undefined (NaN, counted in ``n_undefined_frames``; the
default aggregate excludes frame 0 anyway). The reference is the metric target: the real frame in
same-identity reconstruction, the ground-truth render in synthetic cross-identity; without a target (real
cross-identity) the metric does not apply.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np
from torch import Tensor

from .base import FrameBatch, FrameMetric, MetricError
from .face import to_uint8_hwc

__all__ = ["TemporalOF", "farneback_flow", "tecogan_crop"]

#: cv2.calcOpticalFlowFarneback arguments after the output flow: pyr_scale, levels, winsize, iterations,
#: poly_n, poly_sigma, flags (TecoGAN's metrics.py)
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)


def farneback_flow(prev_grey: np.ndarray, next_grey: np.ndarray) -> np.ndarray:
    """H×W×2 flow (x, y) from ``prev_grey`` to ``next_grey`` (uint8 H×W), TecoGAN's Farnebäck parameters."""
    import cv2

    return cv2.calcOpticalFlowFarneback(prev_grey, next_grey, None, *FARNEBACK)


def tecogan_crop(size: int) -> Tuple[int, int]:
    """(offset, length) of TecoGAN's ``crop_8x8`` along a side of ``size`` pixels: the largest multiple of 32
    that leaves at least 16 pixels in all (8 per border), centred."""
    length = size // 32 * 32
    while length > size - 16:
        length -= 32
    if length <= 0:
        raise MetricError(f"tof: crop='tecogan' needs frames of at least 48 pixels, got {size}")
    return (size - length) // 2, length


def _grey(images: Tensor) -> list:
    import cv2

    return [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in to_uint8_hwc(images)]


class TemporalOF(FrameMetric):
    """tOF (see the module docstring); lower is better."""

    name = "tof"
    outputs = {"tof": False}
    needs_target = True

    def __init__(self, context=None, crop: str = "none", **options: Any) -> None:
        super().__init__(context, crop=crop, **options)
        if crop not in ("none", "tecogan"):
            raise MetricError(f"tof: crop must be 'none' or 'tecogan', got {crop!r}")
        self.crop = crop
        self.reset()

    def reset(self) -> None:
        #: the last frame seen: (video, frame index, generated grey, target grey)
        self._last: Optional[Tuple[str, int, np.ndarray, np.ndarray]] = None

    def _window(self, flow: np.ndarray) -> np.ndarray:
        if self.crop == "none":
            return flow
        (y, h), (x, w) = tecogan_crop(flow.shape[0]), tecogan_crop(flow.shape[1])
        return flow[y:y + h, x:x + w]

    def per_frame(self, batch: FrameBatch) -> Dict[str, np.ndarray]:
        gen, tgt = _grey(batch.generated), _grey(batch.target)
        out = np.full(len(gen), np.nan)
        last = self._last
        for i, idx in enumerate(batch.frame_indices):
            if last is not None and last[0] == batch.video and last[1] == int(idx) - 1:
                diff = self._window(farneback_flow(last[3], tgt[i]) - farneback_flow(last[2], gen[i]))
                out[i] = float(np.sqrt((diff.astype(np.float64) ** 2).sum(-1)).mean())
            last = (batch.video, int(idx), gen[i], tgt[i])
        self._last = last
        return {"tof": out}

    def settings(self) -> Dict[str, Any]:
        return {"definition": "tOF (Chu et al. 2020): mean over pixels of ||OF(target t-1, t) - OF(generated t-1, t)||_2",
                "flow": "cv2.calcOpticalFlowFarneback on 8-bit grey frames, " + ", ".join(map(str, FARNEBACK)),
                "unit": "pixels per frame at the benchmark resolution", "crop": self.crop,
                "first frame of a video": "undefined (no previous frame)"}
