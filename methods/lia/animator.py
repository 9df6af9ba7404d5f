"""``lia``: Latent Image Animator (Wang et al., ICLR 2022) behind the motionbench contract.

``self.generator`` has the official ``gen`` state dict and ``self.discriminator`` the official ``dis``
(wyhsirius/LIA), so ``vox.pt`` / ``taichi.pt`` / ``ted.pt`` and the official trainer's files load strictly
(:meth:`LIAAnimator.from_checkpoint`). Constructor arguments use the official names (``size``,
``style_dim``, ``motion_dim``, ``channel_multiplier``, ``blur_kernel``) plus:

- ``channel_max`` — caps the StyleGAN2 channel table (None = official; small presets only).
- ``use_discriminator`` — build the StyleGAN2 discriminator (needed for training only).
- ``chunk_size`` — driving frames per forward pass of the fast path.
- ``channels_last`` — run inference in the channels-last memory format (faster oneDNN convolutions on CPU).

Images are [0, 1] at the boundary and [-1, 1] inside. Inference encodes the source once (``wa``, skip
features, α_source) and runs the driving frames in batches (B×T flattened) under
``torch.inference_mode()`` in eval mode. Modes follow the official ``run_demo.py``: absolute
z = wa + D(α_target); relative z = wa + D(α_target) − D(α_start) + D(α_source), α_start from
``driving_ref`` (default: the first driving frame). Outputs are clamped to [0, 1] (the demo clamps to
[-1, 1] before writing; its per-video min-max rescaling is a display step and is not reproduced).
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from motionbench.core.adversarial import Adversarial
from motionbench.core.animator import Animator, Capabilities, SourceState
from motionbench.core.checkpoint import CheckpointError, is_official, load_official
from motionbench.core.config import deep_merge
from motionbench.core.inference import ChunkedInference, per_frame_loop, select_rows
from motionbench.nn.stylegan2 import StyleGAN2Discriminator

from . import losses as lia_losses
from .generator import Generator

__all__ = ["LIAAnimator", "infer_official_config"]


def infer_official_config(gen: Mapping[str, Tensor]) -> Dict[str, Any]:
    """size / style_dim / motion_dim / channel_multiplier / channel_max read off an official ``gen`` dict."""
    try:
        n_res = len({k.split(".")[3] for k in gen if k.startswith("enc.net_app.convs.") and ".conv1." in k})
        size = 2 ** (n_res + 2)
        style_dim, motion_dim = (int(n) for n in gen["dec.direction.weight"].shape)
        c4 = int(gen["dec.input.input"].shape[1])
        cfg: Dict[str, Any] = {"size": size, "style_dim": style_dim, "motion_dim": motion_dim,
                               "channel_max": c4 if c4 < 512 else None}
        if size >= 64 and c4 >= 512:  # channels[64] = 256 * channel_multiplier (ToRGB of the 64×64 stage)
            cfg["channel_multiplier"] = max(1, int(gen["dec.to_rgbs.3.conv.0.weight"].shape[1]) // 256)
        return cfg
    except (KeyError, IndexError, ValueError):
        return {}  # not recognisable: strict loading will name what does not fit


class LIAAnimator(Adversarial, ChunkedInference, Animator):
    name = "lia"
    capabilities = Capabilities(relative=True, trainable=True, adversarial=True,
                                checkpoint_formats=("motionbench", "lia-official"), half_precision=True)
    default_preset = "256"
    #: official files: ``gen`` (strict), ``dis`` when present and the config has a discriminator
    official_entries = ("gen",)
    official_optional = ("discriminator.",)
    discriminator_option = "use_discriminator: true"
    gan_defaults = {"generator_gan": 1.0, "discriminator_gan": 1.0, "gan_kind": "nonsat"}
    # the official forward never uses to_rgb1 and never passes noise to NoiseInjection (sizes up to 1024)
    unused_parameters = ("generator.dec.to_rgb1.", "generator.dec.conv1.noise.",
                         *(f"generator.dec.convs.{i}.noise." for i in range(16)))

    def __init__(self, size: int = 256, style_dim: int = 512, motion_dim: int = 20, channel_multiplier: int = 1,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1), channel_max: Optional[int] = None,
                 use_discriminator: bool = True, chunk_size: int = 4, channels_last: bool = True) -> None:
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"size must be a power of two >= 8, got {size}")
        self.init_inference(chunk_size, channels_last, size)
        self.generator = Generator(size, style_dim, motion_dim, channel_multiplier, list(blur_kernel), channel_max)
        self.discriminator = (StyleGAN2Discriminator(size, channel_multiplier, list(blur_kernel), channel_max)
                              if use_discriminator else None)

    # ------------------------------------------------------------------ inference
    def encode_source(self, source: Tensor) -> SourceState:
        """``wa`` (B×style_dim), the skip features (8×8 … full size) and α_source (B×motion_dim)."""
        self._check_size(source)
        with self._no_grad_ctx():
            wa, feats = self.generator.enc.net_app(self._fmt(source * 2 - 1))
            return {"wa": wa, "feats": [self._fmt(f) for f in feats], "alpha_source": self.generator.enc.fc(wa)}

    def motion_code(self, images: Tensor) -> Tensor:
        """Motion magnitudes α (B×motion_dim) of images in [0, 1] (the official ``enc_motion``)."""
        with self._no_grad_ctx():
            return self.generator.enc.enc_motion(images * 2 - 1)

    def animate_state(self, state: SourceState, driving: Tensor, *, mode: str,
                      driving_ref: Optional[Tensor]) -> Tensor:
        self._check_size(driving)
        b, t = driving.shape[:2]
        frames = driving.reshape(b * t, *driving.shape[2:])
        gen = self.generator
        with self._no_grad_ctx():
            q = gen.dec.direction.basis()
            wa, feats, alpha_source = state["wa"], state["feats"], state["alpha_source"]
            # motion codes of every frame first (B·T × motion_dim): the reference frame, when it is the
            # first driving frame (the default), is then not encoded twice
            alphas = torch.cat([gen.enc.enc_motion(self._fmt(frames[i:i + self.chunk_size] * 2 - 1))
                                for i in range(0, b * t, self.chunk_size)])
            alpha_start = None
            if mode == "relative":
                first = driving[:, 0]
                same = (driving_ref.shape == first.shape and driving_ref.stride() == first.stride()
                        and driving_ref.data_ptr() == first.data_ptr())
                alpha_start = alphas[::t] if same else gen.enc.enc_motion(self._fmt(driving_ref * 2 - 1))
            outs = []
            for start in range(0, b * t, self.chunk_size):
                x = frames[start:start + self.chunk_size]
                idx = torch.arange(start, start + x.shape[0], device=x.device) // t
                alpha = [alphas[start:start + x.shape[0]]]
                if alpha_start is not None:
                    alpha += [select_rows(alpha_source, idx), select_rows(alpha_start, idx)]
                latent = gen.dec.latent(select_rows(wa, idx), alpha, q)
                img = gen.dec.decode(latent, [select_rows(f, idx) for f in feats])
                outs.append(((img + 1) / 2).clamp_(0, 1).contiguous())
            return torch.cat(outs).reshape(b, t, *outs[0].shape[1:])

    def official_animation(self, source: Tensor, driving: Tensor, *, mode: str = "relative",
                           frame_times: Optional[List[float]] = None) -> Tensor:
        """The official ``run_demo.py`` loop (see :meth:`Animator.official_animation`): one ``Generator.forward``
        per frame on [-1, 1] images, relative mode with ``h_start`` = α of the first driving frame; output
        clamped to [0, 1]."""
        self._check_size(source)
        with torch.no_grad():
            src = source * 2 - 1
            h_start = self.generator.enc.enc_motion(driving[:1] * 2 - 1) if mode == "relative" else None
            out = per_frame_loop(driving, lambda frame: frame * 2 - 1,
                                 lambda frame: self.generator(src, frame, h_start), frame_times)
        return ((out + 1) / 2).clamp(0, 1)

    # ------------------------------------------------------------------ training
    def generator_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]
                         ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        return lia_losses.generator_losses(self, batch, loss_cfg)

    def discriminator_logits(self, images: Tensor, batch: Mapping[str, Tensor],
                             generated: Mapping[str, Tensor]) -> list:
        return lia_losses.discriminator_logits(self, images)

    # ------------------------------------------------------------------ checkpoints
    def official_checkpoint(self) -> Dict[str, Any]:
        """The official layout ``{"gen": ..., "dis": ...}`` (what the official demo / trainer read)."""
        out: Dict[str, Any] = {"gen": self.generator.state_dict()}
        if self.discriminator is not None:
            out["dis"] = self.discriminator.state_dict()
        return out

    @classmethod
    def from_checkpoint(cls, path: Union[str, os.PathLike], preset: Optional[str] = None,
                        **overrides: Any) -> "LIAAnimator":
        """Official ``{"gen", optional "dis", "g_optim", "d_optim", "args"}`` files (strict), else a
        motionbench checkpoint. The network shape is read off the file; ``overrides`` win over it."""
        with torch.serialization.safe_globals([argparse.Namespace]):  # the official trainer pickles its args
            data = cls.load_file(path)
        if not is_official(cls, data):
            return super().from_checkpoint(path, preset=preset, **overrides)
        gen = data["gen"]
        if not isinstance(gen, Mapping):
            raise CheckpointError(f"checkpoint {path}: 'gen' is a {type(gen).__name__}, not a state dict")
        if preset is not None and preset not in cls.presets():
            raise CheckpointError(f"checkpoint {path}: unknown LIA preset '{preset}' "
                                  f"(known: {', '.join(sorted(cls.presets()))})")
        base = cls.presets().get(preset or cls.default_preset, {})
        return load_official(cls(**deep_merge(deep_merge(base, infer_official_config(gen)), overrides)), path, data)

    def official_state_dict(self, data: Mapping[str, Any]) -> Dict[str, Tensor]:
        """``gen`` → ``generator.*``; ``dis`` → ``discriminator.*`` (when both exist)."""
        state = {f"generator.{k}": v for k, v in data["gen"].items()}
        if self.discriminator is not None and isinstance(data.get("dis"), Mapping):
            state.update({f"discriminator.{k}": v for k, v in data["dis"].items()})
        return state
