"""ResNet-style blocks of IMF's dense feature encoder E_F and frame decoder D_F (supplementary Fig. 1).

Basic residual blocks (He et al. 2016: conv3×3-BN-ReLU-conv3×3-BN + shortcut, ReLU after the sum) that
down-sample (stride-2 first conv, 1×1 stride-2 projection shortcut), up-sample (nearest ×2 first) or keep
the resolution (identity shortcut).
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DownConvResBlock", "UpConvResBlock", "FeatResBlock"]


def _conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(out_ch))


class DownConvResBlock(nn.Module):
    """Residual block halving the resolution: conv3×3/2-BN-ReLU-conv3×3-BN + (conv1×1/2-BN) shortcut."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = _conv_bn(in_channels, out_channels, 3, stride=2)
        self.conv2 = _conv_bn(out_channels, out_channels, 3)
        self.shortcut = _conv_bn(in_channels, out_channels, 1, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))) + self.shortcut(x))


class UpConvResBlock(nn.Module):
    """Residual block doubling the resolution: nearest ×2, then conv3×3-BN-ReLU-conv3×3-BN + (conv1×1-BN)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = _conv_bn(in_channels, out_channels, 3)
        self.conv2 = _conv_bn(out_channels, out_channels, 3)
        self.shortcut = _conv_bn(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.relu(self.conv2(F.relu(self.conv1(x))) + self.shortcut(x))


class FeatResBlock(nn.Module):
    """Residual block at constant resolution and width (identity shortcut)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _conv_bn(channels, channels, 3)
        self.conv2 = _conv_bn(channels, channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)
