"""FOMM training objectives (official ``modules/model.py``): perceptual pyramid, LSGAN + feature matching,
equivariance of keypoint values and Jacobians under random TPS warps.

Loss config keys (``conf/loss/fomm.yaml``, official ``train_params`` names): ``scales``, ``perceptual``
(per-VGG-layer weights), ``perceptual_kind`` (vgg19 | pixel), ``generator_gan``, ``discriminator_gan``,
``feature_matching`` (per-D-layer weights or one number), ``equivariance_value``, ``equivariance_jacobian``,
``transform_params`` (sigma_affine, sigma_tps, points_tps), plus the shared ``gan_kind`` and
``label_smoothing``. As in the official trainer, the discriminator is only trained when ``generator_gan``
is non-zero (the discriminator loss is motionbench.Adversarial's: LSGAN on every scale's logit map,
real driving frames vs predictions, no terms when ``generator_gan`` is 0).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from torch import Tensor

from motionbench.nn.losses import ImagePyramid, feature_matching_loss
from motionbench.nn.tps import equivariance_losses

if TYPE_CHECKING:  # pragma: no cover
    from .animator import FOMMAnimator

__all__ = ["generator_losses", "discriminator_logits", "keypoint_equivariance"]


def _layer_weights(value: Any, n: int) -> List[float]:
    if isinstance(value, (int, float)):
        return [float(value)] * n
    return [float(v) for v in value]


def _disc_pyramid(model: Any, images: Tensor) -> Dict[str, Tensor]:
    scales = model.discriminator.scales
    pyr = model.loss_module(("disc_pyramid", tuple(scales)), lambda: ImagePyramid(scales, images.shape[1]),
                            images.device)
    return {"prediction_" + str(s): v for s, v in pyr(images).items()}


def _kp_from(generated: Mapping[str, Tensor], name: str) -> Dict[str, Tensor]:
    return {k: generated[f"{name}_{k}"].detach() for k in ("value", "jacobian") if f"{name}_{k}" in generated}


def generator_losses(model: "FOMMAnimator", batch: Mapping[str, Tensor], cfg: Mapping[str, Any]
                     ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
    """Weighted generator-side terms and the generated tensors (flat dict) for the discriminator step."""
    source, driving = batch["source"], batch["driving"]
    kp_source = model.kp_detector(source)
    kp_driving = model.kp_detector(driving)
    out = model.generator(source, kp_driving=kp_driving, kp_source=kp_source)
    prediction = out["prediction"]
    generated: Dict[str, Tensor] = {k: out[k] for k in ("prediction", "deformed", "occlusion_map", "mask") if k in out}
    for name, kp in (("kp_source", kp_source), ("kp_driving", kp_driving)):
        for k, v in kp.items():
            generated[f"{name}_{k}"] = v
    losses: Dict[str, Tensor] = {}

    perceptual = model.perceptual_loss(cfg, prediction.device)
    if perceptual is not None:
        losses["perceptual"] = perceptual(prediction, driving)

    if model.uses_generator_gan(cfg):
        kp = {k: v.detach() for k, v in kp_driving.items()}
        maps_fake = model.discriminator(_disc_pyramid(model, prediction), kp=kp)
        maps_real = model.discriminator(_disc_pyramid(model, driving), kp=kp)
        scales = [str(s) for s in model.discriminator.scales]
        losses.update(model.generator_gan_loss(cfg, logits=[maps_fake["prediction_map_" + s] for s in scales]))
        fm_cfg = cfg.get("feature_matching", 0)
        n_layers = len(maps_fake["feature_maps_" + scales[0]])
        fm = _layer_weights(fm_cfg, n_layers)
        if sum(fm) != 0:
            losses["feature_matching"] = sum(
                feature_matching_loss(maps_real["feature_maps_" + s], maps_fake["feature_maps_" + s], fm) for s in scales)

    losses.update(keypoint_equivariance(model, driving, kp_driving["value"], kp_driving.get("jacobian"), cfg))
    return losses, generated


def keypoint_equivariance(model: Any, driving: Tensor, value: Tensor, jacobian: Optional[Tensor],
                          cfg: Mapping[str, Any]) -> Dict[str, Tensor]:
    """FOMM's equivariance terms for any model with a FOMM keypoint detector (FOMM, LWGAN)."""
    def detect(frames: Tensor):
        kp = model.kp_detector(frames)
        return kp["value"], kp.get("jacobian")

    return equivariance_losses(detect, driving, value, jacobian, cfg, align_corners=model.align_corners)


def discriminator_logits(model: Any, images: Tensor, generated: Mapping[str, Tensor]) -> List[Tensor]:
    """Logit maps of every scale of a :class:`~.discriminator.MultiScaleDiscriminator` (FOMM's, IMF's) for
    ``images``, conditioned on the driving keypoints where the discriminator uses them."""
    disc = model.require_discriminator("discriminator_logits")
    maps = disc(_disc_pyramid(model, images), kp=_kp_from(generated, "kp_driving"))
    return [maps["prediction_map_" + str(s)] for s in disc.scales]
