"""LIA's encoder: StyleGAN2 residual down-sampling network → latent ``wa`` + multi-scale skip features,
and the (linear) motion MLP mapping a latent to the motion magnitudes α.

Names follow the official ``networks/encoder.py`` (wyhsirius/LIA), so ``enc.*`` keys load unchanged.
``channel_max`` (default None = official table) caps the channel table for small presets.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

from torch import Tensor, nn

from motionbench.nn.stylegan2 import ConvLayer, EqualConv2d, EqualLinear, ResBlock, stylegan2_channels

__all__ = ["EncoderApp", "Encoder"]


class EncoderApp(nn.Module):
    """Appearance encoder: 1×1 ConvLayer, ResBlocks down to 4×4, 4×4 conv to a ``w_dim`` vector."""

    def __init__(self, size: int, w_dim: int = 512, channel_max: Optional[int] = None) -> None:
        super().__init__()
        channels = stylegan2_channels(1, channel_max)  # the official encoder ignores channel_multiplier
        self.w_dim = w_dim
        log_size = int(math.log(size, 2))
        self.convs = nn.ModuleList([ConvLayer(3, channels[size], 1)])
        in_channel = channels[size]
        for i in range(log_size, 2, -1):
            out_channel = channels[2 ** (i - 1)]
            self.convs.append(ResBlock(in_channel, out_channel))
            in_channel = out_channel
        self.convs.append(EqualConv2d(in_channel, self.w_dim, 4, padding=0, bias=False))

    def forward(self, x: Tensor, return_feats: bool = True) -> Tuple[Tensor, Optional[List[Tensor]]]:
        """Return (latent B×w_dim, skip features coarse→fine from 8×8 to full size, or None)."""
        res = []
        h = x
        for conv in self.convs:
            h = conv(h)
            if return_feats:
                res.append(h)
        latent = h.squeeze(-1).squeeze(-1)
        return latent, (res[::-1][2:] if return_feats else None)


class Encoder(nn.Module):
    """``net_app`` (appearance) + ``fc`` (motion MLP: 4 × EqualLinear(dim, dim) + EqualLinear(dim, motion_dim),
    no activations, as in the official code)."""

    def __init__(self, size: int, dim: int = 512, dim_motion: int = 20, channel_max: Optional[int] = None) -> None:
        super().__init__()
        self.net_app = EncoderApp(size, dim, channel_max)
        fc = [EqualLinear(dim, dim) for _ in range(4)] + [EqualLinear(dim, dim_motion)]
        self.fc = nn.Sequential(*fc)

    def enc_app(self, x: Tensor) -> Tuple[Tensor, List[Tensor]]:
        return self.net_app(x)

    def enc_motion(self, x: Tensor) -> Tensor:
        """Motion magnitudes α of images ``x`` (B×3×H×W in [-1, 1])."""
        h, _ = self.net_app(x, return_feats=False)
        return self.fc(h)

    def forward(self, input_source: Tensor, input_target: Optional[Tensor], h_start: Optional[Tensor] = None):
        """Official semantics: (wa, [α_target] or [α_target, α_source, h_start] or None, feats)."""
        h_source, feats = self.net_app(input_source)
        if input_target is None:
            return h_source, None, feats
        h_target, _ = self.net_app(input_target, return_feats=False)
        h_motion_target = self.fc(h_target)
        if h_start is not None:
            return h_source, [h_motion_target, self.fc(h_source), h_start], feats
        return h_source, [h_motion_target], feats
