"""StyleGAN2 building blocks in plain PyTorch (no CUDA extensions), shared by LIA and IMF.

Module and parameter names follow rosinality's stylegan2-pytorch as vendored by the official LIA code,
so state dicts load 1:1 (``*.kernel`` FIR buffers are persistent, as there). The computations are the
same functions, rearranged for speed where that changes only float rounding (see
:mod:`motionbench.nn.stylegan2_ops` for the operations):

* ``ModulatedConv2d`` scales the input by the style and the output by the demodulation coefficients
  ("unfused" form, Karras et al. 2020, App. B), so a batch shares one ordinary convolution instead of a
  grouped convolution with per-sample weights; its stride-2 up-sampling runs as an ordinary convolution
  over the four output phases, and the blur comes before the (per-channel) demodulation.
* Without autograd, bias + leaky ReLU + gain run in place and fold into the preceding convolution or
  demodulation (leaky ReLU is positively homogeneous: lrelu(z)·c = lrelu(z·c) for c > 0).
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .stylegan2_ops import (SQRT2, conv_transpose3x3_s2, derived, fir_filter, fused_leaky_relu, make_kernel,
                            phase_weight, upfirdn2d)

__all__ = ["make_kernel", "upfirdn2d", "fused_leaky_relu", "FusedLeakyReLU", "ScaledLeakyReLU", "Blur",
           "Upsample", "Downsample", "EqualConv2d", "EqualLinear", "ModulatedConv2d", "NoiseInjection",
           "ConstantInput", "StyledConv", "ConvLayer", "ResBlock", "ToRGB", "StyleGAN2Discriminator",
           "stylegan2_channels"]


def stylegan2_channels(channel_multiplier: int = 1, channel_max: Optional[int] = None) -> Dict[int, int]:
    """Feature channels per resolution (StyleGAN2's table), optionally capped at ``channel_max``."""
    cm = channel_multiplier
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm,
             512: 32 * cm, 1024: 16 * cm}
    return {k: (v if channel_max is None else min(v, channel_max)) for k, v in table.items()}


class FusedLeakyReLU(nn.Module):
    """Bias + leaky ReLU + gain √2. Without autograd it overwrites its input (always a fresh conv output
    inside these networks)."""

    def __init__(self, channel: int, negative_slope: float = 0.2, scale: float = SQRT2) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channel, 1, 1))
        self.negative_slope = negative_slope
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale, inplace=True)


class ScaledLeakyReLU(nn.Module):
    def __init__(self, negative_slope: float = 0.2) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, negative_slope=self.negative_slope)


class Blur(nn.Module):
    """FIR low-pass filter (persistent ``kernel`` buffer), used around strided / transposed convs."""

    def __init__(self, kernel: Sequence[float], pad: Tuple[int, int], upsample_factor: int = 1) -> None:
        super().__init__()
        k = make_kernel(kernel)
        if upsample_factor > 1:
            k = k * (upsample_factor ** 2)
        self.register_buffer("kernel", k)
        self.pad = pad

    def forward(self, x: Tensor) -> Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    def __init__(self, kernel: Sequence[float], factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel) * (factor ** 2))
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: Tensor) -> Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, down=1, pad=self.pad)


class Downsample(nn.Module):
    def __init__(self, kernel: Sequence[float], factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel))
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2, p // 2)

    def forward(self, x: Tensor) -> Tensor:
        return upfirdn2d(x, self.kernel, up=1, down=self.factor, pad=self.pad)


class EqualConv2d(nn.Module):
    """Conv2d with the equalised learning rate (weights ~ N(0,1), scaled by 1/sqrt(fan_in) at run time)."""

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.stride = stride
        self.padding = padding
        self.bias = nn.Parameter(torch.zeros(out_channel)) if bias else None

    def scaled_weight(self, gain: float = 1.0) -> Tensor:
        """weight · scale · gain (cached while autograd is off)."""
        return derived(self, f"w{gain!r}", self.weight, lambda: self.weight * (self.scale * gain))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.scaled_weight(), bias=self.bias, stride=self.stride, padding=self.padding)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.weight.shape[1]}, {self.weight.shape[0]}, {self.weight.shape[2]}, "
                f"stride={self.stride}, padding={self.padding})")


class EqualLinear(nn.Module):
    """Linear layer with the equalised learning rate; ``activation`` = fused leaky ReLU when truthy."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: Optional[str] = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init)) if bias else None
        self.activation = activation
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        weight = derived(self, "w", self.weight, lambda: self.weight * self.scale)
        if self.activation:
            return fused_leaky_relu(F.linear(x, weight), self.bias * self.lr_mul, inplace=True)
        bias = self.bias * self.lr_mul if self.bias is not None else None
        return F.linear(x, weight, bias=bias)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.weight.shape[1]}, {self.weight.shape[0]})"


class ModulatedConv2d(nn.Module):
    """Style-modulated (and optionally demodulated) convolution, with up/down-sampling by 2."""

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, style_dim: int, demodulate: bool = True,
                 upsample: bool = False, downsample: bool = False, blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.eps = 1e-8
        self.kernel_size = kernel_size
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.upsample = upsample
        self.downsample = downsample
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        if downsample:
            factor = 2
            p = (len(blur_kernel) - factor) + (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2, p // 2))
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
        self.demodulate = demodulate

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channel}, {self.out_channel}, {self.kernel_size}, "
                f"upsample={self.upsample}, downsample={self.downsample})")

    def modulated(self, x: Tensor, style: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """(conv of x with the style-modulated weight, per-sample demodulation B×O or None).

        conv(x, scale·W·s·d) = d · conv(x · scale·s, W): s per input, d per output channel.
        """
        s = self.modulation(style) * self.scale  # B×I
        weight = self.weight[0]  # O×I×k×k
        x = x * s[:, :, None, None]
        if self.upsample:
            h, w = x.shape[-2:]
            if self.kernel_size == 3:  # transposed conv (with an extra zero row / column), then blur
                out = conv_transpose3x3_s2(x, weight, derived(self, "phase", self.weight, lambda: phase_weight(weight)))
                p0, p1 = self.blur.pad
                size = (2 * h + 1 + p0 + p1 - self.blur.kernel.shape[0] + 1,) * 2
                out = fir_filter(out, self.blur.kernel, (p0, p0) if p1 <= p0 + 1 else (p0, p1 - 1), size)
            else:
                out = self.blur(F.conv_transpose2d(x, weight.transpose(0, 1), padding=0, stride=2))
        elif self.downsample:
            out = F.conv2d(self.blur(x), weight, padding=0, stride=2)
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if not self.demodulate:
            return out, None
        w2 = derived(self, "w2t", self.weight, lambda: weight.pow(2).sum([2, 3]).t())  # I×O
        return out, torch.rsqrt(s.pow(2) @ w2 + 1e-8)  # B×O

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        out, demod = self.modulated(x, style)
        return out if demod is None else out * demod[:, :, None, None]


class NoiseInjection(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, image: Tensor, noise: Optional[Tensor] = None) -> Tensor:
        return image if noise is None else image + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channel: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, x: Tensor) -> Tensor:
        return self.input.repeat(x.shape[0], 1, 1, 1)


class StyledConv(nn.Module):
    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, style_dim: int, upsample: bool = False,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1), demodulate: bool = True) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel, demodulate=demodulate)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x: Tensor, style: Tensor, noise: Optional[Tensor] = None) -> Tensor:
        if noise is None and not torch.is_grad_enabled() and self.conv.demodulate:
            out, demod = self.conv.modulated(x, style)  # lrelu(out·d + b)·√2 = lrelu(out·d√2 + b√2)
            act = self.activate
            out = torch.addcmul(act.bias * act.scale, out, demod[:, :, None, None] * act.scale)
            return F.leaky_relu_(out, act.negative_slope)
        return self.activate(self.noise(self.conv(x, style), noise=noise))


class ConvLayer(nn.Sequential):
    """[Blur →] EqualConv2d (stride 2 when down-sampling) [→ FusedLeakyReLU | ScaledLeakyReLU]."""

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, downsample: bool = False,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1), bias: bool = True, activate: bool = True) -> None:
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, self.padding = 2, 0
        else:
            stride, self.padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channel, out_channel, kernel_size, padding=self.padding, stride=stride,
                                  bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channel) if bias else ScaledLeakyReLU(0.2))
        super().__init__(*layers)

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        """``gain`` multiplies the output (folded into the convolution when autograd is off)."""
        if torch.is_grad_enabled():
            out = super().forward(x)
            return out * gain if gain != 1.0 else out
        layers = list(self)
        conv_at = 1 if isinstance(layers[0], Blur) else 0
        if conv_at:
            x = layers[0](x)
        conv: EqualConv2d = layers[conv_at]
        act = layers[conv_at + 1] if len(layers) > conv_at + 1 else None
        bias = conv.bias * gain if conv.bias is not None else None
        if isinstance(act, FusedLeakyReLU):  # lrelu(z + b)·√2·g = lrelu(z·√2g + b·√2g)
            gain = gain * act.scale
            bias = act.bias.reshape(-1) * gain
        out = F.conv2d(x, conv.scaled_weight(gain), bias=bias, stride=conv.stride, padding=conv.padding)
        if isinstance(act, FusedLeakyReLU):
            return F.leaky_relu_(out, act.negative_slope)
        return act(out) if act is not None else out


class ResBlock(nn.Module):
    """Residual down-sampling block: (conv3x3 → blur + conv3x3/2) + (blur + conv1x1/2), scaled by 1/√2."""

    def __init__(self, in_channel: int, out_channel: int, blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channel, in_channel, 3)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True)
        self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, activate=False, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled():
            out = self.conv2(self.conv1(x))
            return (out + self.skip(x)) / math.sqrt(2)
        out = self.conv2(self.conv1(x), gain=1 / math.sqrt(2))  # 1/√2 folded into both branches
        return out.add_(self.skip(x, gain=1 / math.sqrt(2)))


class ToRGB(nn.Module):
    """1×1 ConvLayer to RGB (with the official leaky-ReLU activation) + bias + up-sampled skip."""

    def __init__(self, in_channel: int, style_dim: int, upsample: bool = True,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ConvLayer(in_channel, 3, 1)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: Tensor, skip: Optional[Tensor] = None) -> Tensor:
        out = self.conv(x) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class StyleGAN2Discriminator(nn.Module):
    """StyleGAN2 residual discriminator with minibatch standard deviation; returns B×1 logits."""

    def __init__(self, size: int, channel_multiplier: int = 1, blur_kernel: Sequence[int] = (1, 3, 3, 1),
                 channel_max: Optional[int] = None, stddev_group: int = 4) -> None:
        super().__init__()
        self.size = size
        channels = stylegan2_channels(channel_multiplier, channel_max)
        log_size = int(math.log(size, 2))
        convs = [ConvLayer(3, channels[size], 1)]
        in_channel = channels[size]
        for i in range(log_size, 2, -1):
            out_channel = channels[2 ** (i - 1)]
            convs.append(ResBlock(in_channel, out_channel, blur_kernel))
            in_channel = out_channel
        self.convs = nn.Sequential(*convs)
        self.stddev_group = stddev_group
        self.stddev_feat = 1
        self.final_conv = ConvLayer(in_channel + 1, channels[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(channels[4] * 4 * 4, channels[4], activation="fused_lrelu"),
                                          EqualLinear(channels[4], 1))

    def minibatch_stddev(self, out: Tensor) -> Tensor:
        """Append the mean feature std over groups of samples as one extra channel."""
        batch, channel, height, width = out.shape
        group = min(batch, self.stddev_group)
        while batch % group:  # official code requires divisibility; fall back to the largest divisor
            group -= 1
        stddev = out.view(group, -1, self.stddev_feat, channel // self.stddev_feat, height, width)
        stddev = torch.sqrt(stddev.var(0, unbiased=False) + 1e-8)
        stddev = stddev.mean([2, 3, 4], keepdim=True).squeeze(2)
        stddev = stddev.repeat(group, 1, height, width)
        return torch.cat([out, stddev], 1)

    def forward(self, x: Tensor) -> Tensor:
        out = self.minibatch_stddev(self.convs(x))
        out = self.final_conv(out)
        return self.final_linear(out.reshape(out.shape[0], -1))
