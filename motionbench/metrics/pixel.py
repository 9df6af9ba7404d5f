"""Pixel metrics against the target frame: L1, PSNR, SSIM (per frame).

PSNR and SSIM come from :mod:`skimage.metrics` (not hand-written) so their numbers are the library's.
Every image is float in [0, 1]; ``data_range=1``.
"""
from __future__ import annotations

import math
from typing import Any, Dict

import numpy as np
from torch import Tensor

from .base import FrameBatch, FrameMetric, MetricError

__all__ = ["L1", "PSNR", "SSIM", "to_hwc_numpy"]


def to_hwc_numpy(images: Tensor) -> np.ndarray:
    """N×3×H×W tensor in [0, 1] -> N×H×W×3 float64 numpy array (clipped to [0, 1])."""
    arr = images.detach().to("cpu").double().clamp(0.0, 1.0).numpy()
    return np.ascontiguousarray(arr.transpose(0, 2, 3, 1))


def _pair(batch: FrameBatch, name: str) -> "tuple[np.ndarray, np.ndarray]":
    if batch.target is None:
        raise MetricError(f"{name} needs a target frame; video '{batch.video}' ({batch.protocol}) has none")
    if batch.generated.shape != batch.target.shape:
        raise MetricError(f"{name}: generated {tuple(batch.generated.shape)} and target {tuple(batch.target.shape)} "
                          f"differ in shape (video '{batch.video}')")
    return to_hwc_numpy(batch.generated), to_hwc_numpy(batch.target)


class L1(FrameMetric):
    """Mean absolute difference over pixels and channels, images in [0, 1] (FOMM/LIA reconstruction L1)."""

    name = "l1"
    outputs = {"l1": False}

    def per_frame(self, batch: FrameBatch) -> Dict[str, np.ndarray]:
        gen, tgt = _pair(batch, self.name)
        return {"l1": np.abs(gen - tgt).reshape(len(gen), -1).mean(axis=1)}

    def settings(self) -> Dict[str, Any]:
        return {"input_range": "[0,1]", "reduction": "mean over pixels and channels"}


class PSNR(FrameMetric):
    """``skimage.metrics.peak_signal_noise_ratio(target, generated, data_range=1)`` per frame, in dB.

    Identical frames have infinite PSNR; it is capped at ``max_db`` (default 100 dB) so means stay finite.
    """

    name = "psnr"
    outputs = {"psnr": True}

    def __init__(self, context=None, max_db: float = 100.0, **options: Any) -> None:
        super().__init__(context, **options)
        self.max_db = float(max_db)

    def per_frame(self, batch: FrameBatch) -> Dict[str, np.ndarray]:
        from skimage.metrics import peak_signal_noise_ratio

        gen, tgt = _pair(batch, self.name)
        out = np.empty(len(gen))
        for i in range(len(gen)):
            if np.array_equal(gen[i], tgt[i]):
                out[i] = self.max_db  # skimage would divide by zero (inf + warning)
            else:
                out[i] = min(float(peak_signal_noise_ratio(tgt[i], gen[i], data_range=1.0)), self.max_db)
        return {"psnr": out}

    def settings(self) -> Dict[str, Any]:
        return {"input_range": "[0,1]", "data_range": 1.0, "max_db": self.max_db,
                "implementation": "skimage.metrics.peak_signal_noise_ratio"}


class SSIM(FrameMetric):
    """``skimage.metrics.structural_similarity(target, generated, data_range=1, channel_axis=-1)`` per frame.

    skimage defaults: 7×7 uniform window, K1=0.01, K2=0.03, mean over channels. ``gaussian_weights=True``
    (11×11, σ=1.5, as in Wang et al. 2004) is selectable.
    """

    name = "ssim"
    outputs = {"ssim": True}

    def __init__(self, context=None, gaussian_weights: bool = False, win_size: int | None = None, **options: Any) -> None:
        super().__init__(context, **options)
        self.gaussian_weights = bool(gaussian_weights)
        self.win_size = None if win_size is None else int(win_size)

    def per_frame(self, batch: FrameBatch) -> Dict[str, np.ndarray]:
        from skimage.metrics import structural_similarity

        gen, tgt = _pair(batch, self.name)
        kw: Dict[str, Any] = {"data_range": 1.0, "channel_axis": -1, "gaussian_weights": self.gaussian_weights}
        if self.gaussian_weights:
            kw.update(sigma=1.5, use_sample_covariance=False)
        if self.win_size is not None:
            kw["win_size"] = self.win_size
        out = np.empty(len(gen))
        for i in range(len(gen)):
            if min(gen[i].shape[:2]) < (self.win_size or (11 if self.gaussian_weights else 7)):
                out[i] = math.nan  # too small for the window: undefined, reported as such
                continue
            out[i] = float(structural_similarity(tgt[i], gen[i], **kw))
        return {"ssim": out}

    def settings(self) -> Dict[str, Any]:
        return {"input_range": "[0,1]", "data_range": 1.0, "gaussian_weights": self.gaussian_weights,
                "win_size": self.win_size or (11 if self.gaussian_weights else 7),
                "implementation": "skimage.metrics.structural_similarity(channel_axis=-1)"}
