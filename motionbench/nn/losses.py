"""Loss building blocks shared by every method: GAN objectives, feature matching, perceptual pyramids.

GAN losses take ``real_label`` so that the trainer's one-sided label smoothing (Salimans et al., NeurIPS 2016) applies to any
method that uses them. The VGG19 pyramid perceptual loss (FOMM / LIA / IMF / LWGAN) needs ImageNet
weights, resolved offline through :mod:`motionbench.hub.weights`; :class:`PixelPyramidL1` is the
weight-free substitute the synthetic presets use, so training works on a machine that never
downloaded anything.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["gan_d_loss", "gan_g_loss", "feature_matching_loss", "ImagePyramid", "VGG19Features",
           "PerceptualPyramid", "PixelPyramidL1", "build_perceptual", "DEFAULT_SCALES", "DEFAULT_LAYER_WEIGHTS"]

#: the perceptual pyramid of FOMM's ``train_params`` (also TPSMM, MRAA, LIA, IMF): image scales, and one weight
#: per VGG19 layer (relu1_1 ... relu5_1); a loss config's ``scales`` / ``perceptual`` override them
DEFAULT_SCALES = (1, 0.5, 0.25, 0.125)
DEFAULT_LAYER_WEIGHTS = (10, 10, 10, 10, 10)

GAN_KINDS = ("lsgan", "hinge", "nonsat")


def gan_d_loss(real: Tensor, fake: Tensor, kind: str = "lsgan", real_label: float = 1.0) -> Tensor:
    """Discriminator loss on one logit map. ``real_label`` < 1 is one-sided label smoothing."""
    if kind == "lsgan":
        return ((real_label - real) ** 2).mean() + (fake ** 2).mean()
    if kind == "hinge":
        return F.relu(real_label - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "nonsat":  # logistic loss (StyleGAN2 / LIA); smoothing as a soft target
        if real_label == 1.0:
            return F.softplus(-real).mean() + F.softplus(fake).mean()
        return F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_label)) + F.softplus(fake).mean()
    raise ValueError(f"unknown GAN loss '{kind}' (choose from {GAN_KINDS})")


def gan_g_loss(fake: Tensor, kind: str = "lsgan") -> Tensor:
    """Generator loss on one logit map."""
    if kind == "lsgan":
        return ((1.0 - fake) ** 2).mean()
    if kind == "hinge":
        return -fake.mean()
    if kind == "nonsat":
        return F.softplus(-fake).mean()
    raise ValueError(f"unknown GAN loss '{kind}' (choose from {GAN_KINDS})")


def feature_matching_loss(real_feats: Sequence[Tensor], fake_feats: Sequence[Tensor],
                          weights: Sequence[float] | None = None) -> Tensor:
    """Mean |D_l(real) - D_l(fake)| over discriminator layers (real features detached)."""
    weights = list(weights) if weights is not None else [1.0] * len(real_feats)
    total = fake_feats[0].new_zeros(())
    for w, r, f in zip(weights, real_feats, fake_feats):
        if w:
            total = total + w * (r.detach() - f).abs().mean()
    return total


class ImagePyramid(nn.Module):
    """Anti-aliased image pyramid at the given scales (FOMM's ImagePyramide semantics)."""

    def __init__(self, scales: Sequence[float], num_channels: int = 3) -> None:
        super().__init__()
        from .blocks import AntiAliasInterpolation2d

        self.scales = list(scales)
        self.downs = nn.ModuleDict({str(s).replace(".", "-"): AntiAliasInterpolation2d(num_channels, s) for s in self.scales})

    def forward(self, x: Tensor) -> Dict[float, Tensor]:
        return {s: self.downs[str(s).replace(".", "-")](x) for s in self.scales}


class VGG19Features(nn.Module):
    """torchvision VGG19 slices relu1_1 .. relu5_1 with ImageNet normalisation; frozen.

    Weights come from the torch hub cache (``vgg19-dcbb9e9d.pth``) via :func:`motionbench.hub.weights.resolve`.
    """

    SLICES = ((0, 2), (2, 7), (7, 12), (12, 21), (21, 30))

    def __init__(self, verify_weights: bool = True) -> None:
        super().__init__()
        from torchvision.models import vgg19

        from motionbench.hub.weights import resolve

        path = resolve("vgg19", verify=verify_weights)
        net = vgg19(weights=None)
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        feats = net.features
        self.slices = nn.ModuleList(nn.Sequential(*[feats[i] for i in range(a, b)]) for a, b in self.SLICES)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGG19Features":  # always frozen
        return super().train(False)

    def forward(self, x: Tensor) -> List[Tensor]:
        h = (x - self.mean) / self.std
        out = []
        for s in self.slices:
            h = s(h)
            out.append(h)
        return out


class PerceptualPyramid(nn.Module):
    """FOMM's perceptual loss: sum over pyramid scales and VGG19 layers of weighted mean |Δfeature|."""

    def __init__(self, scales: Sequence[float] = (1, 0.5, 0.25, 0.125),
                 layer_weights: Sequence[float] = (10, 10, 10, 10, 10), verify_weights: bool = True) -> None:
        super().__init__()
        self.pyramid = ImagePyramid(scales)
        self.vgg = VGG19Features(verify_weights)
        self.layer_weights = list(layer_weights)

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        pf, pr = self.pyramid(fake), self.pyramid(real)
        total = fake.new_zeros(())
        for s in self.pyramid.scales:
            ff, fr = self.vgg(pf[s]), self.vgg(pr[s])
            for w, a, b in zip(self.layer_weights, ff, fr):
                total = total + w * (a - b.detach()).abs().mean()
        return total


class PixelPyramidL1(nn.Module):
    """Weight-free substitute: sum over pyramid scales of weight × mean |Δpixel| (same scales/weights sum)."""

    def __init__(self, scales: Sequence[float] = (1, 0.5, 0.25, 0.125),
                 layer_weights: Sequence[float] = (10, 10, 10, 10, 10), **_: object) -> None:
        super().__init__()
        self.pyramid = ImagePyramid(scales)
        self.weight = float(sum(layer_weights))

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        pf, pr = self.pyramid(fake), self.pyramid(real)
        return sum(self.weight * (pf[s] - pr[s].detach()).abs().mean() for s in self.pyramid.scales)


def build_perceptual(kind: str, scales: Sequence[float], layer_weights: Sequence[float], verify_weights: bool = True) -> nn.Module:
    """``kind``: "vgg19" (needs the VGG19 weight file) or "pixel" (weight-free)."""
    if kind == "vgg19":
        return PerceptualPyramid(scales, layer_weights, verify_weights)
    if kind == "pixel":
        return PixelPyramidL1(scales, layer_weights)
    raise ValueError(f"unknown perceptual loss kind '{kind}' (choose 'vgg19' or 'pixel')")
