"""``mraa``: Motion Representations for Articulated Animation (Siarohin et al., CVPR 2021) behind the
motionbench contract.

Same networks as snap-research/articulated-animation: ``generator``, ``region_predictor``, ``bg_predictor``
and ``avd_network`` have the official state dicts, so official ``*.pth`` files load strictly through
``checkpoint=``. The constructor takes the official ``model_params`` keys (``num_regions``, ``num_channels``,
``estimate_affine``, ``revert_axis_swap``, ``region_predictor_params``, ``generator_params``,
``bg_predictor_params``, ``avd_network_params``) plus:

- ``align_corners`` — ``grid_sample`` semantics: False (default) is what MRAA was trained with (torch 1.4's
  default); True makes the background identity warp exact (not the trained semantics).
- ``chunk_size`` — driving frames per forward pass; ``channels_last`` — NHWC inference convolutions.

Modes (official ``get_animation_region_params``): ``absolute`` ("standard"), ``relative`` (shift moved by the
driving displacement × sqrt of the hull-area ratio of the shifts; affine = A_d·A_d0⁻¹·A_s; the driving
covariance is passed unchanged, as the official code does) and ``avd``. Inference has no background motion
(as the demo); the background predictor is trained and used by :meth:`reconstruct`.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

from torch import Tensor

from motionbench.core.animator import Animator, Capabilities, SourceState
from motionbench.methods.common.avd_family import AVDFamily, Motion
from motionbench.methods.common.normalize import normalize_kp

from . import losses as mraa_losses
from .generator import Generator
from .regions import AVDNetwork, BGMotionPredictor, RegionPredictor

__all__ = ["MRAAAnimator"]


class MRAAAnimator(AVDFamily, Animator):
    name = "mraa"
    avd_targets = (("shift", "rec_shift", "lambda_shift"), ("affine", "rec_affine", "lambda_affine"))
    motion_detector, position_key = "region_predictor", "shift"
    capabilities = Capabilities(relative=True, avd=True, keypoints=True, trainable=True,
                                checkpoint_formats=("motionbench", "mraa-official"))
    default_preset = "vox-256"
    official_entries = ("generator", "region_predictor")
    official_optional = ("bg_predictor.", "avd_network.")  # the demo needs neither
    #: the AVD network is trained in a second stage (loss.stage=avd) and unused by the first
    unused_parameters = ("avd_network.",)

    def __init__(self, num_regions: int, num_channels: int, estimate_affine: bool, region_predictor_params: Mapping[str, Any],
                 generator_params: Mapping[str, Any], bg_predictor_params: Mapping[str, Any],
                 avd_network_params: Optional[Mapping[str, Any]] = None, revert_axis_swap: bool = True,
                 align_corners: bool = False, chunk_size: int = 4, channels_last: bool = True) -> None:
        super().__init__()
        self.align_corners = bool(align_corners)
        self.generator = Generator(num_channels, num_regions, revert_axis_swap=revert_axis_swap,
                                   align_corners=self.align_corners, **dict(generator_params))
        self.region_predictor = RegionPredictor(num_regions=num_regions, num_channels=num_channels,
                                                estimate_affine=estimate_affine, **dict(region_predictor_params))
        self.bg_predictor = BGMotionPredictor(num_channels=num_channels, **dict(bg_predictor_params))
        self.avd_network = AVDNetwork(num_regions, revert_axis_swap=revert_axis_swap, **dict(avd_network_params or {}))
        self.init_inference(chunk_size, channels_last)

    # ------------------------------------------------------------------ inference
    def detect_keypoints(self, images: Tensor) -> Dict[str, Tensor]:
        """``{"value": B×K×2}`` region centres (x, y) in [-1, 1], plus ``"affine"`` / ``"covar"`` (B×K×2×2)."""
        with self._no_grad_ctx():
            params = self.region_predictor(self._fmt(images))
        return {"value": params["shift"], **{k: params[k] for k in ("affine", "covar") if k in params}}

    def encode_appearance(self, source: Tensor) -> SourceState:
        """The generator's encoder outputs and the motion-resolution source."""
        flow = self.generator.pixelwise_flow_predictor
        return {"skips": self.generator.encode_skips(source),
                **({"source_down": flow.downsample(source)} if flow is not None else {})}

    def relative_motion(self, source: Motion, driving: Motion, ref: Motion, scale: Optional[Tensor]) -> Motion:
        """The official ``get_animation_region_params`` in relative mode: shifts and affines relative to ``ref``."""
        as_kp = [{"value": p["shift"], **({"jacobian": p["affine"]} if "affine" in p else {})} for p in (source, driving, ref)]
        norm = normalize_kp(*as_kp, adapt_movement_scale=scale is not None, use_relative_movement=True,
                            use_relative_jacobian=True, scale=scale)
        new = dict(driving, shift=norm["value"])
        if "jacobian" in norm:
            new["affine"] = norm["jacobian"]
        return new

    def render_encoded(self, state: SourceState, owner: Tensor, new: Motion, source: Motion) -> Tensor:
        flow = self.generator.pixelwise_flow_predictor
        motion = flow(state["source_down"][owner], new, source, downsampled=True) if flow is not None else None
        return self.generator.animate_skips([s[owner] for s in state["skips"]], state["source"][owner], motion)

    def render_official(self, source: Tensor, new: Motion, source_motion: Motion) -> Tensor:
        return self.generator(source, new, source_motion)["prediction"]

    def reconstruct(self, source: Tensor, driving: Tensor) -> Dict[str, Tensor]:
        """The path of the official ``reconstruction.py``: absolute regions and the background motion
        ``bg_params`` from (source, driving) (B×3×H×W each); all intermediate outputs."""
        with self._no_grad_ctx():
            src, drv = self.region_predictor(source), self.region_predictor(driving)
            bg_params = self.bg_predictor(source, driving)
            out = self.generator(source, drv, src, bg_params=bg_params)
        return {**out, "bg_params": bg_params}

    # ------------------------------------------------------------------ training
    def reconstruction_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]
                              ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        return mraa_losses.reconstruction_losses(self, batch, loss_cfg)
