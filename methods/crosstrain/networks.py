"""Networks of the cross-training animator: the two code encoders and the LORD generator.

Encoder (report §2, after Mokady et al., "Mask Based Unsupervised Content Transfer"): [Conv, BatchNorm,
LeakyReLU] blocks. ``log2(size) - 2`` stride-2 blocks (4×4 kernels) bring the image to 4×4; one last
block with a 4×4 valid convolution maps that to a 1×1 map of ``code_dim`` channels, the code. At 128×128
that is the report's six blocks; at 64×64 five.

Generator: LORD's (Gabbay & Hoshen, ICLR 2020; ``avivga/lord-pytorch`` ``model/modules.py``) with the
report's one change (equal code sizes). The content code (our code B) goes through three dense layers with
LeakyReLU to ``adain_dim × h0 × w0`` (h0 = size / 2^n_adain_layers: 8 for 4 layers at 128, 3 layers at
64); then ``n_adain_layers`` × [nearest Upsample ×2, 3×3 Conv, LeakyReLU, AdaIN], every AdaIN taking a
per-channel (bias, weight) pair from its own dense layer on the class code (our code A, LORD's
``Modulation``); then 5×5 Conv → ``last_channels``, LeakyReLU, 7×7 Conv → 3, Sigmoid (images in [0, 1]).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CodeEncoder", "Modulation", "LordGenerator", "adain"]


def _log2_int(n: int, what: str) -> int:
    k = int(round(math.log2(n))) if n > 0 else -1
    if n <= 0 or 2 ** k != n:
        raise ValueError(f"{what} must be a power of two, got {n}")
    return k


class CodeEncoder(nn.Module):
    """Image (B×3×size×size in [0, 1]) -> code (B×code_dim); [Conv, BatchNorm, LeakyReLU] blocks."""

    def __init__(self, size: int, code_dim: int, base_channels: int = 32, max_channels: int = 256,
                 negative_slope: float = 0.2) -> None:
        super().__init__()
        n_down = _log2_int(size, "size") - 2
        if n_down < 1:
            raise ValueError(f"size must be >= 8 for the encoder, got {size}")
        blocks, cin = [], 3
        for i in range(n_down):
            cout = min(max_channels, base_channels * 2 ** i)
            blocks.append(self._block(cin, cout, 4, 2, 1, negative_slope))
            cin = cout
        blocks.append(self._block(cin, code_dim, 4, 1, 0, negative_slope))  # 4×4 map -> 1×1 code
        self.blocks = nn.Sequential(*blocks)
        self.size = size

    @staticmethod
    def _block(cin: int, cout: int, k: int, stride: int, pad: int, slope: float) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, bias=False), nn.BatchNorm2d(cout),
                             nn.LeakyReLU(slope))

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x).flatten(1)


def adain(x: Tensor, bias: Tensor, weight: Tensor, eps: float = 1e-5) -> Tensor:
    """LORD's AdaptiveInstanceNorm2d: per-sample, per-channel instance norm, then ``weight·x̂ + bias``
    (B×C each; LORD uses the raw dense outputs as weight and bias, no ``1 +``)."""
    return F.instance_norm(x, eps=eps) * weight[:, :, None, None] + bias[:, :, None, None]


class Modulation(nn.Module):
    """Class code -> AdaIN parameters B×n_layers×adain_dim×2 (index 0 = bias, 1 = weight, as LORD)."""

    def __init__(self, code_dim: int, n_adain_layers: int, adain_dim: int) -> None:
        super().__init__()
        self.n_adain_layers, self.adain_dim = n_adain_layers, adain_dim
        self.adain_per_layer = nn.ModuleList(nn.Linear(code_dim, adain_dim * 2) for _ in range(n_adain_layers))

    def forward(self, code: Tensor) -> Tensor:
        out = torch.cat([f(code) for f in self.adain_per_layer], dim=-1)
        return out.reshape(-1, self.n_adain_layers, self.adain_dim, 2)


class LordGenerator(nn.Module):
    """G(content code, AdaIN params of the class code) -> B×3×size×size in [0, 1]."""

    def __init__(self, size: int, content_dim: int, n_adain_layers: int, adain_dim: int,
                 last_channels: int = 64, negative_slope: float = 0.01) -> None:
        super().__init__()
        _log2_int(size, "size")
        h0 = size // 2 ** n_adain_layers
        if n_adain_layers < 1 or h0 < 1 or h0 * 2 ** n_adain_layers != size:
            raise ValueError(f"size {size} is not (initial size) × 2^n_adain_layers with n_adain_layers={n_adain_layers}")
        if adain_dim % 8:
            raise ValueError(f"adain_dim must be a multiple of 8 (LORD's dense widths are adain_dim/8, /4), got {adain_dim}")
        self.h0, self.adain_dim, self.n_adain_layers = h0, adain_dim, n_adain_layers
        hw = h0 * h0
        self.fc_layers = nn.Sequential(
            nn.Linear(content_dim, hw * (adain_dim // 8)), nn.LeakyReLU(negative_slope),
            nn.Linear(hw * (adain_dim // 8), hw * (adain_dim // 4)), nn.LeakyReLU(negative_slope),
            nn.Linear(hw * (adain_dim // 4), hw * adain_dim), nn.LeakyReLU(negative_slope))
        self.convs = nn.ModuleList(nn.Conv2d(adain_dim, adain_dim, 3, padding=1) for _ in range(n_adain_layers))
        self.last_conv_layers = nn.Sequential(
            nn.Conv2d(adain_dim, last_channels, 5, padding=2), nn.LeakyReLU(negative_slope),
            nn.Conv2d(last_channels, 3, 7, padding=3), nn.Sigmoid())
        self.negative_slope = negative_slope

    def forward(self, content_code: Tensor, adain_params: Tensor) -> Tensor:
        if adain_params.shape[1:] != (self.n_adain_layers, self.adain_dim, 2):
            raise ValueError(f"adain_params must be B×{self.n_adain_layers}×{self.adain_dim}×2, "
                             f"got {tuple(adain_params.shape)}")
        x = self.fc_layers(content_code).reshape(-1, self.adain_dim, self.h0, self.h0)
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(F.interpolate(x, scale_factor=2.0, mode="nearest")), self.negative_slope)
            x = adain(x, adain_params[:, i, :, 0], adain_params[:, i, :, 1])
        return self.last_conv_layers(x)
