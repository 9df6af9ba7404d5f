"""The marker detector: finds the synthetic puppets' reserved-colour joint markers on any image.

A cross-check of the learned puppet pose detector (:mod:`motionbench.metrics.puppet_pose`): it needs no
neural net, but it needs the markers drawn and sharp (it finds 12% of them at a blur of sigma 1 and none at
sigma 2, nor on marker-free renders), so trained models' outputs rarely give it anything to find.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.markers import MARKER_COLORS, MARKER_RADIUS
from .base import KeypointExtractor

__all__ = ["MarkerDetector"]


class MarkerDetector(KeypointExtractor):
    """Finds the coloured joint markers of synthetic puppets on any image (real renders or generated).

    Per reserved colour: pixel weight ``w = max(0, 1 - d / threshold)`` where ``d`` is the RGB distance to
    that colour (only for the nearest reserved colour), the matching pixel with the densest neighbourhood
    (box filter of the marker's size) locates the marker, and the ``w``-weighted centroid of that colour's
    pixels within ``2 r`` of it is the keypoint. Runs on the images' device. A joint is found when the weight mass there is at least ``min_mass`` × the marker's area.

    Args:
        threshold: RGB distance below which a pixel counts (markers are >= 0.49 from any body colour).
        radius: marker radius as a fraction of the image height.
        min_mass: fraction of the marker's disc area that must be matched for "found".
        colors: K×3 reserved colours (default: the synthetic dataset's palette).
    """

    name = "markers"

    def __init__(self, threshold: float = 0.3, radius: float = MARKER_RADIUS, min_mass: float = 0.15,
                 colors: Optional[Sequence[Sequence[float]]] = None) -> None:
        self.threshold = float(threshold)
        self.radius = float(radius)
        self.min_mass = float(min_mass)
        self.colors = np.asarray(MARKER_COLORS if colors is None else colors, np.float32).reshape(-1, 3)
        self.num_keypoints = len(self.colors)

    def settings(self) -> dict:
        """What changes the detections (recorded with AKD/MKR)."""
        return {"name": self.name, "threshold": self.threshold, "radius": self.radius, "min_mass": self.min_mass,
                "num_keypoints": self.num_keypoints}

    @torch.no_grad()
    def __call__(self, images: Tensor, chunk: int = 64) -> Tuple[np.ndarray, np.ndarray]:
        """N×3×H×W in [0,1] -> (keypoints N×K×2 float32 pixels, x then y, NaN where missing; found N×K bool)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"MarkerDetector expects N×3×H×W images, got shape {tuple(images.shape)}")
        kps = [np.zeros((0, self.num_keypoints, 2), np.float32)]
        found = [np.zeros((0, self.num_keypoints), bool)]
        for start in range(0, images.shape[0], chunk):
            k, f = self._detect(images[start:start + chunk].detach().float())
            kps.append(k)
            found.append(f)
        return np.concatenate(kps), np.concatenate(found)

    def _detect(self, img: Tensor) -> Tuple[np.ndarray, np.ndarray]:
        """Sparse over the matching pixels: one density map for all colours, per-colour peaks by scatter."""
        n, _, h, w = img.shape
        k, dev = self.num_keypoints, img.device
        colors = torch.from_numpy(self.colors).to(dev)  # K×3
        pix = img.permute(0, 2, 3, 1).reshape(-1, 3)  # (N·H·W)×3, channels last
        d2 = (pix.pow(2).sum(1, keepdim=True) - 2 * pix @ colors.T + colors.pow(2).sum(1)[None]).clamp_min(0)
        d2min, nearest = d2.min(1)
        score = (1.0 - d2min.sqrt() / self.threshold).clamp_min(0.0)  # only the nearest colour scores
        r = max(self.radius * h, 0.5)
        size = 2 * int(round(r)) + 1
        density = F.avg_pool2d(score.view(n, 1, h, w), size, stride=1, padding=size // 2).reshape(-1)
        idx = torch.nonzero(score > 0).squeeze(1)
        group = (idx // (h * w)) * k + nearest[idx]  # (frame, colour) of each matching pixel
        pos = idx % (h * w)
        dens = density[idx]
        best = torch.full((n * k,), -1.0, device=dev).scatter_reduce(0, group, dens, "amax")
        top = dens >= best[group]
        peak = torch.full((n * k,), h * w, dtype=torch.long, device=dev)
        peak = peak.scatter_reduce(0, group[top], pos[top], "amin")
        x, y = (pos % w).float(), (pos // w).float()
        near = (x - (peak % w)[group].float()) ** 2 + (y - (peak // w)[group].float()) ** 2 <= (2.0 * r) ** 2
        wgt = score[idx] * near
        mass = torch.zeros(n * k, device=dev).index_add_(0, group, wgt)
        sx = torch.zeros(n * k, device=dev).index_add_(0, group, wgt * x)
        sy = torch.zeros(n * k, device=dev).index_add_(0, group, wgt * y)
        safe = mass.clamp_min(1e-8)
        kp = torch.stack([sx / safe, sy / safe], -1).view(n, k, 2).cpu().numpy().astype(np.float32)
        found = (mass >= self.min_mass * np.pi * r * r).view(n, k).cpu().numpy()
        kp[~found] = np.nan
        return kp, found
