"""The reference (rosinality / official LIA) formulations of the StyleGAN2 blocks, for checks and timing.

:func:`reference_ops` temporarily swaps the forwards of :mod:`motionbench.nn.stylegan2`'s modules for
the formulations of the official code: ``upfirdn2d_native`` (zero insertion, a single-channel
convolution over N·C images, sub-sampling), the grouped "fused" modulated convolution with
``conv_transpose2d`` up-sampling, scaled weights recomputed on every call, no in-place activations.
Tests compare the fast formulations against it; ``benchmarks/bench_lia_speed.py`` times it as the
official-shaped baseline. Not used for inference.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import stylegan2 as sg

__all__ = ["upfirdn2d_native", "reference_ops"]


def upfirdn2d_native(x: Tensor, kernel: Tensor, up: int = 1, down: int = 1, pad=(0, 0)) -> Tensor:
    """StyleGAN2's pure-PyTorch upfirdn2d (square factors and pads)."""
    _, c, h, w = x.shape
    kh, kw = kernel.shape
    p0, p1 = pad
    out = x.reshape(-1, c, h, 1, w, 1)
    out = F.pad(out, [0, up - 1, 0, 0, 0, up - 1, 0, 0]).reshape(-1, c, h * up, w * up)
    out = F.pad(out, [max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)])
    out = out[:, :, max(-p0, 0): out.shape[2] - max(-p1, 0), max(-p0, 0): out.shape[3] - max(-p1, 0)]
    hp, wp = h * up + p0 + p1, w * up + p0 + p1
    out = F.conv2d(out.reshape(-1, 1, hp, wp), torch.flip(kernel, [0, 1]).view(1, 1, kh, kw))
    out = out.reshape(-1, c, hp - kh + 1, wp - kw + 1)
    return out[:, :, ::down, ::down]


def _flrelu(x: Tensor, bias: Tensor, negative_slope: float = 0.2, scale: float = 2 ** 0.5) -> Tensor:
    return F.leaky_relu(x + bias, negative_slope) * scale


def _modulated(self: sg.ModulatedConv2d, x: Tensor, style: Tensor) -> Tensor:
    batch, in_channel, height, width = x.shape
    style = self.modulation(style).view(batch, 1, in_channel, 1, 1)
    weight = self.scale * self.weight * style
    if self.demodulate:
        demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
        weight = weight * demod.view(batch, self.out_channel, 1, 1, 1)
    k = self.kernel_size
    weight = weight.view(batch * self.out_channel, in_channel, k, k)
    if self.upsample:
        x = x.view(1, batch * in_channel, height, width)
        weight = weight.view(batch, self.out_channel, in_channel, k, k).transpose(1, 2)
        weight = weight.reshape(batch * in_channel, self.out_channel, k, k)
        out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=batch)
        out = self.blur(out.view(batch, self.out_channel, *out.shape[-2:]))
    elif self.downsample:
        x = self.blur(x)
        out = F.conv2d(x.view(1, batch * in_channel, *x.shape[-2:]), weight, padding=0, stride=2, groups=batch)
        out = out.view(batch, self.out_channel, *out.shape[-2:])
    else:
        out = F.conv2d(x.view(1, batch * in_channel, height, width), weight, padding=self.padding, groups=batch)
        out = out.view(batch, self.out_channel, *out.shape[-2:])
    return out


def _equal_linear(self: sg.EqualLinear, x: Tensor) -> Tensor:
    if self.activation:
        return _flrelu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
    return F.linear(x, self.weight * self.scale, bias=self.bias * self.lr_mul)


def _resblock(self: sg.ResBlock, x: Tensor) -> Tensor:
    return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


def _styled(self: sg.StyledConv, x: Tensor, style: Tensor, noise: Optional[Tensor] = None) -> Tensor:
    return self.activate(self.noise(self.conv(x, style), noise=noise))


_REFERENCE = {
    (sg.Blur, "forward"): lambda self, x: upfirdn2d_native(x, self.kernel, pad=self.pad),
    (sg.Upsample, "forward"): lambda self, x: upfirdn2d_native(x, self.kernel, up=self.factor, pad=self.pad),
    (sg.Downsample, "forward"): lambda self, x: upfirdn2d_native(x, self.kernel, down=self.factor, pad=self.pad),
    (sg.FusedLeakyReLU, "forward"): lambda self, x: _flrelu(x, self.bias, self.negative_slope, self.scale),
    (sg.EqualConv2d, "forward"): lambda self, x: F.conv2d(x, self.weight * self.scale, bias=self.bias,
                                                          stride=self.stride, padding=self.padding),
    (sg.EqualLinear, "forward"): _equal_linear,
    (sg.ModulatedConv2d, "forward"): _modulated,
    (sg.ConvLayer, "forward"): nn.Sequential.forward,
    (sg.ResBlock, "forward"): _resblock,
    (sg.StyledConv, "forward"): _styled,
    (sg.ConstantInput, "forward"): lambda self, x: self.input.repeat(x.shape[0], 1, 1, 1),
}


@contextlib.contextmanager
def reference_ops() -> Iterator[None]:
    """Within the block, every StyleGAN2 module computes with the reference formulation (not thread-safe)."""
    saved = {key: key[0].__dict__[key[1]] for key in _REFERENCE}
    try:
        for (cls, attr), fn in _REFERENCE.items():
            setattr(cls, attr, fn)
        yield
    finally:
        for (cls, attr), fn in saved.items():
            setattr(cls, attr, fn)
