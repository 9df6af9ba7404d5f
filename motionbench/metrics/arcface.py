"""ArcFace identity embeddings (Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition",
CVPR 2019) with insightface's ``arcface_torch`` iresnet backbones, on 112×112 crops aligned as insightface does.

* Network: :class:`IResNet` is the iresnet of github.com/deepinsight/insightface
  ``recognition/arcface_torch/backbones/iresnet.py`` (same parameter names, so the model zoo's
  ``backbone.pth`` state dicts load as they are): r50 = (3, 4, 14, 3) and r100 = (3, 13, 30, 3) pre-activation
  basic blocks with PReLU, BatchNorm → flatten → fully connected 512 → BatchNorm1d. Inputs are RGB in [−1, 1]
  ((x/255 − 0.5) / 0.5, as ``arcface_torch/inference.py``).
* Alignment: five points from face-alignment's 68 landmarks (:func:`five_points`: the two eye centres, the
  nose tip 30, the mouth corners 48 and 54) are mapped onto insightface's ``arcface_dst`` template by the
  least-squares similarity transform (Umeyama; ``skimage.transform.SimilarityTransform``, as insightface's
  ``utils/face_align.py: estimate_norm``) and the frame is warped with ``cv2.warpAffine`` to 112×112 with a black
  border (``norm_crop``).
* Embeddings are L2-normalised (insightface's ``normed_embedding``), so ``id_similarity`` (CSIM) is their
  cosine similarity and ``aed`` their Euclidean distance √(2 − 2·CSIM). Frames without a detected face give
  NaN rows (counted by the runner).
"""
from __future__ import annotations

import pickle
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .base import IdentityEmbedder, MetricContext, MetricError
from .common import load_state_dict_file, resolve_weight

__all__ = ["IResNet", "iresnet", "ARCFACE_TEMPLATE", "five_points", "alignment_matrix", "align_faces",
           "ArcFaceEmbedder", "LAYERS"]

#: insightface ``arcface_dst``: where the five points lie in a 112×112 ArcFace crop (x, y pixels)
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)

#: blocks per stage of the arcface_torch iresnets
LAYERS: Dict[str, Sequence[int]] = {"r18": (2, 2, 2, 2), "r34": (3, 4, 6, 3), "r50": (3, 4, 14, 3),
                                    "r100": (3, 13, 30, 3)}


class IBasicBlock(nn.Module):
    """BN → 3×3 conv → BN → PReLU → 3×3 conv (stride) → BN, plus the (projected) input."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5)
        self.prelu = nn.PReLU(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout, eps=1e-5)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, eps=1e-5))

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class IResNet(nn.Module):
    """arcface_torch's iresnet for 112×112 inputs, 512-d output (dropout omitted: identity at inference)."""

    def __init__(self, layers: Sequence[int], num_features: int = 512) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        widths, cin = (64, 128, 256, 512), 64
        for i, (n, width) in enumerate(zip(layers, widths)):
            blocks = [IBasicBlock(cin if j == 0 else width, width, 2 if j == 0 else 1) for j in range(n)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            cin = width
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.fc = nn.Linear(512 * 7 * 7, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-5)

    def forward(self, x: Tensor) -> Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.features(self.fc(torch.flatten(self.bn2(x), 1)))


def iresnet(arch: str) -> IResNet:
    if arch not in LAYERS:
        raise MetricError(f"arcface: arch must be one of {sorted(LAYERS)}, got {arch!r}")
    return IResNet(LAYERS[arch])


def five_points(landmarks68: np.ndarray) -> np.ndarray:
    """68 landmarks (x, y; iBUG order, as face-alignment) -> the 5 ArcFace points in template order: the
    centre of the eye on the image's left (36–41), of the other eye (42–47), the nose tip (30), the mouth
    corner on the image's left (48) and the other (54)."""
    lm = np.asarray(landmarks68, np.float64)
    if lm.shape[-2:] != (68, 2):
        raise MetricError(f"arcface: expected 68×2 landmarks, got {lm.shape}")
    return np.stack([lm[..., 36:42, :].mean(-2), lm[..., 42:48, :].mean(-2), lm[..., 30, :], lm[..., 48, :],
                     lm[..., 54, :]], -2)


def alignment_matrix(points: np.ndarray, size: int = 112) -> np.ndarray:
    """2×3 matrix of the least-squares similarity transform taking the 5 ``points`` onto the ArcFace template
    (scaled for ``size``, a multiple of 112), as insightface's ``estimate_norm``."""
    from skimage.transform import SimilarityTransform

    if size % 112:
        raise MetricError(f"arcface: crop size must be a multiple of 112, got {size}")
    src, dst = np.asarray(points, np.float64), ARCFACE_TEMPLATE.astype(np.float64) * (size / 112)
    if hasattr(SimilarityTransform, "from_estimate"):  # scikit-image >= 0.26
        tform = SimilarityTransform.from_estimate(src, dst)
        ok = bool(tform)
    else:
        tform = SimilarityTransform()
        ok = tform.estimate(src, dst)
    if not ok:
        raise MetricError(f"arcface: no similarity transform for the points {points.tolist()}")
    return tform.params[:2]


def align_faces(frames: np.ndarray, points: np.ndarray, size: int = 112) -> np.ndarray:
    """N×H×W×3 uint8 frames and N×5×2 points -> N×size×size×3 uint8 crops (``cv2.warpAffine``, black border)."""
    import cv2

    return np.stack([cv2.warpAffine(f, alignment_matrix(p, size), (size, size), borderValue=0.0)
                     for f, p in zip(frames, points)])


class ArcFaceEmbedder(IdentityEmbedder):
    """512-d L2-normalised ArcFace embeddings of aligned face crops; NaN rows without a face."""

    name = "arcface"
    has_cosine = True
    dims = 512

    def __init__(self, context: Optional[MetricContext] = None, device: Optional[str] = None, arch: str = "r100",
                 landmarks: Any = None, batch_size: int = 32, **_: Any) -> None:
        from ..hub.weights import sha256_of
        from .face import FaceAlignmentExtractor

        context = context or MetricContext()
        self.device = device or context.device
        self.arch = arch
        net = iresnet(arch)
        path = resolve_weight(f"arcface_{arch}", context, "aed (arcface)")
        try:
            net.load_state_dict(load_state_dict_file(path))
        except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
            raise MetricError(f"aed (arcface): {path} is not an arcface_torch iresnet {arch} state dict ({exc})") from exc
        self.net = net.eval().to(self.device)
        self.weights_file, self.sha256 = str(path), sha256_of(path)
        #: 68-landmark extractor (face-alignment, its weights resolved offline); tests may pass their own
        self.landmarks = landmarks if landmarks is not None else FaceAlignmentExtractor(context, device=self.device)
        self.batch_size = int(batch_size)

    def settings(self) -> Dict[str, Any]:
        return {"network": f"arcface_torch iresnet {self.arch[1:]}", "weights": self.weights_file, "sha256": self.sha256,
                "alignment": "5 points from face-alignment's 68 landmarks, similarity transform onto insightface's "
                             "arcface_dst, cv2.warpAffine 112x112", "input": "RGB (x/255 - 0.5)/0.5",
                "embedding": "L2-normalised 512-d"}

    @torch.no_grad()
    def __call__(self, images: Tensor) -> np.ndarray:
        from .face import to_uint8_hwc

        kp, found = self.landmarks(images)
        frames = to_uint8_hwc(images)
        out = np.full((len(frames), self.dims), np.nan)
        ok: List[int] = [i for i in range(len(frames)) if found[i].all()]
        if not ok:
            return out
        crops = align_faces(frames[ok], five_points(kp[ok]))
        x = (torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5
        emb = torch.cat([self.net(x[i:i + self.batch_size].to(self.device)).float().cpu()
                         for i in range(0, len(x), self.batch_size)])
        out[ok] = torch.nn.functional.normalize(emb, dim=1).double().numpy()
        return out
