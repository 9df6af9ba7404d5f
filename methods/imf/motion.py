"""The implicit motion function IMF = IMF_A ∘ IMF_D (supplementary §3.1).

- :class:`LatentTokenDecoder` (IMF_D): a StyleGAN2 synthesis network from a learned 4×4 constant; the
  latent token is the style of every modulated convolution (the shared
  :class:`~motionbench.nn.stylegan2.ModulatedConv2d`, weight modulation + demodulation). Each resolution
  above 4×4 has three styled convolutions (the first up-samples ×2); the output of a resolution's last
  convolution is the motion feature m of that scale.
- :class:`ImplicitMotionAlignment` (IMF_A): cross-attention Q = m_c + P_q, K = m_r + P_k, V = f_r
  (learned positional embeddings, one head, softmax(QKᵀ/√d_k)V — eq. 5, no projections), then
  ``num_blocks`` pre-norm transformer blocks (multi-head self-attention + LayerNorm/GELU FFN) on V'.
  All attention runs through :func:`torch.nn.functional.scaled_dot_product_attention`, whose fused kernels
  (where the backend has one; on CPU always) never store the (H·W)² attention matrix.
"""
from __future__ import annotations

from typing import Dict, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motionbench.nn.stylegan2 import ConstantInput, FusedLeakyReLU, ModulatedConv2d

__all__ = ["TokenStyledConv", "LatentTokenDecoder", "TransformerBlock", "ImplicitMotionAlignment"]


class TokenStyledConv(nn.Module):
    """StyleGAN2 StyledConv without noise injection: modulated conv (style = token) + bias + leaky ReLU·√2.

    IMF animates deterministically, so the generator's per-pixel noise (and its weight) is left out.
    """

    def __init__(self, in_channels: int, out_channels: int, token_dim: int, upsample: bool = False,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, token_dim, upsample=upsample,
                                    blur_kernel=blur_kernel)
        self.activate = FusedLeakyReLU(out_channels)

    def forward(self, x: Tensor, token: Tensor) -> Tensor:
        return self.activate(self.conv(x, token))


class LatentTokenDecoder(nn.Module):
    """IMF_D: token (B×token_dim) → motion features {scale index: B×C×r×r}.

    ``channels`` maps every resolution 4, 8, …, finest to its width; ``outputs`` maps the scale indices
    whose motion features are needed to their resolution.
    """

    def __init__(self, token_dim: int, channels: Mapping[int, int], outputs: Mapping[int, int],
                 blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        resolutions = sorted(channels)
        if resolutions[0] != 4 or any(b != 2 * a for a, b in zip(resolutions, resolutions[1:])):
            raise ValueError(f"token decoder resolutions must be 4, 8, 16, ..., got {resolutions}")
        self.resolutions = resolutions
        self.outputs = {int(r): int(i) for i, r in outputs.items()}  # resolution → scale index
        self.input = ConstantInput(channels[4])  # learned 4×4 constant
        self.convs = nn.ModuleList([TokenStyledConv(channels[4], channels[4], token_dim, blur_kernel=blur_kernel)])
        prev = channels[4]
        for r in resolutions[1:]:
            self.convs.extend([TokenStyledConv(prev, prev, token_dim, upsample=True, blur_kernel=blur_kernel),
                               TokenStyledConv(prev, prev, token_dim, blur_kernel=blur_kernel),
                               TokenStyledConv(prev, channels[r], token_dim, blur_kernel=blur_kernel)])
            prev = channels[r]

    def forward(self, token: Tensor) -> Dict[int, Tensor]:
        x = self.input(token)
        x = self.convs[0](x, token)
        out: Dict[int, Tensor] = {}
        if 4 in self.outputs:
            out[self.outputs[4]] = x
        for level, r in enumerate(self.resolutions[1:]):
            for conv in self.convs[1 + 3 * level: 4 + 3 * level]:
                x = conv(x, token)
            if r in self.outputs:
                out[self.outputs[r]] = x
        return out


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: x + MHSA(LN(x)), then x + FFN(x) with FFN(x) = GELU(LN(x)W₁ + b₁)W₂ + b₂.

    The maths of ``nn.TransformerEncoderLayer(norm_first=True, activation="gelu", dropout=0)`` (tested), but
    the attention always goes through :func:`~torch.nn.functional.scaled_dot_product_attention`: the
    encoder layer's inference fast path stores the full attention matrix (heads × (H·W)², 512 MiB per
    block at the 64² scale of the paper preset), the fused SDPA kernels do not.
    """

    def __init__(self, dim: int, num_heads: int, ffn_ratio: float = 4.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(ffn_ratio * dim)
        self.ffn = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        heads = F.scaled_dot_product_attention(q, k, v)  # B×heads×N×(C/heads)
        x = x + self.proj(heads.transpose(1, 2).reshape(b, n, c))
        return x + self.ffn(self.norm2(x))


class ImplicitMotionAlignment(nn.Module):
    """IMF_A at one scale: aligns the reference features f_r to the current frame's motion features m_c."""

    def __init__(self, resolution: int, motion_dim: int, feature_dim: int, num_blocks: int = 4,
                 num_heads: int = 8, ffn_ratio: float = 4.0) -> None:
        super().__init__()
        if feature_dim % num_heads:
            raise ValueError(f"num_heads ({num_heads}) must divide the feature channels ({feature_dim}) "
                             f"of the {resolution}×{resolution} scale")
        tokens = resolution * resolution
        self.resolution = resolution
        self.pos_q = nn.Parameter(torch.empty(1, tokens, motion_dim))
        self.pos_k = nn.Parameter(torch.empty(1, tokens, motion_dim))
        nn.init.trunc_normal_(self.pos_q, std=0.02)
        nn.init.trunc_normal_(self.pos_k, std=0.02)
        self.blocks = nn.Sequential(*[TransformerBlock(feature_dim, num_heads, ffn_ratio) for _ in range(num_blocks)])

    @staticmethod
    def tokens(x: Tensor) -> Tensor:
        """B×C×H×W → B×(H·W)×C."""
        return x.flatten(2).transpose(1, 2)

    def keys(self, m_r: Tensor) -> Tensor:
        """K = m_r + P_k (B×HW×C); depends only on the reference frame, so it is cached per source."""
        return self.tokens(m_r) + self.pos_k

    def forward(self, m_c: Tensor, keys: Tensor, values: Tensor) -> Tensor:
        """m_c: B×C_m×H×W; keys: B×HW×C_m (:meth:`keys`); values: f_r as B×HW×C_f. Returns B×C_f×H×W."""
        b, _, h, w = m_c.shape
        q = self.tokens(m_c) + self.pos_q
        # one head: softmax(QKᵀ/√d_k)V with d_k = C_m (the default scale of scaled_dot_product_attention)
        aligned = F.scaled_dot_product_attention(q.unsqueeze(1), keys.unsqueeze(1), values.unsqueeze(1)).squeeze(1)
        aligned = self.blocks(aligned)
        return aligned.transpose(1, 2).reshape(b, -1, h, w)

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, d_k={self.pos_q.shape[-1]}"
