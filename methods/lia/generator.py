"""LIA's generator: motion dictionary (QR-orthogonalised directions) and the StyleGAN2 synthesis
network whose ToFlow layers warp the encoder's skip features at every scale.

Names follow the official ``networks/styledecoder.py`` / ``generator.py`` (wyhsirius/LIA), so ``gen``
state dicts load unchanged. Changes for current PyTorch, as in the reference fixture: ``torch.qr`` →
``torch.linalg.qr(..., mode="reduced")``, and ToFlow's sampling grid lives on the input's device
(the official code hard-codes ``.cuda()``). ``grid_sample`` keeps LIA's align_corners=False semantics.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motionbench.nn.stylegan2 import (ConstantInput, ModulatedConv2d, StyledConv, ToRGB, Upsample,
                                      stylegan2_channels)

from .encoder import Encoder

__all__ = ["ToFlow", "Direction", "Synthesis", "Generator"]


class ToFlow(nn.Module):
    """Modulated 1×1 conv → (2-channel flow offset, 1-channel mask); warps ``feat`` and blends it in."""

    def __init__(self, in_channel: int, style_dim: int, upsample: bool = True,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    @staticmethod
    def base_grid(size: int, ref: Tensor) -> Tensor:
        """Identity sampling grid 1×size×size×2 (x, y) in [-1, 1], as np.linspace/meshgrid built it."""
        xs = torch.linspace(-1, 1, size, dtype=torch.float64)
        gy, gx = torch.meshgrid(xs, xs, indexing="ij")
        return torch.stack([gx, gy], 2).to(device=ref.device, dtype=ref.dtype).unsqueeze(0)

    def forward(self, x: Tensor, style: Tensor, feat: Tensor, skip: Optional[Tensor] = None):
        """Return (warped features, warped + (1 - mask) * x, raw 3-channel output for the next skip)."""
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        sampler = torch.tanh(out[:, 0:2])
        mask = torch.sigmoid(out[:, 2:3])
        flow = sampler.permute(0, 2, 3, 1) + self.base_grid(x.size(2), x)
        feat_warp = F.grid_sample(feat, flow, mode="bilinear", padding_mode="zeros", align_corners=False)
        if torch.is_grad_enabled():
            feat_warp = feat_warp * mask
            return feat_warp, feat_warp + x * (1.0 - mask), out
        feat_warp.mul_(mask)  # in place, and warped + (1 - mask)·x in one pass
        return feat_warp, torch.addcmul(feat_warp, x, 1.0 - mask), out


class Direction(nn.Module):
    """Learned motion dictionary ``weight`` (style_dim × motion_dim), orthogonalised by QR at every use."""

    def __init__(self, motion_dim: int, style_dim: int = 512) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(style_dim, motion_dim))

    def basis(self) -> Tensor:
        """Q of the reduced QR decomposition of ``weight + 1e-8``: orthonormal directions (columns)."""
        q, _ = torch.linalg.qr(self.weight + 1e-8, mode="reduced")
        return q

    @staticmethod
    def combine(alpha: Tensor, q: Tensor) -> Tensor:
        """Σ_i α_i d_i for a batch of magnitudes α (B×motion_dim) → B×style_dim."""
        return alpha @ q.t()

    def forward(self, alpha: Optional[Tensor]) -> Tensor:
        q = self.basis()
        return q if alpha is None else self.combine(alpha, q)


class Synthesis(nn.Module):
    """StyleGAN2 decoder from a constant 4×4 input; from 8×8 on each scale warps its skip feature."""

    def __init__(self, size: int, style_dim: int, motion_dim: int, blur_kernel: Sequence[int] = (1, 3, 3, 1),
                 channel_multiplier: int = 1, channel_max: Optional[int] = None) -> None:
        super().__init__()
        self.size = size
        self.style_dim = style_dim
        self.motion_dim = motion_dim
        self.direction = Direction(motion_dim, style_dim)
        self.channels = stylegan2_channels(channel_multiplier, channel_max)
        self.input = ConstantInput(self.channels[4])
        self.conv1 = StyledConv(self.channels[4], self.channels[4], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(self.channels[4], style_dim, upsample=False)  # unused by the official forward
        self.log_size = int(math.log(size, 2))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.convs = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.to_flows = nn.ModuleList()
        in_channel = self.channels[4]
        for i in range(3, self.log_size + 1):
            out_channel = self.channels[2 ** i]
            self.convs.append(StyledConv(in_channel, out_channel, 3, style_dim, upsample=True, blur_kernel=blur_kernel))
            self.convs.append(StyledConv(out_channel, out_channel, 3, style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_channel, style_dim))
            self.to_flows.append(ToFlow(out_channel, style_dim))
            in_channel = out_channel
        self.n_latent = self.log_size * 2 - 2

    def latent(self, wa: Tensor, alpha: Optional[List[Tensor]], q: Optional[Tensor] = None) -> Tensor:
        """z = wa + D(α_t) (absolute) or wa + (D(α_t) − D(α_start)) + D(α_source) (relative, official order)."""
        if alpha is None:
            return wa
        q = self.direction.basis() if q is None else q
        if len(alpha) > 1:
            d_target = Direction.combine(alpha[0], q)
            d_source = Direction.combine(alpha[1], q)
            d_start = Direction.combine(alpha[2], q)
            return wa + (d_target - d_start) + d_source
        return wa + Direction.combine(alpha[0], q)

    def decode(self, latent: Tensor, feats: Sequence[Tensor]) -> Tensor:
        """Image (B×3×size×size, about [-1, 1]) from latent codes and the source's skip features."""
        out = self.conv1(self.input(latent), latent)
        skip = skip_flow = None
        for conv1, conv2, to_rgb, to_flow, feat in zip(self.convs[::2], self.convs[1::2], self.to_rgbs,
                                                       self.to_flows, feats):
            out = conv2(conv1(out, latent), latent)
            out_warp, out, skip_flow = to_flow(out, latent, feat, skip_flow)
            skip = to_rgb(out_warp, skip)
        return skip

    def forward(self, wa: Tensor, alpha: Optional[List[Tensor]], feats: Sequence[Tensor]) -> Tensor:
        return self.decode(self.latent(wa, alpha), feats)


class Generator(nn.Module):
    """Official ``Generator``: ``enc`` (appearance + motion encoder) and ``dec`` (synthesis)."""

    def __init__(self, size: int, style_dim: int = 512, motion_dim: int = 20, channel_multiplier: int = 1,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1), channel_max: Optional[int] = None) -> None:
        super().__init__()
        self.enc = Encoder(size, style_dim, motion_dim, channel_max)
        self.dec = Synthesis(size, style_dim, motion_dim, blur_kernel, channel_multiplier, channel_max)

    def get_direction(self) -> Tensor:
        return self.dec.direction(None)

    def synthesis(self, wa: Tensor, alpha: Optional[List[Tensor]], feat: Sequence[Tensor]) -> Tensor:
        return self.dec(wa, alpha, feat)

    def forward(self, img_source: Tensor, img_drive: Optional[Tensor], h_start: Optional[Tensor] = None) -> Tensor:
        """Official per-call semantics (images in [-1, 1]): re-encodes the source on every call."""
        wa, alpha, feats = self.enc(img_source, img_drive, h_start)
        return self.dec(wa, alpha, feats)
