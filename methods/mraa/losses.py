"""MRAA training objectives (official ``modules/model.py:ReconstructionModel`` and ``train_avd.py``).

Stage ``reconstruction`` (``loss.stage``, default): the background predictor's transform drives the
background of every training forward pass (it learns through the reconstruction); perceptual pyramid;
equivariance of region shifts and affines under random affine+TPS warps (FOMM's transform; the affine term
undoes SVD axis swaps by the sign of its [0, 0] element when ``revert_axis_swap``). The random warp uses
the model's ``align_corners`` (the official code: the default of its torch, False).

Stage ``avd`` (:meth:`~motionbench.methods.common.avd_family.AVDFamily.avd_losses`): only the AVD network trains, mapping (source regions, randomly rescaled driving regions)
back to the driving regions (``avd.lambda_shift`` × L1(shift) + ``avd.lambda_affine`` × L1(affine)).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Mapping, Tuple

from torch import Tensor

from motionbench.nn.tps import equivariance_losses

if TYPE_CHECKING:  # pragma: no cover
    from .animator import MRAAAnimator

__all__ = ["reconstruction_losses"]


def reconstruction_losses(model: "MRAAAnimator", batch: Mapping[str, Tensor], cfg: Mapping[str, Any]
                          ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
    """The official first stage's weighted loss terms and the generated tensors."""
    source, driving = batch["source"], batch["driving"]
    source_regions, driving_regions = model.region_predictor(source), model.region_predictor(driving)
    bg_params = model.bg_predictor(source, driving)
    out = model.generator(source, driving_regions, source_regions, bg_params=bg_params)
    prediction = out["prediction"]
    generated = {"prediction": prediction, "deformed": out["deformed"], "kp_driving": driving_regions["shift"]}
    losses: Dict[str, Tensor] = {}

    perceptual = model.perceptual_loss(cfg, prediction.device)
    if perceptual is not None:
        losses["perceptual"] = perceptual(prediction, driving)

    def detect(frames: Tensor):
        regions = model.region_predictor(frames)
        return regions["shift"], regions["affine"]

    losses.update(equivariance_losses(detect, driving, driving_regions["shift"], driving_regions["affine"], cfg,
                                      names=("equivariance_shift", "equivariance_affine"),
                                      align_corners=model.align_corners,
                                      sign_fix=model.generator.pixelwise_flow_predictor.revert_axis_swap))
    return losses, generated
