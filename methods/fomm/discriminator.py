"""FOMM multi-scale patch discriminator (Pix2Pix-like), optional keypoint heatmap input and spectral norm.

State dict equals the official ``modules/discriminator.py``: ``discs.<scale>.down_blocks.<i>.conv.*``
(``weight_orig`` / ``weight_u`` / ``weight_v`` with ``sn: true``, as ``torch.nn.utils.spectral_norm`` writes
them), ``norm.weight`` / ``norm.bias`` (affine InstanceNorm) and ``discs.<scale>.conv.*``. Scale keys are
``str(scale)`` with '.' → '-' ("1", "0-5").
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motionbench.nn.blocks import kp2gaussian

__all__ = ["DiscDownBlock2d", "Discriminator", "MultiScaleDiscriminator", "scale_key"]


def scale_key(scale: float) -> str:
    """Official module key of a pyramid scale (``str(scale).replace('.', '-')``)."""
    return str(scale).replace(".", "-")


class DiscDownBlock2d(nn.Module):
    """Conv (4×4, no padding), optional InstanceNorm, LeakyReLU(0.2), optional 2×2 average pooling."""

    def __init__(self, in_features: int, out_features: int, norm: bool = False, kernel_size: int = 4,
                 pool: bool = False, sn: bool = False) -> None:
        super().__init__()
        conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size)
        self.conv = nn.utils.spectral_norm(conv) if sn else conv
        self.norm = nn.InstanceNorm2d(out_features, affine=True) if norm else None
        self.pool = pool

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        if self.norm is not None:
            out = self.norm(out)
        out = F.leaky_relu(out, 0.2)
        if self.pool:
            out = F.avg_pool2d(out, (2, 2))
        return out


class Discriminator(nn.Module):
    """One scale: returns (feature maps of every block, 1-channel logit map)."""

    def __init__(self, num_channels: int = 3, block_expansion: int = 64, num_blocks: int = 4, max_features: int = 512,
                 sn: bool = False, use_kp: bool = False, num_kp: int = 10, kp_variance: float = 0.01,
                 **_: object) -> None:
        super().__init__()
        self.down_blocks = nn.ModuleList(
            DiscDownBlock2d(num_channels + num_kp * use_kp if i == 0 else min(max_features, block_expansion * (2 ** i)),
                            min(max_features, block_expansion * (2 ** (i + 1))),
                            norm=(i != 0), kernel_size=4, pool=(i != num_blocks - 1), sn=sn)
            for i in range(num_blocks))
        conv = nn.Conv2d(min(max_features, block_expansion * (2 ** num_blocks)), out_channels=1, kernel_size=1)
        self.conv = nn.utils.spectral_norm(conv) if sn else conv
        self.use_kp = use_kp
        self.kp_variance = kp_variance

    def forward(self, x: Tensor, kp: Optional[Dict[str, Tensor]] = None) -> Tuple[List[Tensor], Tensor]:
        out = x
        if self.use_kp:
            if kp is None:
                raise ValueError("this discriminator uses keypoint heatmaps (use_kp: true): pass kp")
            out = torch.cat([out, kp2gaussian(kp["value"], x.shape[2:], self.kp_variance)], dim=1)
        feature_maps = []
        for block in self.down_blocks:
            out = block(out)
            feature_maps.append(out)
        return feature_maps, self.conv(out)


class MultiScaleDiscriminator(nn.Module):
    """One :class:`Discriminator` per pyramid scale; input and output dicts keyed like the official code."""

    def __init__(self, scales: Sequence[float] = (), **kwargs: object) -> None:
        super().__init__()
        self.scales = list(scales)
        self.discs = nn.ModuleDict({scale_key(s): Discriminator(**kwargs) for s in self.scales})

    def forward(self, x: Dict[str, Tensor], kp: Optional[Dict[str, Tensor]] = None) -> Dict[str, object]:
        """``x['prediction_<scale>']`` → ``feature_maps_<scale>`` (list) and ``prediction_map_<scale>``."""
        out: Dict[str, object] = {}
        for key, disc in self.discs.items():
            scale = key.replace("-", ".")
            feature_maps, prediction_map = disc(x["prediction_" + scale], kp)
            out["feature_maps_" + scale] = feature_maps
            out["prediction_map_" + scale] = prediction_map
        return out
