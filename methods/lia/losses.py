"""LIA training objective (official ``trainer.py``: ``gen_update`` / ``dis_update``).

Generator terms (loss config keys, ``conf/loss/lia.yaml``): ``perceptual`` (the VGG19 pyramid on clamped
images, as the official VGGLoss; ``perceptual_kind: pixel`` is the weight-free substitute), ``l1`` (in [-1, 1])
and the non-saturating GAN term ``gen_gan``, all on the reconstruction of ``driving`` from ``source`` in absolute
mode. The discriminator loss is motionbench.Adversarial's: the official ``dis_update`` (logistic loss, real
driving frames vs reconstructions) on :func:`discriminator_logits`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Tuple

import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:  # pragma: no cover
    from .animator import LIAAnimator

__all__ = ["generator_losses", "discriminator_logits"]


def generator_losses(model: "LIAAnimator", batch: Mapping[str, Tensor], cfg: Mapping[str, Any]
                     ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
    """Official ``gen_update``: the weighted terms and the generated tensors."""
    source, driving = batch["source"], batch["driving"]
    recon = model.generator(source * 2 - 1, driving * 2 - 1)
    prediction = (recon + 1) / 2
    losses: Dict[str, Tensor] = {}
    perceptual = model.perceptual_loss(cfg, recon.device)
    if perceptual is not None:
        losses["perceptual"] = perceptual((recon.clamp(-1, 1) + 1) / 2, driving)
    l1 = float(cfg.get("l1", 1.0))
    if l1 != 0:
        losses["l1"] = l1 * F.l1_loss(recon, driving * 2 - 1)
    losses.update(model.generator_gan_loss(cfg, prediction, batch))
    return losses, {"prediction": prediction}


def discriminator_logits(model: "LIAAnimator", images: Tensor) -> List[Tensor]:
    """[B×1 logits] of the StyleGAN2 discriminator for images in [0, 1]."""
    return [model.require_discriminator("discriminator_logits")(images * 2 - 1)]
