"""LWGAN generator and discriminator with the official state-dict layout (svip-lab/impersonator).

:class:`ImpersonatorGenerator` holds the three streams of Liquid Warping GAN (Liu et al., ICCV 2019):
``bg_model`` (ResNet background inpainter), ``src_model`` (ResUnet source identity stream, SID) and
``tsf_model`` (ResUnet transfer stream, TSF). Module and parameter names (``encoders``, ``resnets``,
``decoders``, ``skippers``, ``img_reg``, ``attetion_reg`` [sic]) and shapes equal the official
``networks/generator.py``, so an official ``net_epoch_<N>_id_G.pth`` loads strictly.

Liquid Warping Block (LWB): after every down-sampling encoder level and every residual block, the transfer
feature receives ``grid_sample(source feature, T resized to that level)``; with several sources the warped
features are summed (the official ``swap`` does this for two sources). ``T`` is a backward flow
B×H×W×2 in [-1, 1] (x, y): for each output pixel, where to read the source.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ResidualBlock", "ResNetGenerator", "ResUnetGenerator", "ImpersonatorGenerator", "PatchDiscriminator",
           "resize_flow", "warp", "erode"]

Features = Tuple[List[Tensor], List[Tensor]]  # (encoder outputs per level, residual-block outputs)


def resize_flow(flow: Tensor, size: Sequence[int]) -> Tensor:
    """B×h×w×2 flow resampled to ``size`` (bilinear, align_corners=True, as the official ``resize_trans``)."""
    if tuple(flow.shape[1:3]) == tuple(size):
        return flow
    out = F.interpolate(flow.permute(0, 3, 1, 2), size=tuple(size), mode="bilinear", align_corners=True)
    return out.permute(0, 2, 3, 1)


def warp(x: Tensor, flow: Tensor, align_corners: bool = True) -> Tensor:
    """``grid_sample(x, flow)`` with ``flow`` resized to x's resolution first."""
    return F.grid_sample(x, resize_flow(flow, x.shape[-2:]), align_corners=align_corners)


def erode(mask: Tensor, ks: int) -> Tensor:
    """Grey-scale erosion (min filter, official ``util.morph(..., mode='erode')``) with a ks×ks square."""
    if ks <= 1:
        return mask
    return -F.max_pool2d(-mask, kernel_size=ks, stride=1, padding=ks // 2)


def _conv_in_relu(cin: int, cout: int, k: int, stride: int = 1, transpose: bool = False) -> nn.Sequential:
    pad = k // 2 if k != 4 else 1
    conv = (nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=1, output_padding=1, bias=False) if transpose
            else nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=False))
    return nn.Sequential(conv, nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """conv-IN-ReLU-conv-IN with identity skip (``main.{0,1,3,4}``)."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim_in, dim_out, 3, 1, 1, bias=False), nn.InstanceNorm2d(dim_out, affine=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim_out, dim_out, 3, 1, 1, bias=False), nn.InstanceNorm2d(dim_out, affine=True))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.main(x)


class ResNetGenerator(nn.Module):
    """Background inpainter: 7×7 stem, ``n_down`` stride-2 convs, residual blocks, transposed convs, tanh."""

    def __init__(self, conv_dim: int = 64, c_dim: int = 4, repeat_num: int = 6, k_size: int = 3, n_down: int = 3) -> None:
        super().__init__()
        layers: List[nn.Module] = [*_conv_in_relu(c_dim, conv_dim, 7)]
        d = conv_dim
        for _ in range(n_down):
            layers += [*_conv_in_relu(d, d * 2, k_size, stride=2)]
            d *= 2
        layers += [ResidualBlock(d, d) for _ in range(repeat_num)]
        for _ in range(n_down):
            layers += [*_conv_in_relu(d, d // 2, k_size, stride=2, transpose=True)]
            d //= 2
        layers += [nn.Conv2d(d, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class ResUnetGenerator(nn.Module):
    """ResNet + U-Net: encoders, residual blocks, decoders whose outputs are fused with the encoder skip by
    ``skippers``; ``img_reg`` (tanh colour) and ``attetion_reg`` (sigmoid mask) heads."""

    def __init__(self, conv_dim: int = 64, c_dim: int = 6, repeat_num: int = 6, k_size: int = 3, n_down: int = 3) -> None:
        super().__init__()
        self.repeat_num, self.n_down = int(repeat_num), int(n_down)
        enc = [_conv_in_relu(c_dim, conv_dim, 7)]
        d = conv_dim
        for _ in range(n_down):
            enc.append(_conv_in_relu(d, d * 2, k_size, stride=2))
            d *= 2
        self.encoders = nn.Sequential(*enc)
        self.resnets = nn.Sequential(*[ResidualBlock(d, d) for _ in range(repeat_num)])
        dec, skip = [], []
        for _ in range(n_down):
            dec.append(_conv_in_relu(d, d // 2, k_size, stride=2, transpose=True))
            skip.append(_conv_in_relu(d, d // 2, k_size))
            d //= 2
        self.decoders = nn.Sequential(*dec)
        self.skippers = nn.Sequential(*skip)
        self.img_reg = nn.Sequential(nn.Conv2d(d, 3, 7, 1, 3, bias=False), nn.Tanh())
        self.attetion_reg = nn.Sequential(nn.Conv2d(d, 1, 7, 1, 3, bias=False), nn.Sigmoid())

    def inference(self, x: Tensor) -> Features:
        """Encoder outputs (levels 0..n_down) and the output of every residual block."""
        outs = [self.encoders[0](x)]
        for i in range(1, self.n_down + 1):
            outs.append(self.encoders[i](outs[-1]))
        res, h = [], outs[-1]
        for block in self.resnets:
            h = block(h)
            res.append(h)
        return outs, res

    def decode(self, x: Tensor, encoder_outs: Sequence[Tensor]) -> Tensor:
        for i in range(self.n_down):
            x = self.decoders[i](x)
            x = self.skippers[i](torch.cat([encoder_outs[self.n_down - 1 - i], x], dim=1))
        return x

    def regress(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        return self.img_reg(x), self.attetion_reg(x)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        enc, res = self.inference(x)
        return self.regress(self.decode(res[-1] if res else enc[-1], enc))


class ImpersonatorGenerator(nn.Module):
    """BG / SID / TSF streams with LWB (official ``ImpersonatorGenerator``; ``n_down`` is 3 there)."""

    def __init__(self, bg_dim: int = 4, src_dim: int = 6, tsf_dim: int = 6, conv_dim: int = 64, repeat_num: int = 6,
                 n_down: int = 3, k_size: int = 3, align_corners: bool = True) -> None:
        super().__init__()
        self.n_down, self.repeat_num, self.align_corners = int(n_down), int(repeat_num), bool(align_corners)
        self.bg_model = ResNetGenerator(conv_dim, bg_dim, repeat_num, k_size, n_down)
        self.src_model = ResUnetGenerator(conv_dim, src_dim, repeat_num, k_size, n_down)
        self.tsf_model = ResUnetGenerator(conv_dim, tsf_dim, repeat_num, k_size, n_down)

    def encode_src(self, src_inputs: Tensor) -> Features:
        return self.src_model.inference(src_inputs)

    def decode_src(self, feats: Features) -> Tuple[Tensor, Tensor]:
        """SID output (colour, mask) from cached source features (the source reconstruction)."""
        enc, res = feats
        return self.src_model.regress(self.src_model.decode(res[-1] if res else enc[-1], enc))

    def transfer(self, src_feats: Sequence[Features], tsf_inputs: Tensor, flows: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """TSF stream with LWB: ``src_feats[k]`` and ``flows[k]`` per source image k (summed over k)."""
        if len(src_feats) != len(flows) or not flows:
            raise ValueError(f"need one flow per source: {len(src_feats)} sources, {len(flows)} flows")
        tsf = self.tsf_model
        x = tsf.encoders[0](tsf_inputs)
        enc_outs = [x]
        for i in range(1, self.n_down + 1):
            x = tsf.encoders[i](x) + self._lwb([f[0][i] for f in src_feats], flows)
            enc_outs.append(x)
        for i in range(self.repeat_num):
            x = tsf.resnets[i](x) + self._lwb([f[1][i] for f in src_feats], flows)
        return tsf.regress(tsf.decode(x, enc_outs))

    def _lwb(self, feats: Sequence[Tensor], flows: Sequence[Tensor]) -> Tensor:
        out = warp(feats[0], flows[0], self.align_corners)
        for f, t in zip(feats[1:], flows[1:]):
            out = out + warp(f, t, self.align_corners)
        return out

    def forward(self, bg_inputs: Tensor, src_inputs: Tensor, tsf_inputs: Tensor, T: Tensor
                ) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Official signature: (img_bg, src_img, src_mask, tsf_img, tsf_mask) for one source."""
        feats = self.encode_src(src_inputs)
        src_img, src_mask = self.decode_src(feats)
        tsf_img, tsf_mask = self.transfer([feats], tsf_inputs, [T])
        return self.bg_model(bg_inputs), src_img, src_mask, tsf_img, tsf_mask


class PatchDiscriminator(nn.Module):
    """pix2pix PatchGAN (official ``PatchDiscriminator``): ``n_layers`` stride-2 convs, one stride-1 conv,
    a 1-channel logit map; LeakyReLU 0.2; instance norm without affine parameters (official ``norm_type``)."""

    def __init__(self, input_nc: int = 6, ndf: int = 64, n_layers: int = 4, norm_type: str = "instance") -> None:
        super().__init__()
        if norm_type == "instance":
            norm, bias = (lambda c: nn.InstanceNorm2d(c, affine=False)), True
        elif norm_type == "batch":
            norm, bias = (lambda c: nn.BatchNorm2d(c, affine=True)), False
        else:
            raise ValueError(f"discriminator norm_type must be 'instance' or 'batch', got {norm_type!r}")
        seq: List[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=bias), norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=bias), norm(ndf * mult), nn.LeakyReLU(0.2, True),
                nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*seq)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
