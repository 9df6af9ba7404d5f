"""TPSMM training objectives (official ``modules/model.py`` and ``train_avd.py``).

Stage ``reconstruction`` (``loss.stage``, default): perceptual pyramid, equivariance of the keypoints under
random TPS warps (TPSMM's r² log r² kernel), warp loss (warped source encoder maps vs the driving frame's
occluded encoder maps), background loss (the background affine of (s, d) times that of (d, s) ≈ I, from
``bg_start`` on), and the dropout schedule of the TPS contributions (Eq. 7-8) for the first
``dropout_epoch`` epochs. Epochs are fractions of the run: epoch = progress × ``num_epochs`` (official 100),
with progress = step / max_steps as set by the shared trainer.

Stage ``avd`` (official ``train_avd.py``; :meth:`~motionbench.methods.common.avd_family.AVDFamily.avd_losses`):
only the AVD network trains, to map (source keypoints, randomly rescaled driving keypoints) back to the
driving keypoints (``avd.lambda_shift`` × L1); start it from a trained checkpoint (``method.checkpoint=...``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Mapping, Tuple

import torch
from torch import Tensor

from motionbench.nn.tps import equivariance_losses

if TYPE_CHECKING:  # pragma: no cover
    from .animator import TPSMMAnimator

__all__ = ["reconstruction_losses", "dropout_probability"]


def dropout_probability(epoch: float, cfg: Mapping[str, Any]) -> float:
    """Official schedule: p rises linearly from ``dropout_startp`` by ``dropout_maxp`` per ``dropout_inc_epoch``
    epochs, capped at ``dropout_maxp``; 0 (no dropout) from ``dropout_epoch`` on."""
    if epoch >= float(cfg.get("dropout_epoch", 35)):
        return 0.0
    maxp = float(cfg.get("dropout_maxp", 0.3))
    return min(epoch / float(cfg.get("dropout_inc_epoch", 10)) * maxp + float(cfg.get("dropout_startp", 0.1)), maxp)


def reconstruction_losses(model: "TPSMMAnimator", batch: Mapping[str, Tensor], cfg: Mapping[str, Any]
                          ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
    """The official first stage's weighted loss terms and the generated tensors."""
    source, driving = batch["source"], batch["driving"]
    epoch = float(getattr(model, "train_progress", 0.0)) * float(cfg.get("num_epochs", 100))
    kp_source, kp_driving = model.kp_detector(source), model.kp_detector(driving)
    use_bg = model.bg_predictor is not None and epoch >= float(cfg.get("bg_start", 10))
    bg_param = model.bg_predictor(source, driving) if use_bg else None
    motion = model.dense_motion_network(source, kp_driving, kp_source, bg_param=bg_param,
                                        dropout_p=dropout_probability(epoch, cfg))
    out = model.inpainting_network(source, motion, warped_maps=True)
    prediction = out["prediction"]
    generated: Dict[str, Tensor] = {"prediction": prediction, "deformed": out["deformed"],
                                    "kp_source": kp_source["fg_kp"], "kp_driving": kp_driving["fg_kp"]}
    losses: Dict[str, Tensor] = {}

    perceptual = model.perceptual_loss(cfg, prediction.device)
    if perceptual is not None:
        losses["perceptual"] = perceptual(prediction, driving)

    losses.update(equivariance_losses(lambda frames: (model.kp_detector(frames)["fg_kp"], None), driving,
                                      kp_driving["fg_kp"], None, cfg, align_corners=True, kernel="r2"))

    warp_weight = float(cfg.get("warp_loss", 0))
    if warp_weight != 0:
        encode_map = model.inpainting_network.get_encode(driving, motion["occlusion_map"])
        decode_map = out["warped_encoder_maps"]
        value = sum(torch.abs(e - decode_map[-i - 1]).mean() for i, e in enumerate(encode_map))
        losses["warp_loss"] = warp_weight * value

    bg_weight = float(cfg.get("bg", 0))
    if use_bg and bg_weight != 0:
        value = torch.matmul(bg_param, model.bg_predictor(driving, source))
        eye = torch.eye(3, dtype=value.dtype, device=value.device).view(1, 3, 3)
        losses["bg"] = bg_weight * torch.abs(eye - value).mean()
    return losses, generated
