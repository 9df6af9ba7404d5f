"""StyleGAN2 building blocks in plain PyTorch (no CUDA extensions), shared by LIA and IMF.

Module and parameter names follow rosinality's stylegan2-pytorch as vendored by the official LIA code,
so state dicts load 1:1 (``*.kernel`` FIR buffers are persistent, as there). The computations are
the same functions, rearranged for speed where that changes only float rounding:

* ``upfirdn2d`` runs the FIR filter as one depthwise convolution (stride = down-sampling factor, a
  transposed depthwise convolution for up-sampling) instead of zero-insertion + a full-resolution
  single-channel convolution followed by sub-sampling.
* ``ModulatedConv2d`` scales the input by the style and the output by the demodulation coefficients
  ("unfused" form, Karras et al. 2020, App. B) so a batch shares one ordinary convolution instead of a
  grouped convolution with per-sample weights.
* Without autograd, activations are applied in place.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["make_kernel", "upfirdn2d", "fused_leaky_relu", "FusedLeakyReLU", "ScaledLeakyReLU", "Blur",
           "Upsample", "Downsample", "EqualConv2d", "EqualLinear", "ModulatedConv2d", "NoiseInjection",
           "ConstantInput", "StyledConv", "ConvLayer", "ResBlock", "ToRGB", "StyleGAN2Discriminator",
           "stylegan2_channels"]

SQRT2 = 2 ** 0.5


def stylegan2_channels(channel_multiplier: int = 1, channel_max: Optional[int] = None) -> Dict[int, int]:
    """Feature channels per resolution (StyleGAN2's table), optionally capped at ``channel_max``."""
    cm = channel_multiplier
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm,
             512: 32 * cm, 1024: 16 * cm}
    return {k: (v if channel_max is None else min(v, channel_max)) for k, v in table.items()}


def make_kernel(k: Sequence[float]) -> Tensor:
    """Normalised 2-D FIR kernel: outer product of a 1-D kernel with itself, summing to 1."""
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def _crop_pad(x: Tensor, left: int, right: int) -> Tensor:
    """Pad (positive) or crop (negative) the two spatial dims by the same amounts."""
    if left == 0 and right == 0:
        return x
    return F.pad(x, [left, right, left, right])


def upfirdn2d(x: Tensor, kernel: Tensor, up: int = 1, down: int = 1, pad: Tuple[int, int] = (0, 0)) -> Tensor:
    """Up-sample (zero insertion), pad, convolve with ``kernel`` (true convolution), down-sample.

    Same result as StyleGAN2's ``upfirdn2d_native`` (square factors and pads), computed as one
    depthwise (transposed) convolution so no work is spent on inserted zeros or dropped outputs.
    """
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    p0, p1 = pad
    weight = kernel.to(dtype=x.dtype, device=x.device)
    if up == 1:
        x = _crop_pad(x, p0, p1)
        weight = torch.flip(weight, [0, 1]).expand(c, 1, kh, kw)
        return F.conv2d(x, weight, stride=down, groups=c)
    # zero-insertion + correlation with flip(kernel) == transposed conv with kernel, then crop/pad
    out = F.conv_transpose2d(x, weight.expand(c, 1, kh, kw), stride=up, groups=c)
    out = _crop_pad(out, p0 - (kh - 1), up + p1 - kh)
    return out[:, :, ::down, ::down] if down > 1 else out


def fused_leaky_relu(x: Tensor, bias: Tensor, negative_slope: float = 0.2, scale: float = SQRT2,
                     inplace: bool = False) -> Tensor:
    """leaky_relu(x + bias) * scale; ``inplace`` overwrites ``x`` (only without autograd)."""
    if inplace and not torch.is_grad_enabled():
        return F.leaky_relu_(x.add_(bias), negative_slope).mul_(scale)
    return F.leaky_relu(x + bias, negative_slope) * scale


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

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)

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
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul, inplace=True)
        bias = self.bias * self.lr_mul if self.bias is not None else None
        return F.linear(x, self.weight * self.scale, bias=bias)

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

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        # conv(x, scale * W * s * d) == d * conv(x * (scale * s), W): s per input, d per output channel
        s = self.modulation(style) * self.scale  # B×I
        weight = self.weight[0]  # O×I×k×k
        x = x * s[:, :, None, None]
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), padding=0, stride=2)
        elif self.downsample:
            out = F.conv2d(self.blur(x), weight, padding=0, stride=2)
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            w2 = weight.pow(2).sum([2, 3])  # O×I
            demod = torch.rsqrt(s.pow(2) @ w2.t() + 1e-8)  # B×O
            out = out * demod[:, :, None, None]
        if self.upsample:
            out = self.blur(out)
        return out


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
        return self.input.expand(x.shape[0], -1, -1, -1)


class StyledConv(nn.Module):
    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, style_dim: int, upsample: bool = False,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1), demodulate: bool = True) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel, demodulate=demodulate)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x: Tensor, style: Tensor, noise: Optional[Tensor] = None) -> Tensor:
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


class ResBlock(nn.Module):
    """Residual down-sampling block: (conv3x3 → blur + conv3x3/2) + (blur + conv1x1/2), scaled by 1/√2."""

    def __init__(self, in_channel: int, out_channel: int, blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channel, in_channel, 3)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True)
        self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, activate=False, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return (out + self.skip(x)) / math.sqrt(2)


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
