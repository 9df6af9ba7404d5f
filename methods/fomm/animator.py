"""``fomm``: First Order Motion Model (Siarohin et al., NeurIPS 2019) behind the motionbench contract.

Same network as AliaksandrSiarohin/first-order-model: ``self.generator``, ``self.kp_detector`` and
``self.discriminator`` have the official state dicts, so official ``*.pth.tar`` files load strictly
(:meth:`FOMMAnimator.from_checkpoint`). The constructor takes the official ``model_params`` nodes
(``common_params``, ``kp_detector_params``, ``generator_params`` with ``dense_motion_params``,
``discriminator_params``) plus:

- ``align_corners`` — ``grid_sample`` semantics. True (default) is torch 1.0's behaviour, which the official
  checkpoints were trained with; False is what the unmodified official code does on torch ≥ 1.3.
- ``normalization_params`` — relative-mode defaults (official ``normalize_kp`` options).
- ``chunk_size`` — driving frames per forward pass of the fast path.
- ``channels_last`` — run inference convolutions in NHWC memory format (faster with oneDNN / cuDNN; the
  weights and the state dict are unchanged, training is unaffected).

Inference encodes the source once (keypoints, generator features, downsampled source) and animates the
driving frames in batches of ``chunk_size`` (B×T flattened) under ``torch.inference_mode()`` in eval mode.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor

from motionbench.core.adversarial import Adversarial
from motionbench.core.animator import Animator, Capabilities, SourceState
from motionbench.core.inference import ChunkedInference, per_frame_loop
from motionbench.methods.common.normalize import DEFAULT_NORMALIZATION, best_frames, movement_scale, normalize_kp

from . import losses as fomm_losses
from .discriminator import MultiScaleDiscriminator
from .generator import OcclusionAwareGenerator
from .keypoint_detector import KPDetector

__all__ = ["FOMMAnimator"]



class FOMMAnimator(Adversarial, ChunkedInference, Animator):
    name = "fomm"
    discriminator_option = "discriminator_params"
    capabilities = Capabilities(relative=True, keypoints=True, trainable=True, adversarial=True,
                                checkpoint_formats=("motionbench", "fomm-official"), half_precision=True)
    default_preset = "vox-256"
    #: official ``*.pth.tar``: ``generator`` and ``kp_detector`` (strict), ``discriminator`` when present and
    #: the config has one; optimisers and ``epoch`` are ignored (motionbench.core.checkpoint)
    official_entries = ("generator", "kp_detector")
    official_optional = ("discriminator.",)

    def __init__(self, common_params: Mapping[str, Any], kp_detector_params: Mapping[str, Any],
                 generator_params: Mapping[str, Any], discriminator_params: Optional[Mapping[str, Any]] = None,
                 align_corners: bool = True, normalization_params: Optional[Mapping[str, Any]] = None,
                 chunk_size: int = 4, channels_last: bool = True) -> None:
        super().__init__()
        common = dict(common_params)
        self.align_corners = bool(align_corners)
        self.generator = OcclusionAwareGenerator(**dict(generator_params), **common, align_corners=self.align_corners)
        self.kp_detector = KPDetector(**dict(kp_detector_params), **common)
        self.discriminator = (MultiScaleDiscriminator(**dict(discriminator_params), **common)
                              if discriminator_params is not None else None)
        unknown = set(normalization_params or {}) - set(DEFAULT_NORMALIZATION)
        if unknown:
            raise ValueError(f"unknown normalization_params {sorted(unknown)} (known: {sorted(DEFAULT_NORMALIZATION)})")
        self.normalization = dict(DEFAULT_NORMALIZATION, **dict(normalization_params or {}))
        self.init_inference(chunk_size, channels_last)

    # ------------------------------------------------------------------ inference
    def detect_keypoints(self, images: Tensor) -> Dict[str, Tensor]:
        """``{"value": B×K×2 (x, y) in [-1, 1], "jacobian": B×K×2×2}`` for B×3×H×W images in [0, 1]."""
        with self._no_grad_ctx():
            return self.kp_detector(images)

    def encode_source(self, source: Tensor) -> SourceState:
        """Source keypoints, the generator's encoded features and the dense-motion-resolution source."""
        with self._no_grad_ctx():
            src = self._fmt(source)
            state: SourceState = {"source": source, "kp_source": self.kp_detector(src),
                                  "features": self.generator.encode(src)}
            if self.generator.dense_motion_network is not None:
                state["source_down"] = self.generator.dense_motion_network.downsample(src)
        return state

    def animate_state(self, state: SourceState, driving: Tensor, *, mode: str, driving_ref: Optional[Tensor],
                      adapt_movement_scale: Optional[bool] = None, use_relative_movement: Optional[bool] = None,
                      use_relative_jacobian: Optional[bool] = None, find_best_frame: bool = False,
                      chunk_size: Optional[int] = None) -> Tensor:
        """Animate B×T driving frames from an encoded source, ``chunk_size`` frames per forward pass.

        Relative mode follows the official ``normalize_kp`` (defaults from ``normalization_params``).
        ``find_best_frame`` (relative mode, faces, needs the face-alignment weights) replaces ``driving_ref`` by
        the driving frame whose landmarks best match the source, which is what the demo's forward/backward
        split amounts to. It searches the frames of the first call with a given ``state`` and keeps that
        reference for later chunks; for the demo's whole-video search pass the whole clip at once (or find
        the frame with :func:`~motionbench.methods.common.normalize.find_best_frame` and pass ``driving_ref``).
        """
        b, t = driving.shape[:2]
        frames = driving.reshape(b * t, *driving.shape[2:])
        chunk = int(chunk_size or self.chunk_size)
        norm = dict(self.normalization)
        for key, value in (("adapt_movement_scale", adapt_movement_scale),
                           ("use_relative_movement", use_relative_movement),
                           ("use_relative_jacobian", use_relative_jacobian)):
            if value is not None:
                norm[key] = bool(value)
        with self._no_grad_ctx():
            kp_source = state["kp_source"]
            kp_ref, scale = None, None
            if mode == "relative":
                if find_best_frame:
                    if "best_frame_ref" not in state:  # chosen once per source state: chunks share the reference
                        idx = torch.as_tensor(best_frames(state["source"], driving), device=driving.device)
                        state["best_frame_ref"] = driving[torch.arange(b, device=driving.device), idx].clone()
                    driving_ref = state["best_frame_ref"]
                kp_ref = self.kp_detector(self._fmt(driving_ref))
                if norm["adapt_movement_scale"] and norm["use_relative_movement"]:
                    scale = movement_scale(kp_source["value"], kp_ref["value"])
            output = driving.new_empty(frames.shape)
            for sl, owner in self.frame_chunks(b, t, chunk, driving.device):
                output[sl] = self._animate_frames(state, frames[sl], owner, kp_ref, scale, norm)
        return output.view(driving.shape)

    def _animate_frames(self, state: SourceState, frames: Tensor, owner: Tensor, kp_ref: Optional[Dict[str, Tensor]],
                        scale: Optional[Tensor], norm: Mapping[str, bool]) -> Tensor:
        kp_source = {k: v[owner] for k, v in state["kp_source"].items()}
        kp_driving = self.kp_detector(self._fmt(frames))
        if kp_ref is not None:
            kp_driving = normalize_kp(kp_source, kp_driving, {k: v[owner] for k, v in kp_ref.items()},
                                      scale=None if scale is None else scale[owner.cpu()], **norm)
        if "source_down" in state:
            source, downsampled = state["source_down"][owner], True
        else:
            source, downsampled = self._fmt(state["source"][owner]), False
        out = self.generator.animate_features(state["features"][owner], source, kp_driving, kp_source,
                                              source_downsampled=downsampled, with_deformed=False)
        return out["prediction"]

    def official_animation(self, source: Tensor, driving: Tensor, *, mode: str = "relative",
                           frame_times: Optional[List[float]] = None, adapt_movement_scale: bool = True,
                           driving_ref: Optional[Tensor] = None) -> Tensor:
        """The official demo's ``make_animation`` (see :meth:`Animator.official_animation`): ``mode`` relative
        (``--relative``; ``adapt_movement_scale``: ``--adapt_scale``) or absolute; ``driving_ref`` (1×3×H×W,
        default: the first driving frame) is the reference of relative mode."""
        if mode not in ("absolute", "relative"):
            raise NotImplementedError(f"method 'fomm' has no {mode} mode")
        relative = mode == "relative"
        with torch.no_grad():
            kp_source = self.kp_detector(source)
            kp_driving_initial = self.kp_detector(driving[:1] if driving_ref is None else driving_ref)

            def render(kp_driving: Dict[str, Tensor]) -> Tensor:
                kp_norm = normalize_kp(kp_source=kp_source, kp_driving=kp_driving, kp_driving_initial=kp_driving_initial,
                                       use_relative_movement=relative, use_relative_jacobian=relative,
                                       adapt_movement_scale=adapt_movement_scale)
                return self.generator(source, kp_source=kp_source, kp_driving=kp_norm)["prediction"]

            return per_frame_loop(driving, self.kp_detector, render, frame_times)

    # ------------------------------------------------------------------ training
    def generator_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]
                         ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        return fomm_losses.generator_losses(self, batch, loss_cfg)

    def discriminator_logits(self, images: Tensor, batch: Mapping[str, Tensor], generated: Mapping[str, Tensor]) -> list:
        return fomm_losses.discriminator_logits(self, images, generated)
