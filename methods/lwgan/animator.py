"""``lwgan``: Liquid Warping GAN (Liu et al., ICCV 2019) without SMPL, behind the motionbench contract.

``self.generator`` is the official three-stream ``ImpersonatorGenerator`` (BG / SID / TSF with Liquid Warping
Blocks) and ``self.discriminator`` the official PatchGAN, both with the state-dict layout of
svip-lab/impersonator (official ``*_G.pth`` files load: :meth:`LWGANAnimator.from_checkpoint`).

What replaces the body mesh (HMR + neural mesh renderer), ``flow: keypoints`` (default): FOMM's
:class:`~motionbench.methods.fomm.keypoint_detector.KPDetector` and
:class:`~motionbench.methods.fomm.dense_motion.DenseMotionNetwork`, trained jointly with the generator, give

- ``T``: the dense backward flow driving → source (the official ``T`` from ``cal_bc_transform``);
- the background masks (1 = background, the last channel of the official condition maps): channel 0 of the
  dense-motion region softmax (the "identity motion" region), in the driving frame from the
  source→driving pass and in the source frame from a source→source pass (``kp_driving = kp_source``);
- the occlusion map, which zeroes the warped source where it is not visible (the official ``syn_img`` is
  black wherever the mesh does not cover).

Condition maps (3 channels, like the official ``cond_nc = 3``): the source coordinates each pixel shows
(``T`` for the driving frame, the identity grid for the source) inside the foreground, plus the background
mask — the analogue of SMPL's correspondence maps. ``flow: external`` builds no estimator; ``animate`` then
takes ``flow=`` (and optionally ``background_mask=``), e.g. from SMPL correspondences.

Multi-source (``capabilities.multi_source``): sources B×N×3×H×W; the LWB sums the N warped source
features (official ``swap``), the warped RGB input of the TSF stream is the occlusion-weighted sum of the
warped sources (divided by max(1, Σ occlusion)), the background is the mean of the N inpainted
backgrounds, the condition maps use the first source's flow.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from motionbench.core.adversarial import Adversarial
from motionbench.core.animator import Animator, Capabilities, SourceState
from motionbench.core.inference import ChunkedInference
from motionbench.core.checkpoint import CHECKPOINT_FORMAT, CheckpointError, build_official
from motionbench.methods.fomm.dense_motion import DenseMotionNetwork
from motionbench.methods.fomm.keypoint_detector import KPDetector
from motionbench.methods.common.normalize import DEFAULT_NORMALIZATION, movement_scale, normalize_kp
from motionbench.nn.blocks import make_coordinate_grid

from . import losses as lwgan_losses
from .generator import ImpersonatorGenerator, PatchDiscriminator, erode, resize_flow

__all__ = ["LWGANAnimator"]
log = logging.getLogger("motionbench")

FLOWS = ("keypoints", "external")


class LWGANAnimator(Adversarial, ChunkedInference, Animator):
    name = "lwgan"
    capabilities = Capabilities(relative=True, keypoints=True, trainable=True, adversarial=True, multi_source=True,
                                checkpoint_formats=("motionbench", "lwgan-official"), half_precision=True)
    default_preset = "256"
    #: an official ``*_G.pth`` holds only the generator (motionbench.core.checkpoint)
    official_optional = ("discriminator.", "kp_detector.", "dense_motion_network.")
    discriminator_option = "discriminator_params"
    gan_defaults = {"generator_gan": 1.0, "discriminator_gan": 1.0, "gan_kind": "lsgan"}

    def __init__(self, generator_params: Mapping[str, Any], discriminator_params: Optional[Mapping[str, Any]] = None,
                 flow: str = "keypoints", common_params: Optional[Mapping[str, Any]] = None,
                 kp_detector_params: Optional[Mapping[str, Any]] = None,
                 dense_motion_params: Optional[Mapping[str, Any]] = None, bg_erode: int = 15, crop_erode: int = 3,
                 align_corners: bool = True, normalization_params: Optional[Mapping[str, Any]] = None,
                 chunk_size: int = 4) -> None:
        super().__init__()
        if flow not in FLOWS:
            raise ValueError(f"flow must be one of {FLOWS}, got {flow!r}")
        if int(bg_erode) % 2 == 0 or int(crop_erode) % 2 == 0:
            raise ValueError(f"bg_erode / crop_erode must be odd kernel sizes, got {bg_erode} / {crop_erode}")
        self.flow = flow
        self.init_inference(chunk_size)
        self.align_corners = bool(align_corners)
        self.bg_erode, self.crop_erode = int(bg_erode), int(crop_erode)
        self.generator = ImpersonatorGenerator(bg_dim=4, src_dim=6, tsf_dim=6, align_corners=self.align_corners,
                                               **dict(generator_params))
        self.discriminator = (PatchDiscriminator(input_nc=6, **dict(discriminator_params))
                              if discriminator_params is not None else None)
        self.kp_detector: Optional[KPDetector] = None
        self.dense_motion_network: Optional[DenseMotionNetwork] = None
        if flow == "keypoints":
            if not (common_params and kp_detector_params and dense_motion_params):
                raise ValueError("flow: keypoints needs common_params, kp_detector_params and dense_motion_params")
            common = dict(common_params)
            self.kp_detector = KPDetector(**dict(kp_detector_params), **common)
            self.dense_motion_network = DenseMotionNetwork(
                num_kp=common["num_kp"], num_channels=common.get("num_channels", 3), estimate_occlusion_map=True,
                align_corners=self.align_corners, **dict(dense_motion_params))
        unknown = set(normalization_params or {}) - set(DEFAULT_NORMALIZATION)
        if unknown:
            raise ValueError(f"unknown normalization_params {sorted(unknown)} (known: {sorted(DEFAULT_NORMALIZATION)})")
        self.normalization = dict(DEFAULT_NORMALIZATION, **dict(normalization_params or {}))

    # ------------------------------------------------------------------ motion estimator
    def detect_keypoints(self, images: Tensor) -> Dict[str, Tensor]:
        """``{"value": B×K×2 in [-1, 1], "jacobian": B×K×2×2}`` of the jointly trained keypoint detector."""
        if self.kp_detector is None:
            raise NotImplementedError("flow: external has no keypoint detector")
        with self._no_grad_ctx():
            return self.kp_detector(images)

    def motion(self, source_down: Tensor, kp_driving: Dict[str, Tensor], kp_source: Dict[str, Tensor],
               size: Sequence[int]) -> Dict[str, Tensor]:
        """Backward flow ``T`` (B×H×W×2), background mask and occlusion (B×1×H×W) at image size ``size``."""
        out = self.dense_motion_network(source_down, kp_driving, kp_source, downsampled=True)
        up = lambda m: F.interpolate(m, size=tuple(size), mode="bilinear", align_corners=True)  # noqa: E731
        return {"flow": resize_flow(out["deformation"], size), "background": up(out["mask"][:, :1]),
                "occlusion": up(out["occlusion_map"])}

    # ------------------------------------------------------------------ generator inputs
    def condition(self, coords: Tensor, background: Tensor) -> Tensor:
        """3-channel condition map: source coordinates (B×H×W×2) inside the foreground + background mask."""
        return torch.cat([coords.permute(0, 3, 1, 2) * (1 - background), background], dim=1)

    def encode_source(self, source: Tensor, background_mask: Optional[Tensor] = None) -> SourceState:
        """Per source image: keypoints, background mask, SID features (the LWB's source side), inpainted
        background. ``source`` is B×3×H×W or B×N×3×H×W; ``background_mask`` (B[×N]×1×H×W, flow: external)."""
        with self._no_grad_ctx():
            src = source.unsqueeze(1) if source.dim() == 4 else source
            b, n = src.shape[:2]
            flat = src.reshape(b * n, *src.shape[2:])
            state: SourceState = {"source": flat, "num_sources": n}
            if self.kp_detector is not None:
                state["kp_source"] = self.kp_detector(flat)
                state["source_down"] = self.dense_motion_network.downsample(flat)
            if background_mask is not None:
                bg = background_mask.reshape(b * n, 1, *flat.shape[-2:]).to(flat)
            elif self.kp_detector is not None:
                bg = self.motion(state["source_down"], state["kp_source"], state["kp_source"], flat.shape[-2:])["background"]
            else:
                bg = flat.new_zeros(b * n, 1, *flat.shape[-2:])  # no mask given: everything is foreground
            state.update(self.encode_inputs(flat, bg))
            state["bg_image"] = state["bg_image"].view(b, n, *flat.shape[1:]).mean(1)
        return state

    def encode_inputs(self, flat: Tensor, background: Tensor) -> Dict[str, Any]:
        """Official BodyRecoveryFlow inputs of the SID and BG streams, then their forward passes."""
        x = flat * 2 - 1
        grid = make_coordinate_grid(flat.shape[-2:], flat.dtype, flat.device).unsqueeze(0).expand(flat.shape[0], -1, -1, -1)
        crop = erode(background, self.crop_erode)
        bg_mask = erode(background, self.bg_erode)
        src_in = torch.cat([x * (1 - crop), self.condition(grid, background)], dim=1)
        feats = self.generator.encode_src(src_in)
        bg_image = self.generator.bg_model(torch.cat([x * bg_mask, bg_mask], dim=1))
        return {"features": feats, "bg_image": bg_image, "source_crop_mask": crop}

    def transfer(self, state: SourceState, owner: Tensor, flows: List[Tensor], occlusions: List[Optional[Tensor]],
                 background: Tensor) -> Dict[str, Tensor]:
        """TSF output for frames owned by batch rows ``owner``; ``flows[k]`` / ``occlusions[k]`` per source."""
        n = state["num_sources"]
        src = state["source"].view(-1, n, *state["source"].shape[1:])[owner] * 2 - 1
        syn, vis = 0, 0
        for k, (t, occ) in enumerate(zip(flows, occlusions)):
            w = F.grid_sample(src[:, k], t, align_corners=self.align_corners)
            occ = torch.ones_like(w[:, :1]) if occ is None else occ
            syn, vis = syn + occ * w, vis + occ
        syn = syn / vis.clamp(min=1)
        tsf_in = torch.cat([syn, self.condition(flows[0], background)], dim=1)
        enc, res = state["features"]
        pick = lambda f: f.view(-1, n, *f.shape[1:])[owner]  # noqa: E731
        src_feats = [([pick(e)[:, k] for e in enc], [pick(r)[:, k] for r in res]) for k in range(n)]
        color, mask = self.generator.transfer(src_feats, tsf_in, flows)
        bg = state["bg_image"][owner]
        return {"prediction": (mask * bg + (1 - mask) * color + 1) / 2, "color": color, "mask": mask,
                "tsf_cond": tsf_in[:, 3:], "syn": syn}

    # ------------------------------------------------------------------ inference
    def animate_state(self, state: SourceState, driving: Tensor, *, mode: str, driving_ref: Optional[Tensor],
                      flow: Optional[Tensor] = None, background_mask: Optional[Tensor] = None,
                      chunk_size: Optional[int] = None) -> Tensor:
        """Animate B×T driving frames. ``flow``: external backward flows B×T×H×W×2 (one source) or
        B×T×N×H×W×2 replacing the estimator's; ``background_mask``: B×T×1×H×W driving background masks."""
        b, t = driving.shape[:2]
        n, size = state["num_sources"], driving.shape[-2:]
        if flow is None and self.kp_detector is None:
            raise ValueError("flow: external needs animate(..., flow=B×T×H×W×2 backward flows)")
        if flow is not None:
            if mode == "relative":
                raise NotImplementedError("relative mode needs the keypoint estimator, not an external flow")
            flow = flow.unsqueeze(2) if flow.dim() == 5 else flow
            if tuple(flow.shape[:3]) != (b, t, n) or flow.shape[-1] != 2:
                raise ValueError(f"flow must be B×T×[N×]H×W×2 with B={b}, T={t}, N={n}; got {tuple(flow.shape)}")
        if background_mask is not None and background_mask.shape[:2] != (b, t):
            raise ValueError(f"background_mask must be B×T×1×H×W, got {tuple(background_mask.shape)}")
        frames = driving.reshape(b * t, *driving.shape[2:])
        chunk = int(chunk_size or self.chunk_size)
        with self._no_grad_ctx():
            kp_src = state.get("kp_source")
            kp_ref, scale = None, None
            if mode == "relative":
                kp_ref = self.kp_detector(driving_ref)
                kp_ref = {k: v.repeat_interleave(n, 0) for k, v in kp_ref.items()}
                if self.normalization["adapt_movement_scale"] and self.normalization["use_relative_movement"]:
                    scale = movement_scale(kp_src["value"], kp_ref["value"])
            out = driving.new_empty(frames.shape)
            for idx, owner in self.frame_chunks(b, t, chunk, driving.device):
                ext = None if flow is None else flow.reshape(b * t, n, *flow.shape[3:])[idx]
                mask = None if background_mask is None else background_mask.reshape(b * t, 1, *size)[idx]
                out[idx] = self._frames(state, frames[idx], owner, kp_ref, scale, ext, mask)
        return out.view(driving.shape)

    def _frames(self, state, frames, owner, kp_ref, scale, ext_flow, ext_mask) -> Tensor:
        n, size = state["num_sources"], frames.shape[-2:]
        flows, occs, bgs = [], [], []
        need_kp = self.kp_detector is not None and (ext_flow is None or ext_mask is None)
        kp_drv = self.kp_detector(frames) if need_kp else None
        for k in range(n):
            rows = owner * n + k
            if kp_drv is not None:
                kp_s = {key: v[rows] for key, v in state["kp_source"].items()}
                kp_d = kp_drv
                if kp_ref is not None:
                    kp_d = normalize_kp(kp_s, kp_drv, {key: v[rows] for key, v in kp_ref.items()},
                                        scale=None if scale is None else scale[rows.cpu()], **self.normalization)
                m = self.motion(state["source_down"][rows], kp_d, kp_s, size)
                flows.append(m["flow"] if ext_flow is None else ext_flow[:, k])
                occs.append(m["occlusion"] if ext_flow is None else None)
                bgs.append(m["background"])
            else:
                flows.append(ext_flow[:, k])
                occs.append(None)
        if ext_mask is not None:
            background = ext_mask
        elif bgs:
            background = torch.stack(bgs).mean(0)
        else:  # flow: external without masks: everything is foreground
            background = frames.new_zeros(frames.shape[0], 1, *size)
        return self.transfer(state, owner, flows, occs, background)["prediction"].clamp(0, 1)

    # ------------------------------------------------------------------ training
    def generator_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]
                         ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        return lwgan_losses.generator_losses(self, batch, loss_cfg)

    def gan_g_objective(self, fake: Tensor, kind: str) -> Tensor:
        """``gan_kind: lsgan`` uses the official generator target 0 (between its D targets); other kinds the
        shared losses."""
        if kind == "lsgan":
            return lwgan_losses.lsgan_g_loss(fake)
        return super().gan_g_objective(fake, kind)

    def gan_d_objective(self, real: Tensor, fake: Tensor, kind: str, real_label: float) -> Tensor:
        """``gan_kind: lsgan`` uses the official targets (real 1, fake −1); other kinds the shared losses."""
        if kind == "lsgan":
            return lwgan_losses.lsgan_d_loss(real, fake, real_label)
        return super().gan_d_objective(real, fake, kind, real_label)

    def discriminator_logits(self, images: Tensor, batch: Mapping[str, Tensor], generated: Mapping[str, Tensor]) -> list:
        return lwgan_losses.discriminator_logits(self, images, generated)

    # ------------------------------------------------------------------ checkpoints
    @classmethod
    def from_checkpoint(cls, path: Union[str, os.PathLike], preset: Optional[str] = None, **overrides: Any
                        ) -> "LWGANAnimator":
        """An official generator file (``net_epoch_<N>_id_G.pth``: a plain ``G.state_dict()``, possibly with a
        ``module.`` prefix) built from ``preset`` (default "256") + ``overrides``; else a motionbench checkpoint.

        The official weights were trained on SMPL correspondence maps; with ``flow: keypoints`` the estimator
        starts untrained, so such a model is a starting point for fine-tuning (warned).
        """
        data = cls.load_file(path)
        if data.get("format") == CHECKPOINT_FORMAT:
            return super().from_checkpoint(path, preset=preset, **overrides)
        if not any(str(k).startswith(("bg_model.", "module.bg_model.")) for k in data):
            hint = " (this looks like the official discriminator file *_D.pth)" if "model.0.weight" in data else ""
            raise CheckpointError(f"checkpoint {path}: neither a motionbench checkpoint nor an official LWGAN "
                                  f"generator state dict{hint}; top-level keys: {', '.join(map(str, list(data)[:8]))}")
        model = build_official(cls, path, data, preset, overrides)
        if model.kp_detector is not None:
            log.warning("official LWGAN generator loaded from %s; its keypoint/dense-motion estimator is untrained "
                        "(the official model used SMPL flows): fine-tune before benchmarking", path)
        return model

    def official_state_dict(self, data: Mapping[str, Any]) -> Dict[str, Tensor]:
        """A plain ``G.state_dict()`` (``module.`` prefixes of DataParallel removed) → ``generator.*``."""
        return {"generator." + (k[len("module."):] if k.startswith("module.") else k): v for k, v in data.items()}
