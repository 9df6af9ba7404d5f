"""LWGAN training objective (official ``models/impersonator_trainer.py``) plus the estimator's equivariance.

Generator terms (loss config keys, ``conf/loss/lwgan.yaml``):

- ``rec``: ``lambda_rec`` · L1(SID reconstruction, source), on [-1, 1] images as the original;
- ``perceptual``: the TSF loss, per-VGG19-layer weights ``perceptual`` (default λ_tsf 10 × the official
  VGGLoss weights 1/32, 1/16, 1/8, 1/4, 1) at ``scales`` (official: [1]); ``perceptual_kind: pixel`` is the
  weight-free substitute;
- ``mask``: ``lambda_mask`` · MSE (BCE with ``mask_bce``) between the SID / TSF attention masks and the
  eroded background masks (targets detached, as the official HMR masks are constants);
- ``mask_smooth``: ``lambda_mask_smooth`` · total variation of the attention masks;
- ``gen_gan``: ``generator_gan`` · adversarial loss of the PatchGAN conditioned on the driving condition map.
  ``gan_kind: lsgan`` uses the official least-squares targets (real 1, fake −1, generator 0);
- ``equivariance_value`` / ``equivariance_jacobian``: FOMM's equivariance of the keypoint detector under a
  random TPS warp (the estimator's own unsupervised objective; not in the original, which had HMR).

The face identity loss (SphereFace, λ_face) and the style loss of the original are not implemented: they need
a pretrained face network and human faces, which the synthetic puppets do not have.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from motionbench.methods.fomm.losses import keypoint_equivariance

from .generator import erode

if TYPE_CHECKING:  # pragma: no cover
    from .animator import LWGANAnimator

__all__ = ["generator_losses", "lsgan_g_loss", "lsgan_d_loss", "discriminator_logits", "forward_train"]

DEFAULT_PERCEPTUAL = (10 / 32, 10 / 16, 10 / 8, 10 / 4, 10)


def forward_train(model: "LWGANAnimator", source: Tensor, driving: Tensor) -> Dict[str, Tensor]:
    """One training forward (official ``Impersonator.forward``, bg from the source only): the SID
    reconstruction ``fake_src`` and TSF output ``prediction`` (in [-1, 1] and [0, 1]), masks and targets."""
    if model.kp_detector is None:
        raise NotImplementedError("training with flow: external needs per-sample flows and masks in the batch; "
                                  "train with flow: keypoints (the estimator is learned jointly)")
    size = source.shape[-2:]
    kp_s, kp_d = model.kp_detector(source), model.kp_detector(driving)
    down = model.dense_motion_network.downsample(source)
    m = model.motion(down, kp_d, kp_s, size)
    bg_src = model.motion(down, kp_s, kp_s, size)["background"]
    enc = model.encode_inputs(source, bg_src)
    state = {"source": source, "num_sources": 1, **enc}
    owner = torch.arange(source.shape[0], device=source.device)
    tsf = model.transfer(state, owner, [m["flow"]], [m["occlusion"]], m["background"])
    src_color, src_mask = model.generator.decode_src(enc["features"])
    bg = enc["bg_image"]
    out = {"prediction": tsf["prediction"], "fake_src": src_mask * bg + (1 - src_mask) * src_color,
           "fake_bg": bg, "src_mask": src_mask, "tsf_mask": tsf["mask"], "tsf_cond": tsf["tsf_cond"],
           "src_mask_target": enc["source_crop_mask"], "tsf_mask_target": erode(m["background"], model.crop_erode),
           "flow": m["flow"], "occlusion": m["occlusion"]}
    for name, kp in (("kp_source", kp_s), ("kp_driving", kp_d)):
        for k, v in kp.items():
            out[f"{name}_{k}"] = v
    return out


def _tv(mat: Tensor) -> Tensor:
    return (mat[:, :, :, :-1] - mat[:, :, :, 1:]).abs().mean() + (mat[:, :, :-1, :] - mat[:, :, 1:, :]).abs().mean()


def generator_losses(model: "LWGANAnimator", batch: Mapping[str, Tensor], cfg: Mapping[str, Any]
                     ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
    source, driving = batch["source"], batch["driving"]
    gen = forward_train(model, source, driving)
    losses: Dict[str, Tensor] = {}
    lam_rec = float(cfg.get("lambda_rec", 10))
    if lam_rec:
        losses["rec"] = lam_rec * (gen["fake_src"] - (source * 2 - 1)).abs().mean()
    perceptual = model.perceptual_loss(cfg, driving.device, DEFAULT_PERCEPTUAL, default_scales=[1])
    if perceptual is not None:
        losses["perceptual"] = perceptual(gen["prediction"], driving)
    masks = torch.cat([gen["src_mask"], gen["tsf_mask"]])
    targets = torch.cat([gen["src_mask_target"], gen["tsf_mask_target"]]).detach()
    lam_mask = float(cfg.get("lambda_mask", 1))
    if lam_mask:
        crit = F.binary_cross_entropy if cfg.get("mask_bce", False) else F.mse_loss
        with torch.autocast(masks.device.type, enabled=False):  # BCE is not autocast-safe
            losses["mask"] = lam_mask * crit(masks.float(), targets.float().clamp(0, 1))
    lam_smooth = float(cfg.get("lambda_mask_smooth", 1))
    if lam_smooth:
        losses["mask_smooth"] = lam_smooth * _tv(masks)
    losses.update(model.generator_gan_loss(cfg, gen["prediction"], batch, gen))
    losses.update(keypoint_equivariance(model, driving, gen["kp_driving_value"], gen.get("kp_driving_jacobian"), cfg))
    return losses, gen


def lsgan_g_loss(fake: Tensor) -> Tensor:
    """The official LSGAN generator loss: target 0, between the discriminator's real (1) and fake (−1) targets."""
    return (fake ** 2).mean()


def lsgan_d_loss(real: Tensor, fake: Tensor, real_label: float = 1.0) -> Tensor:
    """The official LSGAN discriminator loss: targets real 1 (``real_label`` with smoothing), fake −1."""
    return ((real - real_label) ** 2).mean() + ((fake + 1) ** 2).mean()


def discriminator_logits(model: "LWGANAnimator", images: Tensor, generated: Mapping[str, Tensor]) -> List[Tensor]:
    """PatchGAN logits for [0, 1] images, conditioned on the driving condition map (official ``tsf_cond``)."""
    disc = model.require_discriminator("discriminator_logits")
    return [disc(torch.cat([images * 2 - 1, generated["tsf_cond"].detach()], dim=1))]
