"""Body keypoints for AKD / MKR and person boxes for AED: torchvision's Keypoint R-CNN, loaded offline.

The network is torchvision's ``keypointrcnn_resnet50_fpn`` (He et al., "Mask R-CNN", ICCV 2017; ResNet-50-FPN,
17 COCO person keypoints) with its ``KeypointRCNN_ResNet50_FPN_Weights.COCO_V1`` weights
(``keypointrcnn_resnet50_fpn_coco-fc266e95.pth``, COCO val2017 keypoint AP 65.0), built the way torchvision
builds it for those weights (frozen BatchNorm with eps 0) and loaded from the torch.hub cache through
:mod:`motionbench.hub.weights` — never downloaded.

Per image, :class:`BodyDetector` keeps **the person with the highest detection score** when that score exceeds
``person_threshold`` (0.7, the confidence threshold of the Detectron / maskrcnn-benchmark demos); an image
without such a person has no person (no keypoints found, no identity). Of that person,
:class:`KeypointRCNNExtractor` counts a keypoint as **found when its score exceeds** ``keypoint_threshold``
(2.0): torchvision's ``keypoints_scores`` are the heatmap logits at the predicted location, and 2.0 is the
``kp_thresh`` with which Detectron's and maskrcnn-benchmark's ``vis_keypoints`` draw a keypoint.

Coordinates are torchvision's: x, y in pixels of the input image, continuous (a pixel spans [i, i + 1)).
Images are quantised to 8 bits first, as the network sees frames read from disk. The model runs on chunks of
``batch_size`` frames; it is built with ``box_detections_per_img=1`` (detections come out of non-maximum
suppression sorted by score, so the keypoint head runs on the top person only) and
``box_score_thresh=person_threshold``.

One detector pass serves AKD and AED: :func:`shared_detector` returns one detector per weight file, device
and options, and :class:`BodyDetector` remembers the results of its last four inputs with the 8-bit frames they
came from (an input equal to one of those is not detected again), so the AED embedder's person crops come from
the detections AKD already computed on the same frames.

**Seam for tests**: detections come from ``self.model`` (a torchvision ``KeypointRCNN``); the tests replace
``self.model.roi_heads`` with a module returning fixed detections (in the resized image's coordinates), so the
real resizing, rescaling and selection code runs on known outputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torchvision.models.detection import KeypointRCNN_ResNet50_FPN_Weights

from .base import KeypointExtractor, MetricContext, MetricError
from .common import load_state_dict_file, resolve_weight

__all__ = ["BodyDetector", "KeypointRCNNExtractor", "PersonDetections", "build_keypoint_rcnn", "shared_detector",
           "COCO_KEYPOINT_NAMES", "DETECTOR_OPTIONS", "WEIGHT_NAME", "PERSON_THRESHOLD", "KEYPOINT_THRESHOLD"]

#: key of the Keypoint R-CNN file in :data:`motionbench.hub.weights.WEIGHTS`
WEIGHT_NAME = "keypointrcnn_coco"
PERSON_THRESHOLD = 0.7
KEYPOINT_THRESHOLD = 2.0
#: what ``+benchmark.options.body_detector={...}`` may set (keyword arguments of :class:`BodyDetector`)
DETECTOR_OPTIONS = ("min_size", "max_size", "person_threshold", "batch_size", "rpn_post_nms_top_n_test")
#: nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles (left before right), as torchvision lists them
COCO_KEYPOINT_NAMES: Tuple[str, ...] = tuple(KeypointRCNN_ResNet50_FPN_Weights.COCO_V1.meta["keypoint_names"])


def build_keypoint_rcnn(**kwargs: Any) -> torch.nn.Module:
    """torchvision's ``keypointrcnn_resnet50_fpn`` architecture as built for its COCO weights, uninitialised.

    ``KeypointRCNN`` on ``resnet_fpn_backbone("resnet50", norm_layer=FrozenBatchNorm2d)``, 2 classes (background,
    person), 17 keypoints; every FrozenBatchNorm2d gets eps 0, as torchvision sets for ``COCO_V1``.
    ``kwargs`` go to ``KeypointRCNN`` (``min_size``, ``box_score_thresh``, ...).
    """
    from torchvision.models.detection import KeypointRCNN
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    from torchvision.ops import FrozenBatchNorm2d

    backbone = resnet_fpn_backbone(backbone_name="resnet50", weights=None, norm_layer=FrozenBatchNorm2d,
                                   trainable_layers=0)
    model = KeypointRCNN(backbone, num_classes=2, num_keypoints=len(COCO_KEYPOINT_NAMES), **kwargs)
    for module in model.modules():
        if isinstance(module, FrozenBatchNorm2d):
            module.eps = 0.0
    return model


@dataclass
class PersonDetections:
    """The highest-scoring person of each of N images (NaN where ``found`` is False)."""

    found: np.ndarray  # N bool: a person scored above the person threshold
    score: np.ndarray  # N
    box: np.ndarray  # N×4 x1, y1, x2, y2 in pixels
    keypoints: np.ndarray  # N×17×2 x, y in pixels
    keypoint_scores: np.ndarray  # N×17 heatmap logits


class BodyDetector:
    """torchvision Keypoint R-CNN with the COCO weights; ``detector(images)`` -> :class:`PersonDetections`."""

    def __init__(self, path, sha256: str, device: str = "cpu", min_size: int = 800, max_size: int = 1333,
                 person_threshold: float = PERSON_THRESHOLD, batch_size: int = 8,
                 rpn_post_nms_top_n_test: int = 1000) -> None:
        self.path, self.sha256, self.device = path, sha256, torch.device(device)
        self.min_size, self.max_size = int(min_size), int(max_size)
        self.person_threshold, self.batch_size = float(person_threshold), int(batch_size)
        self.rpn_post_nms_top_n_test = int(rpn_post_nms_top_n_test)
        model = build_keypoint_rcnn(min_size=self.min_size, max_size=self.max_size,
                                    box_score_thresh=self.person_threshold, box_detections_per_img=1,
                                    rpn_post_nms_top_n_test=self.rpn_post_nms_top_n_test)
        try:
            model.load_state_dict(load_state_dict_file(path))
        except RuntimeError as exc:
            raise MetricError(f"{path} is not a torchvision keypointrcnn_resnet50_fpn state dict: {exc}") from exc
        self.model = model.eval().to(self.device)
        self._cache: List[Tuple[Tensor, PersonDetections]] = []

    def settings(self) -> Dict[str, Any]:
        import torchvision

        return {"library": f"torchvision {torchvision.__version__}", "network": "keypointrcnn_resnet50_fpn",
                "weights": self.path.name, "sha256": self.sha256, "min_size": self.min_size,
                "max_size": self.max_size, "person": f"highest score, kept when > {self.person_threshold}",
                "rpn_post_nms_top_n_test": self.rpn_post_nms_top_n_test}

    def __call__(self, images: Tensor) -> PersonDetections:
        if images.ndim != 4 or images.shape[1] != 3:
            raise MetricError(f"body detector: expected N×3×H×W images, got {tuple(images.shape)}")
        frames = torch.round(images.detach().to(self.device, torch.float32).clamp(0, 1) * 255).to(torch.uint8)
        for seen, result in self._cache:
            if seen.shape == frames.shape and torch.equal(seen, frames):
                return result
        result = self._detect(frames)
        self._cache = [*self._cache[-3:], (frames, result)]
        return result

    @torch.no_grad()
    def _detect(self, frames: Tensor) -> PersonDetections:
        """N×3×H×W uint8 frames -> the highest-scoring person of each."""
        n, k = frames.shape[0], len(COCO_KEYPOINT_NAMES)
        det = PersonDetections(found=np.zeros(n, bool), score=np.full(n, np.nan), box=np.full((n, 4), np.nan),
                               keypoints=np.full((n, k, 2), np.nan), keypoint_scores=np.full((n, k), np.nan))
        outputs: List[Dict[str, Tensor]] = []
        for start in range(0, n, self.batch_size):
            outputs += self.model(list(frames[start:start + self.batch_size].float() / 255))
        for i, out in enumerate(outputs):
            scores = out["scores"]
            if scores.numel() == 0:
                continue
            j = int(torch.argmax(scores))
            if float(scores[j]) <= self.person_threshold:
                continue
            det.found[i], det.score[i] = True, float(scores[j])
            det.box[i] = out["boxes"][j].double().cpu().numpy()
            det.keypoints[i] = out["keypoints"][j, :, :2].double().cpu().numpy()
            det.keypoint_scores[i] = out["keypoints_scores"][j].double().cpu().numpy()
        return det


_SHARED: List[Tuple[tuple, BodyDetector]] = []


def shared_detector(context: MetricContext, device: Optional[str], metric: str, **options: Any) -> BodyDetector:
    """The detector for ``context`` (one per weight file, device and options, reused by AKD and AED).

    ``options`` (:data:`DETECTOR_OPTIONS`) override the run-wide ``context.options["body_detector"]``
    (``+benchmark.options.body_detector={min_size: 512}`` on the command line).
    """
    from ..hub.weights import sha256_of

    opts = {**dict(context.options.get("body_detector") or {}), **options}
    unknown = sorted(set(opts) - set(DETECTOR_OPTIONS))
    if unknown:
        raise MetricError(f"{metric}: unknown body detector option(s) {unknown}; "
                          f"known: {', '.join(DETECTOR_OPTIONS)}")
    path = resolve_weight(WEIGHT_NAME, context, metric)
    stat = path.stat()
    device = str(device or context.device)
    key = (str(path), stat.st_size, stat.st_mtime_ns, device, tuple(sorted(opts.items())))
    for cached_key, detector in _SHARED:
        if cached_key == key:
            return detector
    detector = BodyDetector(path, sha256_of(path), device, **opts)
    _SHARED[:] = [(key, detector)]  # one loaded detector at a time (226 MB of weights)
    return detector


class KeypointRCNNExtractor(KeypointExtractor):
    """17 COCO keypoints of the highest-scoring person (see the module docstring); NaN where not found."""

    name = "keypointrcnn"
    num_keypoints = len(COCO_KEYPOINT_NAMES)
    detects_whole_object = False  # a missed person counts in MKR, as pose-evaluation's cmp_with_missing.py does

    def __init__(self, context: Optional[MetricContext] = None, device: Optional[str] = None,
                 keypoint_threshold: float = KEYPOINT_THRESHOLD, **detector_options: Any) -> None:
        context = context or MetricContext()
        self.keypoint_threshold = float(keypoint_threshold)
        self.detector = shared_detector(context, device, "akd (keypointrcnn)", **detector_options)

    def settings(self) -> Dict[str, Any]:
        return {**self.detector.settings(), "keypoints": "17 COCO (" + ", ".join(COCO_KEYPOINT_NAMES) + ")",
                "found": f"keypoint score (heatmap logit) > {self.keypoint_threshold}"}

    def __call__(self, images: Tensor) -> Tuple[np.ndarray, np.ndarray]:
        det = self.detector(images)
        with np.errstate(invalid="ignore"):
            found = det.found[:, None] & (det.keypoint_scores > self.keypoint_threshold)
        return np.where(found[..., None], det.keypoints, np.nan), found
