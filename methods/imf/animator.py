"""``imf``: Implicit Motion Function (Gao et al., CVPR 2024) behind the motionbench contract.

IMF has no public code; the network follows the paper and its supplementary material:
dense feature encoder E_F, latent token encoder E_T, latent token decoder IMF_D (StyleGAN2 synthesis from a
constant, token as style), implicit motion alignment IMF_A (cross-attention + transformer blocks) per
scale, frame decoder D_F — see :mod:`.generator`. Constructor arguments (no official names exist):

- ``size`` — input resolution (power of two); the positional embeddings of IMF_A fix it.
- ``token_dim`` — latent token dimension (32 in the paper).
- ``initial_channels`` / ``stem_downsamples`` / ``feature_channels`` — E_F (and D_F) widths and scales.
- ``motion_channels`` — IMF_D output widths per scale (default: ``feature_channels``).
- ``token_encoder_channels`` / ``token_mlp_layers`` — E_T.
- ``attention_scales`` — scale indices (0 = finest) where IMF_A runs; other scales pass f_r through.
- ``num_transformer_blocks`` (4 in the paper) / ``num_heads`` / ``ffn_ratio`` — IMF_A's transformer blocks.
- ``decoder_res_blocks`` — FeatResBlocks refining each aligned feature in D_F.
- ``discriminator_params`` — two-scale spectral-norm patch discriminator (:class:`MultiScaleDiscriminator`
  of FOMM/pix2pixHD design); None for an inference-only model.
- ``chunk_size`` — driving frames per forward pass at inference.

Modes: **absolute** (the paper's setting, reference = source): t_c = E_T(driving_t).
**relative**: t_c = t_src + E_T(driving_t) − E_T(driving_ref) — the token offset of the driving frame from
the driving reference moves the source's own token (LIA's relative rule, applied in IMF's token space;
the paper defines no relative mode). In both modes K and V come from the source (m_r = IMF_D(t_src),
V = f_src).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

from motionbench.core.adversarial import Adversarial
from motionbench.core.animator import Animator, Capabilities, SourceState
from motionbench.core.inference import ChunkedInference, select_rows
from motionbench.methods.fomm import losses as fomm_losses
from motionbench.methods.fomm.discriminator import MultiScaleDiscriminator

from . import losses as imf_losses
from .generator import IMFGenerator

__all__ = ["IMFAnimator"]


class IMFAnimator(Adversarial, ChunkedInference, Animator):
    name = "imf"
    capabilities = Capabilities(relative=True, trainable=True, adversarial=True, half_precision=True)
    default_preset = "256"
    discriminator_option = "discriminator_params"
    gan_defaults = {"generator_gan": 1.0, "discriminator_gan": 1.0, "gan_kind": "hinge"}

    def __init__(self, size: int = 256, token_dim: int = 32, initial_channels: int = 64, stem_downsamples: int = 1,
                 feature_channels: Sequence[int] = (128, 256, 512, 512),
                 motion_channels: Optional[Sequence[int]] = None,
                 token_encoder_channels: Sequence[int] = (64, 128, 256, 512, 512, 512, 512),
                 token_mlp_layers: int = 4, attention_scales: Optional[Sequence[int]] = None,
                 num_transformer_blocks: int = 4, num_heads: int = 8, ffn_ratio: float = 4.0,
                 decoder_res_blocks: int = 3, blur_kernel: Sequence[int] = (1, 3, 3, 1),
                 discriminator_params: Optional[Mapping[str, Any]] = None, chunk_size: int = 4) -> None:
        super().__init__()
        self.init_inference(chunk_size, size=size)
        self.generator = IMFGenerator(self.size, int(token_dim), int(initial_channels), int(stem_downsamples),
                                      feature_channels, motion_channels, token_encoder_channels,
                                      int(token_mlp_layers), attention_scales, int(num_transformer_blocks),
                                      int(num_heads), float(ffn_ratio), int(decoder_res_blocks), list(blur_kernel))
        self.discriminator = (MultiScaleDiscriminator(**dict(discriminator_params))
                              if discriminator_params is not None else None)

    # ------------------------------------------------------------------ inference
    def encode_source(self, source: Tensor) -> SourceState:
        """f_src per scale, the source token t_src and the attention keys / values built from them."""
        self._check_size(source)
        with self._no_grad_ctx():
            return self.generator.encode_reference(source)

    def tokens(self, images: Tensor) -> Tensor:
        """Latent tokens (N×token_dim) of N×3×S×S images in [0, 1], ``chunk_size`` at a time."""
        with self._no_grad_ctx():
            return torch.cat([self.generator.tokens(images[i:i + self.chunk_size])
                              for i in range(0, images.shape[0], self.chunk_size)])

    def animate_state(self, state: SourceState, driving: Tensor, *, mode: str,
                      driving_ref: Optional[Tensor]) -> Tensor:
        self._check_size(driving)
        b, t = driving.shape[:2]
        frames = driving.reshape(b * t, *driving.shape[2:])
        owner = torch.arange(b * t, device=driving.device) // t
        with self._no_grad_ctx():
            tokens = self.tokens(frames)
            if mode == "relative":
                self._check_size(driving_ref)
                offset = state["token"] - self.generator.tokens(driving_ref)  # t_src − t_ref per batch row
                tokens = tokens + select_rows(offset, owner)
            outs = [self.generator.decode(tokens[sl], state, own)
                    for sl, own in self.frame_chunks(b, t, self.chunk_size, driving.device)]
            return torch.cat(outs).clamp_(0, 1).reshape(driving.shape)

    # ------------------------------------------------------------------ training
    def generator_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]
                         ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        return imf_losses.generator_losses(self, batch, loss_cfg)

    def discriminator_logits(self, images: Tensor, batch: Mapping[str, Tensor],
                             generated: Mapping[str, Tensor]) -> list:
        return fomm_losses.discriminator_logits(self, images, generated)
