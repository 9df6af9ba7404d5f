"""I3D clip features for FVD / KVD: the two Kinetics-400 I3D files papers use, loaded offline.

* ``styleganv``: ``i3d_torchscript.pt``, the TorchScript port of the TF-Hub I3D (``deepmind/i3d-kinetics-400``
  that the original FVD code of Unterthiner et al. 2018 uses) published with StyleGAN-V (Skorokhodov et al.,
  CVPR 2022, github.com/universome/stylegan-v). StyleGAN-V's ``compute_fvd`` passes uint8 clips B×3×T×H×W in
  [0, 255] and ``rescale=True, resize=True, return_features=True``: the module maps [0, 255] to [−1, 1] and
  resizes to 224×224 itself, and returns the 400 logits ("raw features before the softmax layer").
* ``videogpt``: ``i3d_pretrained_400.pt``, VideoGPT's (Yan et al. 2021, github.com/wilson1yan/VideoGPT)
  conversion of the same TF-Hub weights into piergiaj/pytorch-i3d's ``InceptionI3d`` (:class:`InceptionI3d`
  below, state-dict compatible). VideoGPT's ``videogpt/fvd/fvd.py`` scales the shorter side of every frame to
  224 (bilinear, ``align_corners=False``), crops the centre 224×224, maps [0, 1] to [−1, 1] and takes the
  network's output: the 400 logits averaged over time.

Both extractors take clips N×T×3×H×W in [0, 1], quantise them to 8 bits (StyleGAN-V and VideoGPT read
uint8 videos) and return N×400 float64 features, memoised by clip content.
"""
from __future__ import annotations

import math
import pickle
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import MetricContext, MetricError
from .common import load_state_dict_file, resolve_weight
from .fid import MemoisedFeatures

__all__ = ["InceptionI3d", "I3DFeatures", "resize_center_crop", "shared_i3d", "check_backbone", "BACKBONES"]

#: FVD backbone -> (weight file key, what the network sees)
BACKBONES: Dict[str, Tuple[str, str]] = {
    "styleganv": ("i3d_torchscript", "uint8 clips B×3×T×H×W in [0,255]; the TorchScript module rescales to [-1,1] "
                                     "and resizes to 224×224 itself (rescale=True, resize=True, return_features=True)"),
    "videogpt": ("i3d_pretrained_400", "shorter side bilinearly to 224 (align_corners=False), centre crop 224×224, "
                                       "[0,1] -> [-1,1]; InceptionI3d logits averaged over time"),
}


def check_backbone(backbone: str, metric: str = "fvd") -> None:
    if backbone not in BACKBONES:
        raise MetricError(f"{metric}: backbone must be one of {sorted(BACKBONES)}, got {backbone!r}")


def _same_padding(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """TensorFlow's "SAME" padding of one dimension: (before, after), the extra pixel after."""
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _pad_same(x: Tensor, kernel: List[int], stride: List[int]) -> Tensor:
    t, h, w = x.shape[2], x.shape[3], x.shape[4]
    pt, ph, pw = _same_padding(t, kernel[0], stride[0]), _same_padding(h, kernel[1], stride[1]), \
        _same_padding(w, kernel[2], stride[2])
    return F.pad(x, [pw[0], pw[1], ph[0], ph[1], pt[0], pt[1]])  # zeros, as pytorch-i3d


class Unit3D(nn.Module):
    """Conv3d with "SAME" padding computed from the input size, then BatchNorm (eps 1e-5) and ReLU."""

    def __init__(self, cin: int, cout: int, kernel: Tuple[int, int, int] = (1, 1, 1),
                 stride: Tuple[int, int, int] = (1, 1, 1), bn_relu: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.bn_relu = list(kernel), list(stride), bn_relu
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride, padding=0, bias=not bn_relu)
        self.bn = nn.BatchNorm3d(cout, eps=1e-5, momentum=0.001) if bn_relu else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        if self.bn_relu:
            x = F.relu(self.bn(x))
        return x


class MaxPool3dSame(nn.Module):
    """Max pooling with "SAME" zero padding (inputs are non-negative: they follow a ReLU)."""

    def __init__(self, kernel: Tuple[int, int, int], stride: Tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = list(kernel), list(stride)

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class Mixed(nn.Module):
    """Inception module: 1×1×1 | 1×1×1 → 3×3×3 | 1×1×1 → 3×3×3 | 3×3×3 max pool → 1×1×1, concatenated."""

    def __init__(self, cin: int, c: Tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self.b0 = Unit3D(cin, c[0])
        self.b1a, self.b1b = Unit3D(cin, c[1]), Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, c[3]), Unit3D(c[3], c[4], (3, 3, 3))
        self.b3a, self.b3b = MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(cin, c[5])

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


class InceptionI3d(nn.Module):
    """Inflated Inception-v1 (Carreira & Zisserman, "Quo Vadis, Action Recognition?", CVPR 2017) as laid out
    by piergiaj/pytorch-i3d, whose parameter names VideoGPT's ``i3d_pretrained_400.pt`` uses.

    ``forward`` (B×3×T×224×224 in [−1, 1]) returns the class logits B×``num_classes`` averaged over time:
    the 2×7×7 average pool, a 1×1×1 convolution, then the mean over the remaining time steps (dropout is
    the identity at inference and is omitted). Scriptable (``torch.jit.script``).
    """

    def __init__(self, num_classes: int = 400) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b = Mixed(192, (64, 96, 128, 16, 32, 32))
        self.Mixed_3c = Mixed(256, (128, 128, 192, 32, 96, 64))
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.Mixed_4b = Mixed(480, (192, 96, 208, 16, 48, 64))
        self.Mixed_4c = Mixed(512, (160, 112, 224, 24, 64, 64))
        self.Mixed_4d = Mixed(512, (128, 128, 256, 24, 64, 64))
        self.Mixed_4e = Mixed(512, (112, 144, 288, 32, 64, 64))
        self.Mixed_4f = Mixed(528, (256, 160, 320, 32, 128, 128))
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b = Mixed(832, (256, 160, 320, 32, 128, 128))
        self.Mixed_5c = Mixed(832, (384, 192, 384, 48, 128, 128))
        self.logits = Unit3D(1024, num_classes, bn_relu=False)

    def forward(self, x: Tensor) -> Tensor:
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(self.MaxPool3d_2a_3x3(self.Conv3d_1a_7x7(x))))
        x = self.Mixed_3c(self.Mixed_3b(self.MaxPool3d_3a_3x3(x)))
        x = self.Mixed_4c(self.Mixed_4b(self.MaxPool3d_4a_3x3(x)))
        x = self.Mixed_4f(self.Mixed_4e(self.Mixed_4d(x)))
        x = self.Mixed_5c(self.Mixed_5b(self.MaxPool3d_5a_2x2(x)))
        x = self.logits(F.avg_pool3d(x, [2, 7, 7], [1, 1, 1]))
        return x.squeeze(4).squeeze(3).mean(2)


def resize_center_crop(clips: Tensor, size: int = 224) -> Tensor:
    """VideoGPT's preprocessing of N×T×3×H×W clips in [0, 1] -> N×3×T×size×size in [−1, 1]: the shorter side
    scaled to ``size`` (bilinear, ``align_corners=False``, the longer side to ⌈·⌉), the centre cropped."""
    n, t, c, h, w = clips.shape
    scale = size / min(h, w)
    target = (size, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), size)
    x = F.interpolate(clips.reshape(n * t, c, h, w), size=target, mode="bilinear", align_corners=False)
    top, left = (x.shape[2] - size) // 2, (x.shape[3] - size) // 2
    x = x[:, :, top:top + size, left:left + size].reshape(n, t, c, size, size)
    return ((x - 0.5) * 2).permute(0, 2, 1, 3, 4).contiguous()


class I3DFeatures(MemoisedFeatures):
    """400-d I3D features of clips N×T×3×H×W in [0, 1] (see the module docstring for the two backbones).

    Clips are quantised to 8 bits, memoised by content and run 4 at a time on CPU, 32 on a GPU (halved on
    out-of-memory). ``sha256`` is the loaded file's digest (recorded in results.json).
    """

    dims = 400
    memo_size = 8192

    def __init__(self, context: MetricContext, backbone: str = "styleganv", batch_size: Optional[int] = None,
                 path: Optional[Path] = None) -> None:
        check_backbone(backbone)
        from ..hub.weights import sha256_of

        key, self.input_mapping = BACKBONES[backbone]
        path = path or resolve_weight(key, context, "fvd")
        self.backbone, self.weights_file, self.sha256 = backbone, path.name, sha256_of(path)
        if backbone == "styleganv":
            try:
                with warnings.catch_warnings():  # "torch.jit.load is deprecated": the file is TorchScript
                    warnings.simplefilter("ignore", FutureWarning)
                    self.model = torch.jit.load(str(path), map_location="cpu")
            except (RuntimeError, ValueError) as exc:
                raise MetricError(f"fvd (styleganv): {path} is not a TorchScript file ({exc})") from exc
        else:
            self.model = InceptionI3d(400)
            try:
                self.model.load_state_dict(load_state_dict_file(path))
            except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
                raise MetricError(f"fvd (videogpt): {path} is not an InceptionI3d state dict ({exc})") from exc
        self.model.eval().to(context.device)
        cuda = torch.device(context.device).type == "cuda"
        super().__init__(context.device, batch_size or (32 if cuda else 4), quantize=True)

    def _forward(self, x: Tensor) -> np.ndarray:
        if self.backbone == "styleganv":
            clips = torch.round(x * 255).to(torch.uint8).permute(0, 2, 1, 3, 4).contiguous()  # B×3×T×H×W
            out = self.model(clips, rescale=True, resize=True, return_features=True)
        else:
            out = self.model(resize_center_crop(x))
        return out.double().cpu().numpy()

    def settings(self) -> Dict[str, Any]:
        return {"backbone": self.backbone, "weights": self.weights_file, "sha256": self.sha256,
                "input": self.input_mapping, "features": "400 Kinetics-400 logits"}


_SHARED: Dict[Tuple[Any, ...], I3DFeatures] = {}


def shared_i3d(context: MetricContext, backbone: str, batch_size: Optional[int] = None) -> I3DFeatures:
    """One I3D per device and weight file (path, size, modification time) in the process, shared by FVD and KVD."""
    check_backbone(backbone)
    path = resolve_weight(BACKBONES[backbone][0], context, "fvd")
    st = path.stat()
    key = (context.device, backbone, str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHARED:
        _SHARED[key] = I3DFeatures(context, backbone, batch_size, path)
    return _SHARED[key]
