"""IMF generator: E_F, E_T, IMF_D, IMF_A (per scale) and D_F wired together (Gao et al., CVPR 2024, Fig. 2).

Scales are indexed finest first: scale i has resolution ``size / 2**(stem_downsamples + 1 + i)`` and
``feature_channels[i]`` appearance channels (the paper preset: 64², 32², 16², 8² with 128, 256, 512, 512
channels at 256²). ``attention_scales`` lists the scales where IMF_A runs. At any other scale the frame
decoder receives the reference feature f_r unchanged (a plain skip connection: appearance detail in the
source's pose, no motion), and the token decoder is only built up to the finest attention scale. The
cross-attention and every self-attention at a scale of resolution r cost O(r⁴) (4096² pairs at 64²); the
fused attention kernels keep their memory linear in r², so dropping the finest scale from
``attention_scales`` mostly saves compute (and the activations kept for training).

The split into :meth:`encode_reference` (everything that depends only on the source: f_r, t_r, the keys
K = m_r + P_k and the values V = f_r as tokens) and :meth:`decode` (per driving token) is what lets the
animator encode a source once and animate many frames.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn

from motionbench.core.inference import select_rows

from .motion import ImplicitMotionAlignment, LatentTokenDecoder
from .networks import DenseFeatureEncoder, FrameDecoder, LatentTokenEncoder

__all__ = ["IMFGenerator"]


class IMFGenerator(nn.Module):
    """Images in [0, 1] at the boundary, [-1, 1] inside the encoders; the decoder's sigmoid gives [0, 1]."""

    def __init__(self, size: int, token_dim: int, initial_channels: int, stem_downsamples: int,
                 feature_channels: Sequence[int], motion_channels: Optional[Sequence[int]],
                 token_encoder_channels: Sequence[int], token_mlp_layers: int,
                 attention_scales: Optional[Sequence[int]], num_transformer_blocks: int, num_heads: int,
                 ffn_ratio: float, decoder_res_blocks: int, blur_kernel: Sequence[int]) -> None:
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"size must be a power of two >= 8, got {size}")
        fc = [int(c) for c in feature_channels]
        if not fc:
            raise ValueError("feature_channels must list at least one scale")
        mc = fc if motion_channels is None else [int(c) for c in motion_channels]
        if len(mc) != len(fc):
            raise ValueError(f"motion_channels ({len(mc)} entries) must match feature_channels ({len(fc)})")
        n = len(fc)
        self.resolutions = [size // 2 ** (stem_downsamples + 1 + i) for i in range(n)]
        if self.resolutions[-1] < 4:
            raise ValueError(f"the coarsest scale is {self.resolutions[-1]}×{self.resolutions[-1]} at size {size} "
                             f"(stem_downsamples={stem_downsamples}, {n} scales); it must be at least 4×4")
        scales = list(range(n)) if attention_scales is None else sorted({int(i) for i in attention_scales})
        if not scales or scales[0] < 0 or scales[-1] >= n:
            raise ValueError(f"attention_scales must be a non-empty subset of 0..{n - 1} (0 = finest), "
                             f"got {attention_scales}")
        self.attention_scales = scales
        self.dense_encoder = DenseFeatureEncoder(initial_channels, fc, stem_downsamples)
        self.token_encoder = LatentTokenEncoder(size, token_encoder_channels, token_dim, token_mlp_layers,
                                                blur_kernel)
        finest = self.resolutions[scales[0]]
        widths = {}
        r = 4
        while r <= finest:
            widths[r] = mc[self.resolutions.index(r)] if r in self.resolutions else mc[-1]
            r *= 2
        self.token_decoder = LatentTokenDecoder(token_dim, widths, {i: self.resolutions[i] for i in scales},
                                                blur_kernel)
        self.alignment = nn.ModuleDict({
            str(i): ImplicitMotionAlignment(self.resolutions[i], mc[i], fc[i], num_transformer_blocks, num_heads,
                                            ffn_ratio) for i in scales})
        self.frame_decoder = FrameDecoder(fc, initial_channels, stem_downsamples, decoder_res_blocks)

    # ------------------------------------------------------------------ pieces
    def tokens(self, images: Tensor) -> Tensor:
        """Latent tokens (B×token_dim) of images in [0, 1]."""
        return self.token_encoder(images * 2 - 1)

    def reference_from(self, features: List[Tensor], token: Tensor, motion: Dict[int, Tensor]) -> Dict[str, Any]:
        keys = {i: self.alignment[str(i)].keys(motion[i]) for i in self.attention_scales}
        values = {i: ImplicitMotionAlignment.tokens(features[i]) for i in self.attention_scales}
        return {"features": features, "token": token, "keys": keys, "values": values}

    def encode_reference(self, source: Tensor) -> Dict[str, Any]:
        """f_r (per scale), t_r, and the cached attention keys / values of a reference frame in [0, 1]."""
        features = self.dense_encoder(source * 2 - 1)
        token = self.tokens(source)
        return self.reference_from(features, token, self.token_decoder(token))

    def decode(self, token: Tensor, reference: Dict[str, Any], owner: Optional[Tensor] = None,
               motion: Optional[Dict[int, Tensor]] = None) -> Tensor:
        """Frames for current tokens t_c (N×token_dim); ``owner`` (N) picks each frame's reference row."""
        motion = self.token_decoder(token) if motion is None else motion
        feats = []
        for i, f in enumerate(reference["features"]):
            if i in motion:
                feats.append(self.alignment[str(i)](motion[i], select_rows(reference["keys"][i], owner),
                                                    select_rows(reference["values"][i], owner)))
            else:
                feats.append(select_rows(f, owner))
        return self.frame_decoder(feats)

    # ------------------------------------------------------------------ training forward
    def forward(self, source: Tensor, driving: Tensor) -> Tensor:
        """Reconstruct ``driving`` from ``source`` (B×3×S×S each, [0, 1]): E_T and IMF_D run once on both."""
        b = source.shape[0]
        tokens = self.tokens(torch.cat([source, driving]))
        motion = self.token_decoder(tokens)
        reference = self.reference_from(self.dense_encoder(source * 2 - 1), tokens[:b],
                                        {i: m[:b] for i, m in motion.items()})
        return self.decode(tokens[b:], reference, motion={i: m[b:] for i, m in motion.items()})
