"""Person identity embeddings for AED on bodies: a ResNet-50 person re-identification network on person crops.

The network is the re-id model of pose-evaluation's ``extract_body_id`` (github.com/AliaksandrSiarohin/pose-evaluation,
``extract.py``; the body AED of the FOMM evaluation protocol): ``ft_net`` of Person_reID_baseline_pytorch
(github.com/layumi/Person_reID_baseline_pytorch, Zheng et al.), a torchvision ResNet-50 trained on Market-1501
(751 identities). pose-evaluation removes its bottleneck and classifier, so the embedding is the 2048-d global
average pool of the ResNet-50 trunk; here the trunk is torchvision's ``resnet50`` with ``fc = Identity`` and the
``model.*`` weights of that file (a plain torchvision ResNet-50 state dict is accepted too).

Inputs (``crop``):

* ``person`` (default): the box of the highest-scoring person from the body detector
  (:mod:`motionbench.metrics.bodypose`, the same pass that gives AKD its keypoints), cropped and resized to
  288×144 (the re-id network's test size) with ``torchvision.ops.roi_align`` (bilinear, adaptive sampling), in
  [0, 1], ImageNet mean/std. A frame without a person has no embedding (NaN row, counted as undefined).
* ``frame`` (default under ``compat="pose_eval"``): pose-evaluation's pipeline — the whole 8-bit frame resized to
  288×144 by PIL (bicubic), then ``ToTensor`` **and** ``Normalize(0, 255)``, i.e. divided by 255 twice (in
  ``extract.py`` since its commit 5a5c45e), then ImageNet mean/std. No detector is needed.

The weight file (``reid_resnet50_market1501_ft_net.pth``) has no published sha256; results.json records the
sha256 of the file used.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np
import torch
from torch import Tensor

from .base import IdentityEmbedder, MetricContext, MetricError
from .common import load_state_dict_file, quantize_uint8, resolve_weight
from .face import to_uint8_hwc

__all__ = ["PersonReIDEmbedder", "resnet50_trunk_state", "REID_SIZE", "WEIGHT_NAME"]

#: key of the re-id file in :data:`motionbench.hub.weights.WEIGHTS`
WEIGHT_NAME = "reid_resnet50_market1501"
REID_SIZE = (288, 144)  # height, width: Person_reID_baseline_pytorch's test transform, used by pose-evaluation
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def resnet50_trunk_state(state: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """The torchvision ResNet-50 trunk of a re-id checkpoint: ``model.`` prefixes (ft_net) stripped, the
    bottleneck / classification layers (``fc.*``, ``classifier.*``) dropped."""
    out = {}
    for key, value in state.items():
        key = key[len("model."):] if key.startswith("model.") else key
        if not key.startswith(("fc.", "classifier.")):
            out[key] = value
    return out


class PersonReIDEmbedder(IdentityEmbedder):
    """2048-d ResNet-50 re-id embeddings of the person in each frame (see the module docstring)."""

    name = "person_reid"
    has_cosine = True  # re-id ranks by cosine similarity of these features (Person_reID_baseline_pytorch test.py)
    dims = 2048

    def __init__(self, context: Optional[MetricContext] = None, device: Optional[str] = None,
                 weights: str = WEIGHT_NAME, crop: Optional[str] = None, batch_size: int = 32,
                 **detector_options: Any) -> None:
        import torchvision

        context = context or MetricContext()
        self.device = torch.device(device or context.device)
        self.pose_eval = context.compat == "pose_eval"
        self.crop = crop or ("frame" if self.pose_eval else "person")
        if self.crop not in ("person", "frame"):
            raise MetricError(f"aed (person_reid): crop must be 'person' or 'frame', got {self.crop!r}")
        from ..hub.weights import sha256_of

        path = resolve_weight(weights, context, "aed (person_reid)")
        net = torchvision.models.resnet50(weights=None)
        net.fc = torch.nn.Identity()
        try:
            net.load_state_dict(resnet50_trunk_state(load_state_dict_file(path)))
        except RuntimeError as exc:
            raise MetricError(f"aed (person_reid): {path} is not a ResNet-50 re-id state dict (ft_net or "
                              f"torchvision layout): {exc}") from exc
        self.net = net.eval().to(self.device)
        self.path, self.sha256, self.batch_size = path, sha256_of(path), int(batch_size)
        self.detector = None
        if self.crop == "person":
            from .bodypose import shared_detector

            self.detector = shared_detector(context, device, "aed (person_reid)", **detector_options)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    def settings(self) -> Dict[str, Any]:
        s: Dict[str, Any] = {"network": "torchvision resnet50 trunk, 2048-d average pool (Person_reID_baseline_pytorch "
                                        "ft_net, Market-1501)", "weights": self.path.name, "sha256": self.sha256,
                             "input": f"{REID_SIZE[0]}x{REID_SIZE[1]}, ImageNet mean/std"}
        if self.detector is not None:
            s["crop"] = "box of the highest-scoring person (roi_align, bilinear)"
            s["detector"] = self.detector.settings()
        else:
            s["crop"] = "whole frame, PIL bicubic resize of the 8-bit frame"
            s["scaling"] = "pixels / 255 / 255 (pose-evaluation)" if self.pose_eval else "pixels / 255"
        return s

    def _inputs(self, images: Tensor) -> "tuple[Tensor, np.ndarray]":
        """Network inputs (M×3×288×144, before mean/std) and the indices of the frames they belong to."""
        from torchvision.ops import roi_align
        from torchvision.transforms import functional as TF

        if self.detector is None:  # PIL's bicubic resize of the 8-bit frame, as pose-evaluation's transforms
            frames = [TF.to_pil_image(f) for f in to_uint8_hwc(images)]
            x = torch.stack([TF.pil_to_tensor(TF.resize(f, list(REID_SIZE), TF.InterpolationMode.BICUBIC))
                             for f in frames]).float() / 255
            return (x / 255 if self.pose_eval else x).to(self.device), np.arange(len(images))
        det = self.detector(images)
        rows = np.flatnonzero(det.found)
        boxes = torch.as_tensor(np.concatenate([rows[:, None], det.box[rows]], axis=1), dtype=torch.float32,
                                device=self.device)
        x = quantize_uint8(images.detach().to(self.device, torch.float32))
        return roi_align(x, boxes, output_size=REID_SIZE, spatial_scale=1.0, sampling_ratio=0, aligned=True), rows

    @torch.no_grad()
    def __call__(self, images: Tensor) -> np.ndarray:
        x, rows = self._inputs(images)
        out = np.full((len(images), self.dims), np.nan)
        x = (x - self._mean) / self._std
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start:start + self.batch_size]
            out[chunk] = self.net(x[start:start + self.batch_size]).double().cpu().numpy()
        return out
