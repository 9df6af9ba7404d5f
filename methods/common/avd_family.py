"""What TPSMM and MRAA share: the encode-once inference path with the ``avd`` mode, the official demo's
per-frame loop it is tested against (:meth:`AVDFamily.official_animation`), and the two-stage training switch.

Both methods detect motion parameters of the source and of every driving frame (TPSMM: keypoints ``fg_kp``;
MRAA: regions ``shift`` / ``affine`` / ``covar``), turn them into the parameters the renderer gets in each
mode (:meth:`AVDFamily.animated_motion`: absolute = the driving frame's, relative = the official demo's
normalisation with the movement scale of the ``position_key`` parameters, avd = the AVD network's), and
render the source with them — per chunk of frames from the source's cached encoding (:meth:`render_encoded`)
or, in the official loop, from the source image (:meth:`render_official`).
"""
from __future__ import annotations

import abc
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor

from motionbench.core.animator import SourceState
from motionbench.core.inference import ChunkedInference, per_frame_loop
from motionbench.nn.avd import configure_stage, random_scale, stage_of

from .normalize import movement_scale

__all__ = ["AVDFamily", "Motion"]

Motion = Dict[str, Tensor]  # motion parameters of a batch of images (keypoints or regions)


class AVDFamily(ChunkedInference, abc.ABC):
    """Mixin of the TPSMM and MRAA animators (before :class:`~motionbench.core.animator.Animator` in the bases)."""

    #: the sub-module that detects motion parameters (``kp_detector`` / ``region_predictor``)
    motion_detector: ClassVar[str]
    #: the parameter whose spread gives relative mode's movement scale (``fg_kp`` / ``shift``)
    position_key: ClassVar[str]
    #: what the AVD stage reconstructs: (parameter, loss term, weight in ``loss.avd``) per parameter; the
    #: position parameter is a B×K×2 point set, any other a B×K×2×2 matrix (both scaled by the random theta)
    avd_targets: ClassVar[Tuple[Tuple[str, str, str], ...]]

    def detect_motion(self, images: Tensor) -> Motion:
        return getattr(self, self.motion_detector)(self._fmt(images))

    def encode_source(self, source: Tensor) -> SourceState:
        """The source's motion parameters and the renderer's encoding of it (:meth:`encode_appearance`)."""
        with self._no_grad_ctx():  # type: ignore[attr-defined]
            src = self._fmt(source)
            return {"source": source, "motion": getattr(self, self.motion_detector)(src), **self.encode_appearance(src)}

    @abc.abstractmethod
    def encode_appearance(self, source: Tensor) -> SourceState:
        """What the renderer caches about the (inference-format) source image."""

    def animated_motion(self, source: Motion, driving: Motion, mode: str, ref: Optional[Motion] = None,
                        scale: Optional[Tensor] = None) -> Motion:
        """The motion parameters given to the renderer in ``mode``: the driving frame's (absolute), the AVD
        network's (avd) or the official demo's relative transfer (``ref`` and movement ``scale``)."""
        if mode == "absolute":
            return driving
        if mode == "avd":
            return self.avd_network(source, driving)  # type: ignore[attr-defined]
        return self.relative_motion(source, driving, ref, scale)

    @abc.abstractmethod
    def relative_motion(self, source: Motion, driving: Motion, ref: Motion, scale: Optional[Tensor]) -> Motion:
        """Relative mode's motion parameters (the official demo's normalisation; ``scale`` None: no adaptation)."""

    @abc.abstractmethod
    def render_encoded(self, state: SourceState, owner: Tensor, new: Motion, source: Motion) -> Tensor:
        """Predictions (N×3×H×W) of a chunk whose frames belong to the sources ``owner`` of ``state``."""

    @abc.abstractmethod
    def render_official(self, source: Tensor, new: Motion, source_motion: Motion) -> Tensor:
        """The official demo's prediction of one frame from the 1×3×H×W source image."""

    def movement_scale(self, source: Motion, ref: Motion) -> Tensor:
        return movement_scale(source[self.position_key], ref[self.position_key])

    def animate_state(self, state: SourceState, driving: Tensor, *, mode: str, driving_ref: Optional[Tensor],
                      adapt_movement_scale: bool = True, chunk_size: Optional[int] = None) -> Tensor:
        """Animate B×T driving frames from an encoded source, ``chunk_size`` frames per forward pass."""
        b, t = driving.shape[:2]
        frames = driving.reshape(b * t, *driving.shape[2:])
        with self._no_grad_ctx():  # type: ignore[attr-defined]
            ref, scale = None, None
            if mode == "relative":
                ref = self.detect_motion(driving_ref)
                if adapt_movement_scale:
                    scale = self.movement_scale(state["motion"], ref)
            output = driving.new_empty(frames.shape)
            for sl, owner in self.frame_chunks(b, t, int(chunk_size or self.chunk_size), driving.device):  # type: ignore[attr-defined]
                source = {k: v[owner] for k, v in state["motion"].items()}
                new = self.animated_motion(source, self.detect_motion(frames[sl]), mode,
                                           None if ref is None else {k: v[owner] for k, v in ref.items()},
                                           None if scale is None else scale[owner.cpu()])
                output[sl] = self.render_encoded(state, owner, new, source)
        return output.view(driving.shape)

    def official_animation(self, source: Tensor, driving: Tensor, *, mode: str = "relative",
                           frame_times: Optional[List[float]] = None) -> Tensor:
        """The official demo's ``make_animation`` (see :meth:`Animator.official_animation`). ``mode`` is
        ``absolute`` (official "standard"), ``relative`` (the demo's defaults: movement scale always adapted)
        or ``avd``."""
        detect = getattr(self, self.motion_detector)
        with torch.no_grad():
            source_motion, initial = detect(source), detect(driving[:1])
            scale = self.movement_scale(source_motion, initial) if mode == "relative" else None
            return per_frame_loop(driving, detect, lambda motion: self.render_official(
                source, self.animated_motion(source_motion, motion, mode, initial, scale), source_motion), frame_times)

    def configure_training(self, loss_cfg: Mapping[str, Any]) -> None:
        """``loss.stage=avd`` trains only the AVD network (official ``train_avd.py``)."""
        configure_stage(self, loss_cfg)

    @abc.abstractmethod
    def reconstruction_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]
                              ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """The first stage's weighted loss terms and generated tensors (the method's official objective)."""

    def generator_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]
                         ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Weighted loss terms of the configured stage (``loss.stage``) and the generated tensors."""
        if stage_of(loss_cfg) == "avd":
            return self.avd_losses(batch, loss_cfg)
        return self.reconstruction_losses(batch, loss_cfg)

    def avd_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]
                   ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Official ``train_avd.py``: the AVD network recovers the driving frame's motion parameters from the
        source's (identity) and a randomly rescaled copy of the driving frame's (pose); L1 per parameter."""
        cfg = dict(loss_cfg.get("avd") or {})
        with torch.no_grad():
            identity, target = self.detect_motion(batch["source"]), self.detect_motion(batch["driving"])
            points = target[self.position_key]
            theta = random_scale(float(cfg.get("random_scale", 0.25)), points.shape[0], points)
            pose = {key: (torch.matmul(theta, target[key].unsqueeze(-1)).squeeze(-1) if key == self.position_key
                          else torch.matmul(theta, target[key])) for key, _, _ in self.avd_targets}
        rec = self.avd_network(identity, pose)  # type: ignore[attr-defined]
        losses = {term: float(cfg.get(weight, 1.0)) * torch.abs(target[key] - rec[key]).mean()
                  for key, term, weight in self.avd_targets}
        return losses, {f"avd_{self.position_key}": rec[self.position_key]}
