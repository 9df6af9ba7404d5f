"""IMF's encoders and frame decoder (supplementary §3.1, Fig. 1).

- :class:`DenseFeatureEncoder` (E_F): conv7×7-BN-ReLU, ``stem_downsamples`` down-sampling residual blocks
  at the stem width, then one down-sampling residual block per scale → the multi-scale appearance
  features f_r (finest first).
- :class:`LatentTokenEncoder` (E_T): StyleGAN2 ConvLayer, StyleGAN2 down-sampling ResBlocks to 4×4, a 4×4
  EqualConv2d (as LIA's encoder) and an MLP (EqualLinear + leaky ReLU) → the latent token.
- :class:`FrameDecoder` (D_F): from the coarsest aligned feature, up-sampling residual blocks; after each,
  the next finer aligned feature (refined by ``res_blocks`` FeatResBlocks) is concatenated; further
  up-sampling blocks reach the input size; conv3×3 + sigmoid.
"""
from __future__ import annotations

import math
from typing import List, Sequence

import torch
from torch import Tensor, nn

from motionbench.nn.stylegan2 import ConvLayer, EqualConv2d, EqualLinear, ResBlock

from .blocks import DownConvResBlock, FeatResBlock, UpConvResBlock

__all__ = ["DenseFeatureEncoder", "LatentTokenEncoder", "FrameDecoder"]


class DenseFeatureEncoder(nn.Module):
    """E_F: B×3×H×W in [-1, 1] → [f^0 (stride 2^(s+1)), f^1, …] with ``feature_channels`` channels."""

    def __init__(self, initial_channels: int, feature_channels: Sequence[int], stem_downsamples: int = 1) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, initial_channels, 7, padding=3, bias=False),
                                  nn.BatchNorm2d(initial_channels), nn.ReLU())
        self.stem_blocks = nn.Sequential(*[DownConvResBlock(initial_channels, initial_channels)
                                           for _ in range(stem_downsamples)])
        chans = [initial_channels, *feature_channels]
        self.scale_blocks = nn.ModuleList(DownConvResBlock(a, b) for a, b in zip(chans, chans[1:]))

    def forward(self, x: Tensor) -> List[Tensor]:
        x = self.stem_blocks(self.stem(x))
        feats = []
        for block in self.scale_blocks:
            x = block(x)
            feats.append(x)
        return feats


class LatentTokenEncoder(nn.Module):
    """E_T: B×3×S×S in [-1, 1] → B×token_dim. ``channels``: ConvLayer width, then one per ResBlock (S → 4)."""

    def __init__(self, size: int, channels: Sequence[int], token_dim: int, mlp_layers: int = 4,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        n_down = int(math.log2(size)) - 2
        if len(channels) != n_down + 1:
            raise ValueError(f"token_encoder_channels needs {n_down + 1} entries at size {size} (a ConvLayer, then "
                             f"{n_down} down-sampling ResBlocks to 4×4), got {len(channels)}: {list(channels)}")
        convs: List[nn.Module] = [ConvLayer(3, channels[0], 3)]
        convs += [ResBlock(a, b, blur_kernel) for a, b in zip(channels, channels[1:])]
        self.convs = nn.Sequential(*convs)
        width = channels[-1]
        self.final_conv = EqualConv2d(width, width, 4, padding=0)  # 4×4 → 1×1
        self.mlp = nn.Sequential(*[EqualLinear(width, width, activation="fused_lrelu") for _ in range(mlp_layers)],
                                 EqualLinear(width, token_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(self.final_conv(self.convs(x)).flatten(1))


class FrameDecoder(nn.Module):
    """D_F: per-scale features (finest first, each B×C_i×r_i×r_i) → B×3×S×S in [0, 1]."""

    def __init__(self, feature_channels: Sequence[int], initial_channels: int, stem_downsamples: int = 1,
                 res_blocks: int = 3) -> None:
        super().__init__()
        fc = list(feature_channels)
        n = len(fc)
        ups, refine = [], []
        ch = fc[-1]
        for i in range(n - 2, -1, -1):  # coarse → fine: up to scale i, concatenate its refined feature
            ups.append(UpConvResBlock(ch, fc[i + 1]))
            refine.append(nn.Sequential(*[FeatResBlock(fc[i]) for _ in range(res_blocks)]))
            ch = fc[i + 1] + fc[i]
        for out in [fc[0]] * stem_downsamples + [initial_channels]:  # scale 0 → input size
            ups.append(UpConvResBlock(ch, out))
            ch = out
        self.up_blocks = nn.ModuleList(ups)
        self.feat_blocks = nn.ModuleList(refine)
        self.final_conv = nn.Conv2d(ch, 3, 3, padding=1)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        x = feats[-1]
        for k, up in enumerate(self.up_blocks):
            x = up(x)
            if k < len(self.feat_blocks):
                x = torch.cat([x, self.feat_blocks[k](feats[-2 - k])], dim=1)
        return torch.sigmoid(self.final_conv(x))
