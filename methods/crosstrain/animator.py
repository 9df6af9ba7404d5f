"""``crosstrain``: disentanglement by cross training (LORD-based) behind the motionbench contract.

Source: the unpublished progress report "Progress Report 1: Disentanglement by Cross Training, Naive Approach" (Nguyen & Koenig, TUM, May 2020);
equation and figure numbers below are the report's (methods/crosstrain/README.md).

Two encoders of one architecture, E_A (class / identity code, "code A") and E_B (everything else: pose,
expression, "code B"), and LORD's generator G(code B, AdaIN(code A)) (see :mod:`.networks`). As an
animator: ``animate(source, driving)_t = G(E_A(source), E_B(driving_t))``. The report defines no relative
mode, so there is none (``capabilities.relative`` is False; the benchmark runner then runs the
cross-identity protocol in absolute mode and records that).

Training (one trainer step, batch keys ``source``, ``driving`` = two frames of one video, ``other`` = a
frame of a different identity; x1 = source, x2 = other), in the report's notation:

- mixed images x̂_{A1,B2} = G(E_A(x1), E_B(x2)), x̂_{A2,B1} = G(E_A(x2), E_B(x1));
- cycle reconstructions x̂1 = G(E_A(x̂_{A1,B2}), E_B(x̂_{A2,B1})), x̂2 = G(E_A(x̂_{A2,B1}), E_B(x̂_{A1,B2}));
- ``reconstruction`` (eq. 1): |x̂1 − x1| + |x̂2 − x2| (mean L1 each);
- ``pair_reconstruction`` (a same-video term, not in the report): |G(E_A(source), E_B(driving)) −
  driving|, exactly the animation the benchmark asks for;
- ``cycle_a`` (eq. 2): ‖E_A(x1) − E_A(x̂_{A1,B2})‖² + ‖E_A(x2) − E_A(x̂_{A2,B1})‖², the identity code of
  each original against that of the mixed image that should carry it;
- ``cycle_b`` (eq. 3): ‖E_B(x1) − E_B(x̂_{A2,B1})‖² + ‖E_B(x2) − E_B(x̂_{A1,B2})‖², likewise for code B;
  both weighted by γ (``loss.gamma``, the report's 0.4) and mean-reduced over code entries;
- optional GAN (the report's "next step"): StyleGAN2 discriminator on real frames vs the pair
  reconstruction and both mixed images (``generator_gan`` > 0; 0 by default).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from motionbench.core.adversarial import Adversarial
from motionbench.core.animator import Animator, Capabilities, SourceState
from motionbench.core.inference import ChunkedInference, select_rows
from motionbench.nn.stylegan2 import StyleGAN2Discriminator

from . import losses as crosstrain_losses
from .networks import CodeEncoder, LordGenerator, Modulation

__all__ = ["CrossTrainAnimator"]


class CrossTrainAnimator(Adversarial, ChunkedInference, Animator):
    name = "crosstrain"
    capabilities = Capabilities(relative=False, trainable=True, adversarial=True, checkpoint_formats=("motionbench",),
                                half_precision=True)
    training_inputs = ("source", "driving", "other")
    default_preset = "128"
    discriminator_option = "use_discriminator: true"
    gan_defaults = {"generator_gan": 0.0, "discriminator_gan": 1.0, "gan_kind": "nonsat"}

    def __init__(self, size: int = 128, class_dim: int = 256, content_dim: int = 256, n_adain_layers: int = 4,
                 adain_dim: int = 256, last_channels: int = 64, encoder_base_channels: int = 32,
                 encoder_max_channels: int = 256, use_discriminator: bool = True, disc_channel_multiplier: int = 1,
                 disc_channel_max: Optional[int] = None, blur_kernel: Sequence[int] = (1, 3, 3, 1),
                 chunk_size: int = 16) -> None:
        super().__init__()
        self.init_inference(chunk_size, size=size)
        # E_A: class (identity) code; E_B: content (pose, expression) code; same architecture (report §2)
        self.encoder_a = CodeEncoder(size, class_dim, encoder_base_channels, encoder_max_channels)
        self.encoder_b = CodeEncoder(size, content_dim, encoder_base_channels, encoder_max_channels)
        self.modulation = Modulation(class_dim, n_adain_layers, adain_dim)
        self.generator = LordGenerator(size, content_dim, n_adain_layers, adain_dim, last_channels)
        self.discriminator = (StyleGAN2Discriminator(size, disc_channel_multiplier, list(blur_kernel), disc_channel_max)
                              if use_discriminator else None)

    # ------------------------------------------------------------------ building blocks
    def _check_size(self, images: Tensor, what: str = "images") -> None:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"crosstrain: {what} must be B×3×H×W, got {tuple(images.shape)}")
        super()._check_size(images, what)

    def generate(self, code_a: Tensor, code_b: Tensor) -> Tensor:
        """G(code A, code B): images in [0, 1]."""
        return self.generator(code_b, self.modulation(code_a))

    def cross(self, x1: Tensor, x2: Tensor, driving: Optional[Tensor] = None, cycle: bool = True) -> Dict[str, Tensor]:
        """The report's cross-training forward for image pairs (x1, x2), batched: codes of the originals
        (``a1``, ``a2``, ``b1``, ``b2``), mixed images ``mixed_12`` = x̂_{A1,B2}, ``mixed_21`` = x̂_{A2,B1},
        codes of the mixed images (``a_mixed_12``, ``a_mixed_21``, ``b_mixed_12``, ``b_mixed_21``) and cycle
        reconstructions ``cycle_1`` = x̂1, ``cycle_2`` = x̂2 (``cycle``). With ``driving`` (a frame of x1's
        video) also ``prediction`` = G(E_A(x1), E_B(driving))."""
        for name, t in (("x1", x1), ("x2", x2)) + ((("driving", driving),) if driving is not None else ()):
            self._check_size(t, name)
        n = x1.shape[0]
        if x2.shape[0] != n or (driving is not None and driving.shape[0] != n):
            raise ValueError(f"crosstrain: batch sizes differ (x1 {n}, x2 {x2.shape[0]}"
                             + (f", driving {driving.shape[0]})" if driving is not None else ")"))
        a1, a2 = self.encoder_a(torch.cat([x1, x2])).split(n)
        b = self.encoder_b(torch.cat([x1, x2] + ([driving] if driving is not None else []))).split(n)
        b1, b2 = b[0], b[1]
        codes_a, codes_b = [a1, a2], [b2, b1]  # mixed_12 = G(A1, B2), mixed_21 = G(A2, B1)
        if driving is not None:
            codes_a.append(a1)
            codes_b.append(b[2])
        gen = self.generate(torch.cat(codes_a), torch.cat(codes_b)).split(n)
        out = {"a1": a1, "a2": a2, "b1": b1, "b2": b2, "mixed_12": gen[0], "mixed_21": gen[1]}
        if driving is not None:
            out["prediction"] = gen[2]
        mixed = torch.cat([gen[0], gen[1]])
        out["a_mixed_12"], out["a_mixed_21"] = self.encoder_a(mixed).split(n)
        out["b_mixed_12"], out["b_mixed_21"] = self.encoder_b(mixed).split(n)
        if cycle:  # x̂1 = G(E_A(x̂_{A1,B2}), E_B(x̂_{A2,B1})), x̂2 = G(E_A(x̂_{A2,B1}), E_B(x̂_{A1,B2}))
            rec = self.generate(torch.cat([out["a_mixed_12"], out["a_mixed_21"]]),
                                torch.cat([out["b_mixed_21"], out["b_mixed_12"]]))
            out["cycle_1"], out["cycle_2"] = rec.split(n)
        return out

    # ------------------------------------------------------------------ inference
    def encode_source(self, source: Tensor) -> SourceState:
        """Code A of the source and its AdaIN parameters (both depend on the source only)."""
        self._check_size(source, "source")
        with self._no_grad_ctx():
            code_a = self.encoder_a(source)
            return {"code_a": code_a, "adain": self.modulation(code_a)}

    def animate_state(self, state: SourceState, driving: Tensor, *, mode: str,
                      driving_ref: Optional[Tensor]) -> Tensor:
        if mode != "absolute":  # the base class already refuses relative mode; keep the guard local too
            raise NotImplementedError("crosstrain has no relative mode (the method defines G(E_A(source), E_B(driving)) only)")
        b, t = driving.shape[:2]
        frames = driving.reshape(b * t, *driving.shape[2:])
        self._check_size(frames, "driving")
        adain_all = state["adain"]
        outs = []
        with self._no_grad_ctx():
            for sl, idx in self.frame_chunks(b, t, self.chunk_size, driving.device):
                x = frames[sl]
                outs.append(self.generator(self.encoder_b(x), select_rows(adain_all, idx)).clamp(0, 1))
        return torch.cat(outs).reshape(b, t, *outs[0].shape[1:])

    @torch.no_grad()
    def visualize(self, source: Tensor, driving: Tensor) -> np.ndarray:
        """The report's plot layout (its figure 4) as an H×W×3 uint8 image: for every driving frame one
        2-column panel, x1 = source, x2 = driving frame; rows x_{A1,B1} x_{A2,B2} / x̂_{A1,B2} x̂_{A2,B1} /
        x̂1 x̂2. ``source`` 1×3×H×W (or one per driving frame), ``driving`` N×3×H×W or 1×N×3×H×W."""
        from motionbench.files.media import image_grid

        if driving.dim() == 5:
            if driving.shape[0] != 1:
                raise ValueError(f"visualize: driving clip must be 1×N×3×H×W, got {tuple(driving.shape)}")
            driving = driving[0]
        if source.dim() == 3:
            source = source[None]
        self._check_size(source, "source")
        self._check_size(driving, "driving")
        n = driving.shape[0]
        if source.shape[0] not in (1, n):
            raise ValueError(f"visualize: {source.shape[0]} sources for {n} driving frames (give 1 or {n})")
        x1 = source.expand(n, -1, -1, -1) if source.shape[0] == 1 else source
        was_training = self.training
        self.eval()
        try:
            out = self.cross(x1, driving)
        finally:
            self.train(was_training)
        panels = [image_grid([[x1[i], driving[i]], [out["mixed_12"][i], out["mixed_21"][i]],
                              [out["cycle_1"][i], out["cycle_2"][i]]]) for i in range(n)]
        gap = np.full((panels[0].shape[0], 8, 3), 255, dtype=np.uint8)
        return np.concatenate([p for i, panel in enumerate(panels) for p in ((gap, panel) if i else (panel,))], 1)

    # ------------------------------------------------------------------ training
    def generator_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]
                         ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        return crosstrain_losses.generator_losses(self, batch, loss_cfg)

    def discriminator_logits(self, images: Tensor, batch: Mapping[str, Tensor],
                             generated: Mapping[str, Tensor]) -> list:
        return crosstrain_losses.discriminator_logits(self, images)

    def discriminator_inputs(self, batch: Mapping[str, Tensor], generated: Mapping[str, Tensor]) -> Tuple[Tensor, Tensor]:
        return crosstrain_losses.discriminator_inputs(batch, generated)
