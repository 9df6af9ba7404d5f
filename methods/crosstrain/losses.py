"""Cross-training objective (eq. 4 of the cross-training report, see :mod:`.animator`):
L = L_rec + γ·(L_cyc,E_A + L_cyc,E_B), plus the same-video reconstruction and an optional GAN term; the module
docstring of :mod:`.animator` defines every term. Loss config keys (``conf/loss/crosstrain.yaml``):
``reconstruction``, ``pair_reconstruction``, ``gamma``, ``cycle_a``, ``cycle_b``, ``perceptual`` (0 by default),
``generator_gan`` / ``discriminator_gan`` / ``gan_kind``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:  # pragma: no cover
    from .animator import CrossTrainAnimator

__all__ = ["generator_losses", "discriminator_logits", "discriminator_inputs"]


def generator_losses(model: "CrossTrainAnimator", batch: Mapping[str, Tensor], cfg: Mapping[str, Any]
                     ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
    """The weighted terms and the generated tensors (the pair reconstruction, both mixed images and, when
    computed, the cycle reconstructions)."""
    if "other" not in batch:
        raise ValueError("crosstrain needs batch['other'] (a frame of a different identity); the shared "
                         "trainer adds it because training_inputs lists 'other'")
    source, driving, other = batch["source"], batch["driving"], batch["other"]
    w_rec = float(cfg.get("reconstruction", 1.0))
    w_pair = float(cfg.get("pair_reconstruction", 1.0))
    gamma = float(cfg.get("gamma", 0.4))
    w_ca, w_cb = gamma * float(cfg.get("cycle_a", 1.0)), gamma * float(cfg.get("cycle_b", 1.0))
    perceptual = model.perceptual_loss(cfg, source.device, [0, 0, 0, 0, 0])
    out = model.cross(source, other, driving=driving, cycle=w_rec != 0 or perceptual is not None)
    losses: Dict[str, Tensor] = {}
    if w_pair != 0:
        losses["pair_reconstruction"] = w_pair * F.l1_loss(out["prediction"], driving)
    if w_rec != 0:
        losses["reconstruction"] = w_rec * (F.l1_loss(out["cycle_1"], source) + F.l1_loss(out["cycle_2"], other))
    if perceptual is not None:
        losses["perceptual"] = (perceptual(out["prediction"], driving) + perceptual(out["cycle_1"], source)
                                + perceptual(out["cycle_2"], other))
    if w_ca != 0:
        losses["cycle_a"] = w_ca * (F.mse_loss(out["a_mixed_12"], out["a1"]) + F.mse_loss(out["a_mixed_21"], out["a2"]))
    if w_cb != 0:
        losses["cycle_b"] = w_cb * (F.mse_loss(out["b_mixed_21"], out["b1"]) + F.mse_loss(out["b_mixed_12"], out["b2"]))
    losses.update(model.generator_gan_loss(cfg, torch.cat([out["prediction"], out["mixed_12"], out["mixed_21"]])))
    if not losses:
        raise ValueError("crosstrain: every loss weight is 0 (reconstruction, pair_reconstruction, gamma, generator_gan)")
    generated = {k: out[k] for k in ("prediction", "mixed_12", "mixed_21")}
    if "cycle_1" in out:
        generated.update(cycle_1=out["cycle_1"], cycle_2=out["cycle_2"])
    return losses, generated


def discriminator_logits(model: "CrossTrainAnimator", images: Tensor) -> List[Tensor]:
    """[N×1 logits] of the StyleGAN2 discriminator for images in [0, 1]."""
    return [model.require_discriminator("discriminator_logits")(images * 2 - 1)]


def discriminator_inputs(batch: Mapping[str, Tensor], generated: Mapping[str, Tensor]) -> Tuple[Tensor, Tensor]:
    """Real frames (source, driving, other) vs the pair reconstruction and both mixed images."""
    return (torch.cat([batch["source"], batch["driving"], batch["other"]]),
            torch.cat([generated["prediction"], generated["mixed_12"], generated["mixed_21"]]))
