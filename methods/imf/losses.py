"""IMF training objective (supplementary material, eq. 4): λ_p·L1 + λ_v·VGG19 pyramid + λ_G·hinge GAN, the
reconstruction of ``driving`` from ``source`` in absolute mode.

Loss config keys (``conf/loss/imf.yaml``): ``l1``, ``perceptual`` (per-VGG19-layer weights; ``perceptual_kind:
pixel`` is the weight-free substitute), ``scales``, ``generator_gan`` / ``discriminator_gan`` / ``gan_kind``. The
discriminator is FOMM's multi-scale patch discriminator (pix2pixHD design: the image and its ½ down-sampling),
its logits :func:`motionbench.methods.fomm.losses.discriminator_logits`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Mapping, Tuple

import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:  # pragma: no cover
    from .animator import IMFAnimator

__all__ = ["generator_losses"]


def generator_losses(model: "IMFAnimator", batch: Mapping[str, Tensor], cfg: Mapping[str, Any]
                     ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
    """The weighted terms (GAN summed over the discriminator scales) and the generated tensors."""
    source, driving = batch["source"], batch["driving"]
    model._check_size(source)
    prediction = model.generator(source, driving)
    losses: Dict[str, Tensor] = {}
    l1 = float(cfg.get("l1", 10.0))
    if l1 != 0:
        losses["l1"] = l1 * F.l1_loss(prediction, driving)
    perceptual = model.perceptual_loss(cfg, prediction.device)
    if perceptual is not None:
        losses["perceptual"] = perceptual(prediction, driving)
    losses.update(model.generator_gan_loss(cfg, prediction, batch))
    return losses, {"prediction": prediction}
