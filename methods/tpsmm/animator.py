"""``tpsmm``: Thin-Plate Spline Motion Model (Zhao & Zhang, CVPR 2022) behind the motionbench contract.

Same networks as yoyo-nb/Thin-Plate-Spline-Motion-Model: ``inpainting_network``, ``kp_detector``,
``dense_motion_network``, ``bg_predictor`` (when ``common_params.bg``) and ``avd_network`` have the official
state dicts, so official ``*.pth.tar`` files load strictly through ``checkpoint=``. The constructor takes the
official ``model_params`` sections (``common_params``, ``generator_params``, ``dense_motion_params``,
``avd_network_params``) plus ``chunk_size`` (driving frames per forward pass) and ``channels_last`` (NHWC
inference convolutions; off by default: the instance norms return NCHW, so NHWC only adds conversions).

Modes: ``absolute`` (official "standard"), ``relative`` (official demo: source keypoints moved by the
driving displacement from the reference frame, scaled by sqrt of the convex-hull area ratio — always
adapted in the demo; ``adapt_movement_scale=False`` turns it off) and ``avd`` (the AVD network maps source
and driving keypoints to the animated ones). Inference follows the demo: no background motion
(``bg_param=None``); the background predictor is used in training and in :meth:`reconstruct`.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

from torch import Tensor

from motionbench.core.animator import Animator, Capabilities, SourceState
from motionbench.methods.common.avd_family import AVDFamily, Motion
from motionbench.methods.common.normalize import normalize_kp

from . import losses as tpsmm_losses
from .dense_motion import DenseMotionNetwork
from .inpainting import InpaintingNetwork
from .networks import AVDNetwork, BGMotionPredictor, KPDetector

__all__ = ["TPSMMAnimator"]


class TPSMMAnimator(AVDFamily, Animator):
    name = "tpsmm"
    avd_targets = (("fg_kp", "rec_kp", "lambda_shift"),)
    motion_detector, position_key = "kp_detector", "fg_kp"
    capabilities = Capabilities(relative=True, avd=True, keypoints=True, trainable=True,
                                checkpoint_formats=("motionbench", "tpsmm-official"))
    default_preset = "vox-256"
    official_entries = ("inpainting_network", "kp_detector", "dense_motion_network")
    official_optional = ("bg_predictor.", "avd_network.")  # the demo needs neither
    #: the AVD network is trained in a second stage (loss.stage=avd); the background predictor joins the first
    #: stage at loss.bg_start (official epoch 10 of 100), so a step-0 batch leaves both without gradients
    #: (tests/methods/test_tpsmm.py checks the background predictor's gradients after bg_start)
    unused_parameters = ("avd_network.", "bg_predictor.")

    def __init__(self, common_params: Mapping[str, Any], generator_params: Mapping[str, Any],
                 dense_motion_params: Mapping[str, Any], avd_network_params: Optional[Mapping[str, Any]] = None,
                 chunk_size: int = 4, channels_last: bool = False) -> None:
        super().__init__()
        common = dict(common_params)
        self.inpainting_network = InpaintingNetwork(**dict(generator_params), **common)
        self.kp_detector = KPDetector(**common)
        self.dense_motion_network = DenseMotionNetwork(**common, **dict(dense_motion_params))
        self.bg_predictor = BGMotionPredictor() if common.get("bg", False) else None
        self.avd_network = AVDNetwork(common["num_tps"], **dict(avd_network_params or {}))
        self.init_inference(chunk_size, channels_last)

    # ------------------------------------------------------------------ inference
    def detect_keypoints(self, images: Tensor) -> Dict[str, Tensor]:
        """``{"value": B×5K×2}`` (x, y) in [-1, 1] for B×3×H×W images in [0, 1]."""
        with self._no_grad_ctx():
            return {"value": self.kp_detector(self._fmt(images))["fg_kp"]}

    def encode_appearance(self, source: Tensor) -> SourceState:
        """The inpainting encoder's maps and the motion-resolution source."""
        return {"features": self.inpainting_network.encode(source),
                "source_down": self.dense_motion_network.downsample(source)}

    def relative_motion(self, kp_source: Motion, kp_driving: Motion, kp_ref: Motion, scale: Optional[Tensor]) -> Motion:
        """The official demo's ``kp_norm``: relative movement only (TPSMM has no Jacobians)."""
        norm = normalize_kp({"value": kp_source["fg_kp"]}, {"value": kp_driving["fg_kp"]}, {"value": kp_ref["fg_kp"]},
                            adapt_movement_scale=scale is not None, use_relative_movement=True, scale=scale)
        return {"fg_kp": norm["value"]}

    def render_encoded(self, state: SourceState, owner: Tensor, new: Motion, source: Motion) -> Tensor:
        motion = self.dense_motion_network(state["source_down"][owner], new, source, downsampled=True)
        return self.inpainting_network.animate_features([f[owner] for f in state["features"]], state["source"][owner],
                                                        motion)["prediction"]

    def render_official(self, source: Tensor, new: Motion, source_motion: Motion) -> Tensor:
        motion = self.dense_motion_network(source, new, source_motion, bg_param=None)
        return self.inpainting_network(source, motion)["prediction"]

    def reconstruct(self, source: Tensor, driving: Tensor) -> Dict[str, Any]:
        """The path of the official ``run.py --mode reconstruction``: absolute keypoints and the background
        motion ``bg_param`` predicted from (source, driving) (B×3×H×W each); all intermediate outputs."""
        with self._no_grad_ctx():
            kp_source, kp_driving = self.kp_detector(source), self.kp_detector(driving)
            bg_param = self.bg_predictor(source, driving) if self.bg_predictor is not None else None
            motion = self.dense_motion_network(source, kp_driving, kp_source, bg_param=bg_param)
            out = self.inpainting_network(source, motion)
        return {**motion, **out, "bg_param": bg_param, "kp_source": kp_source, "kp_driving": kp_driving}

    # ------------------------------------------------------------------ training
    def reconstruction_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]
                              ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        return tpsmm_losses.reconstruction_losses(self, batch, loss_cfg)
