"""Convolutional building blocks shared by the keypoint-based methods (FOMM family).

Module and attribute names follow AliaksandrSiarohin/first-order-model (``modules/util.py``) so that
official state dicts load 1:1 (``down_blocks.0.conv.weight``, ``norm.running_mean``, ...). The official
``SynchronizedBatchNorm2d`` has the same keys and (on one device) the same maths as ``nn.BatchNorm2d``.

Coordinates are in [-1, 1] with -1 / +1 at the centres of the first / last pixel
(:func:`make_coordinate_grid`): the ``grid_sample(align_corners=True)`` convention.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["make_coordinate_grid", "kp2gaussian", "ResBlock2d", "UpBlock2d", "DownBlock2d", "SameBlock2d",
           "Encoder", "Decoder", "Hourglass", "AntiAliasInterpolation2d", "make_norm"]

IntPair = Union[int, Tuple[int, int]]


def make_norm(kind: str, features: int) -> nn.Module:
    """The blocks' normalisation: ``"batch"`` (FOMM, MRAA: BatchNorm2d) or ``"instance"`` (TPSMM:
    InstanceNorm2d(affine=True), whose state dict holds only ``weight`` and ``bias``)."""
    if kind == "batch":
        return nn.BatchNorm2d(features, affine=True)
    if kind == "instance":
        return nn.InstanceNorm2d(features, affine=True)
    raise ValueError(f"norm must be 'batch' or 'instance', got {kind!r}")


def make_coordinate_grid(spatial_size: Sequence[int], dtype: torch.dtype = torch.float32,
                         device: Optional[torch.device] = None) -> Tensor:
    """H×W×2 grid of (x, y) in [-1, 1] at pixel centres (x varies along the last axis)."""
    h, w = int(spatial_size[0]), int(spatial_size[1])
    x = torch.arange(w, device=device).to(dtype)
    y = torch.arange(h, device=device).to(dtype)
    x = 2 * (x / (w - 1)) - 1
    y = 2 * (y / (h - 1)) - 1
    yy = y.view(-1, 1).expand(h, w)
    xx = x.view(1, -1).expand(h, w)
    return torch.stack([xx, yy], dim=2)


def kp2gaussian(mean: Tensor, spatial_size: Sequence[int], kp_variance: float) -> Tensor:
    """Gaussian-like heatmaps ``exp(-|z - kp|² / (2 var))`` for keypoints ``mean`` (...×K×2) → ...×K×H×W."""
    grid = make_coordinate_grid(spatial_size, mean.dtype, mean.device)
    lead = mean.dim() - 1
    grid = grid.view((1,) * lead + tuple(grid.shape))
    mean = mean.view(tuple(mean.shape[:lead]) + (1, 1, 2))
    mean_sub = grid - mean
    return torch.exp(-0.5 * (mean_sub ** 2).sum(-1) / kp_variance)


class ResBlock2d(nn.Module):
    """Pre-activation residual block (BN-ReLU-conv ×2), keeps the resolution."""

    def __init__(self, in_features: int, kernel_size: IntPair, padding: IntPair, norm: str = "batch") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_features, in_features, kernel_size=kernel_size, padding=padding)
        self.conv2 = nn.Conv2d(in_features, in_features, kernel_size=kernel_size, padding=padding)
        self.norm1 = make_norm(norm, in_features)
        self.norm2 = make_norm(norm, in_features)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


class UpBlock2d(nn.Module):
    """Nearest ×2 upsampling, conv, BN, ReLU (hourglass decoder / generator decoder)."""

    def __init__(self, in_features: int, out_features: int, kernel_size: IntPair = 3, padding: IntPair = 1,
                 groups: int = 1, norm: str = "batch") -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding, groups=groups)
        self.norm = make_norm(norm, out_features)

    def forward(self, x: Tensor) -> Tensor:
        # one expression: the 4× larger upsampled tensor is freed right after the conv (inference memory)
        return F.relu(self.norm(self.conv(F.interpolate(x, scale_factor=2))))


class DownBlock2d(nn.Module):
    """Conv, BN, ReLU, 2×2 average pooling (hourglass encoder / generator encoder)."""

    def __init__(self, in_features: int, out_features: int, kernel_size: IntPair = 3, padding: IntPair = 1,
                 groups: int = 1, norm: str = "batch") -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding, groups=groups)
        self.norm = make_norm(norm, out_features)
        self.pool = nn.AvgPool2d(kernel_size=(2, 2))

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(F.relu(self.norm(self.conv(x))))


class SameBlock2d(nn.Module):
    """Conv, BN, ReLU at constant resolution."""

    def __init__(self, in_features: int, out_features: int, groups: int = 1, kernel_size: IntPair = 3,
                 padding: IntPair = 1, norm: str = "batch") -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding, groups=groups)
        self.norm = make_norm(norm, out_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.norm(self.conv(x)))


class Encoder(nn.Module):
    """Hourglass encoder: returns the input and every down block's output (skip connections)."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256,
                 norm: str = "batch") -> None:
        super().__init__()
        self.down_blocks = nn.ModuleList(
            DownBlock2d(in_features if i == 0 else min(max_features, block_expansion * (2 ** i)),
                        min(max_features, block_expansion * (2 ** (i + 1))), kernel_size=3, padding=1, norm=norm)
            for i in range(num_blocks))

    def forward(self, x: Tensor) -> List[Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class Decoder(nn.Module):
    """Hourglass decoder: upsample and concatenate the matching skip; output has ``out_filters`` channels.

    ``out_channels`` lists the channels of the bottleneck input and of every level's output (TPSMM reads
    every level: ``forward(skips, all_levels=True)``)."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256,
                 norm: str = "batch") -> None:
        super().__init__()
        blocks = []
        self.out_channels: List[int] = []
        for i in reversed(range(num_blocks)):
            in_filters = (1 if i == num_blocks - 1 else 2) * min(max_features, block_expansion * (2 ** (i + 1)))
            self.out_channels.append(in_filters)
            out_filters = min(max_features, block_expansion * (2 ** i))
            blocks.append(UpBlock2d(in_filters, out_filters, kernel_size=3, padding=1, norm=norm))
        self.up_blocks = nn.ModuleList(blocks)
        self.out_filters = block_expansion + in_features
        self.out_channels.append(self.out_filters)

    def forward(self, skips: List[Tensor], all_levels: bool = False) -> Union[Tensor, List[Tensor]]:
        out = skips[-1]
        outs = []
        for k, block in enumerate(self.up_blocks):
            out = torch.cat([block(out), skips[-2 - k]], dim=1)
            outs.append(out)
        return outs if all_levels else out


class Hourglass(nn.Module):
    """U-Net style hourglass (encoder + decoder with skips)."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256,
                 norm: str = "batch") -> None:
        super().__init__()
        self.encoder = Encoder(block_expansion, in_features, num_blocks, max_features, norm)
        self.decoder = Decoder(block_expansion, in_features, num_blocks, max_features, norm)
        self.out_filters = self.decoder.out_filters
        self.out_channels = self.decoder.out_channels

    def forward(self, x: Tensor, all_levels: bool = False) -> Union[Tensor, List[Tensor]]:
        """The last level's features, or (``all_levels``) every decoder level's, coarsest first."""
        return self.decoder(self.encoder(x), all_levels)


class AntiAliasInterpolation2d(nn.Module):
    """Band-limited downsampling: Gaussian blur (σ = (1/scale - 1)/2) then nearest resize by ``scale``.

    The depthwise kernel is the persistent buffer ``weight`` (it is part of official state dicts).
    """

    def __init__(self, channels: int, scale: float) -> None:
        super().__init__()
        sigma = (1 / scale - 1) / 2
        kernel_size = 2 * round(sigma * 4) + 1
        self.ka = kernel_size // 2
        self.kb = self.ka - 1 if kernel_size % 2 == 0 else self.ka
        kernel = torch.ones(())
        grids = torch.meshgrid(torch.arange(kernel_size, dtype=torch.float32),
                               torch.arange(kernel_size, dtype=torch.float32), indexing="ij")
        for grid in grids:
            mean = (kernel_size - 1) / 2
            kernel = kernel * torch.exp(-(grid - mean) ** 2 / (2 * sigma ** 2))
        kernel = kernel / torch.sum(kernel)
        kernel = kernel.view(1, 1, kernel_size, kernel_size).repeat(channels, 1, 1, 1)
        self.register_buffer("weight", kernel)
        self.groups = channels
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        if self.scale == 1.0:
            return x
        out = F.pad(x, (self.ka, self.kb, self.ka, self.kb))
        out = F.conv2d(out, weight=self.weight, groups=self.groups)
        return F.interpolate(out, scale_factor=(self.scale, self.scale))
