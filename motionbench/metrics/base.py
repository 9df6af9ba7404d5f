"""Metric plug-in interface.

The runner hands every metric one :class:`FrameBatch` per chunk of a video. Two kinds of metric:

* :class:`FrameMetric` returns one value per frame (NaN where the frame is undefined for the metric, e.g.
  AKD when the real frame has no keypoints; such frames are counted and reported, never dropped
  silently). The runner aggregates by frame and by video.
* :class:`SetMetric` accumulates over all frames of a protocol and computes once (FID, KID).

A metric may produce several values (``akd`` also gives ``mkr``): :attr:`Metric.outputs` lists them, each
with its direction.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Mapping, Optional, Tuple, Sequence

import numpy as np
from torch import Tensor

__all__ = ["BODY_DATASETS", "FACE_DATASETS", "FrameBatch", "MetricContext", "Metric", "FrameMetric", "SetMetric",
           "MetricError", "KeypointExtractor", "IdentityEmbedder"]


#: datasets whose default keypoint extractor / identity embedder is the face one
FACE_DATASETS = ("vox", "voxceleb", "voxceleb1", "voxceleb2", "faces", "celebv", "hdtf")
#: datasets whose default keypoint extractor / identity embedder is the body one (``folder``: any FOMM-layout
#: folder; name a folder of faces ``faces`` or choose the extractors explicitly)
BODY_DATASETS = ("taichi", "ted", "bodies", "folder")


class MetricError(RuntimeError):
    """A metric cannot run (e.g. missing pretrained weights); the message names the file and the fix."""


@dataclass
class FrameBatch:
    """A chunk of one video under one protocol. Images are float32 CPU/GPU tensors in [0, 1]."""

    generated: Tensor  # N×3×H×W
    target: Optional[Tensor]  # N×3×H×W real frame (same id) or ground-truth render (synthetic cross id)
    source: Tensor  # 3×H×W, the source image
    driving: Tensor  # N×3×H×W, the driving frames
    video: str
    protocol: str  # "same_identity" | "cross_identity"
    frame_indices: list
    target_keypoints: Optional[np.ndarray] = None  # N×K×2 pixels (synthetic ground truth)
    target_visibility: Optional[np.ndarray] = None  # N×K bool
    target_mask: Optional[np.ndarray] = None  # N×H×W figure coverage in [0, 1] (synthetic ground truth)
    extras: Dict[str, Any] = field(default_factory=dict)


@dataclass
class MetricContext:
    """What a metric may need to know about the run."""

    dataset: str = "synthetic"
    resolution: int = 64
    device: str = "cpu"
    compat: str = "default"  # "default" | "pose_eval"
    verify_weights: bool = True
    cache_dir: Optional[str] = None
    frame_selection: str = "all"
    #: everything that defines the dataset's frames (its describe(): root, seed, parameters, ...)
    dataset_description: Dict[str, Any] = field(default_factory=dict)
    options: Dict[str, Any] = field(default_factory=dict)


class Metric(abc.ABC):
    """Base class. ``outputs`` maps each produced value name to higher_is_better."""

    name: ClassVar[str] = "metric"
    outputs: ClassVar[Mapping[str, bool]] = {}
    #: protocols the metric applies to; the runner skips it elsewhere (and records that it did)
    protocols: ClassVar[tuple] = ("same_identity", "cross_identity")
    #: True when the metric compares with a target image (needs FrameBatch.target)
    needs_target: ClassVar[bool] = True

    def __init__(self, context: Optional[MetricContext] = None, **options: Any) -> None:
        self.context = context or MetricContext()
        self.options = dict(options)

    def settings(self) -> Dict[str, Any]:
        """Everything that changes the number (backbone, input range, ...); recorded in results.json."""
        return dict(self.options)

    def reset(self) -> None:  # SetMetrics clear their state here
        pass


class FrameMetric(Metric):
    @abc.abstractmethod
    def per_frame(self, batch: FrameBatch) -> Dict[str, np.ndarray]:
        """One float per frame for each name in ``outputs`` (NaN = undefined for that frame)."""


class SetMetric(Metric):
    @abc.abstractmethod
    def update(self, batch: FrameBatch) -> None:
        """Accumulate a chunk."""

    @abc.abstractmethod
    def compute(self) -> Dict[str, Dict[str, Any]]:
        """``{output: {"value": float, "n": int, ...extra like "std"}}`` over everything accumulated."""

    def bootstrap(self, n_boot: int, seed: int, level: float) -> Dict[str, Tuple[float, float]]:
        """Percentile interval of each output over videos (resampled with replacement, seeded).

        Set metrics say how to recompute themselves on resampled videos; one that cannot raises this error
        and the runner records its interval as unavailable, naming the metric."""
        raise NotImplementedError(f"set metric '{self.name}' has no bootstrap() over videos")

    def state(self) -> Any:
        """What :meth:`update` accumulated, picklable (sharded evaluation gathers it from every rank)."""
        raise NotImplementedError(f"set metric '{self.name}' cannot be sharded over processes: it has no state()/merge()")

    def merge(self, states: Sequence[Any]) -> None:
        """Continue from the ranks' :meth:`state` values, in rank order (= job order), as if one process had
        run every update."""
        raise NotImplementedError(f"set metric '{self.name}' cannot be sharded over processes: it has no state()/merge()")


class KeypointExtractor(abc.ABC):
    """Finds keypoints on images (faces: face-alignment; bodies: Keypoint R-CNN; synthetic: puppet pose detector)."""

    name: ClassVar[str] = "keypoints"

    @abc.abstractmethod
    def __call__(self, images: Tensor) -> "tuple[np.ndarray, np.ndarray]":
        """N×3×H×W in [0,1] -> (keypoints N×K×2 in pixels, x then y; found N×K bool)."""


class IdentityEmbedder(abc.ABC):
    """Maps images to identity embeddings (AED = distance between them)."""

    name: ClassVar[str] = "identity"

    @abc.abstractmethod
    def __call__(self, images: Tensor) -> np.ndarray:
        """N×3×H×W in [0,1] -> N×D embeddings (NaN rows where no identity could be found, e.g. no face)."""
