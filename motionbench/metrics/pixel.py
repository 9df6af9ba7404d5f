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

__all__ = ["L1", "PSNR", "SSIM", "Foreground", "to_hwc_numpy"]


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


class Foreground(FrameMetric):
    """L1 and PSNR inside the target's figure mask dilated by ``dilate`` pixels (synthetic: the renderer's mask).

    Whole-frame L1 rewards an output that erases the figure and shows only the background (most pixels are
    background); inside the figure such an output, or one that keeps the source pose, scores badly.
    ``fg_psnr`` = 10·log10(1 / MSE over the masked pixels), capped at ``max_db``. Frames whose mask is empty
    (figure off-frame) are undefined (NaN, counted).
    """

    name = "fg"
    outputs = {"fg_l1": False, "fg_psnr": True}

    def __init__(self, context=None, dilate: int = 2, threshold: float = 0.5, max_db: float = 100.0,
                 **options: Any) -> None:
        super().__init__(context, **options)
        self.dilate, self.threshold, self.max_db = int(dilate), float(threshold), float(max_db)

    def mask(self, batch: FrameBatch) -> np.ndarray:
        """N×H×W bool: the target's figure (coverage >= threshold), dilated by a (2d+1)² square."""
        import torch
        import torch.nn.functional as F

        if batch.target_mask is None:
            raise MetricError(f"fg_l1/fg_psnr need the target's figure mask; video '{batch.video}' "
                              f"({batch.protocol}) has none (only the synthetic dataset provides masks)")
        m = torch.as_tensor(np.asarray(batch.target_mask) >= self.threshold, dtype=torch.float32)[:, None]
        if self.dilate > 0:
            m = F.max_pool2d(m, 2 * self.dilate + 1, stride=1, padding=self.dilate)
        return m[:, 0].numpy() > 0.5

    def per_frame(self, batch: FrameBatch) -> Dict[str, np.ndarray]:
        gen, tgt = _pair(batch, "fg_l1")
        mask = self.mask(batch)
        diff = gen - tgt
        count = mask.reshape(len(gen), -1).sum(1) * 3.0
        with np.errstate(invalid="ignore", divide="ignore"):
            l1 = (np.abs(diff) * mask[..., None]).reshape(len(gen), -1).sum(1) / count
            mse = (diff ** 2 * mask[..., None]).reshape(len(gen), -1).sum(1) / count
            psnr = np.minimum(10.0 * np.log10(1.0 / mse), self.max_db)
        psnr[count == 0] = np.nan
        return {"fg_l1": l1, "fg_psnr": psnr}

    def settings(self) -> Dict[str, Any]:
        return {"input_range": "[0,1]", "mask": f"target figure coverage >= {self.threshold}",
                "dilate_px": self.dilate, "max_db": self.max_db, "reduction": "mean over masked pixels and channels"}
