"""AKD / MKR (pose-evaluation definitions) with a pluggable keypoint extractor.

Per frame, with keypoints of the reference frame r (found F_r) and of the generated frame g (found F_g):

* ``akd`` = mean over keypoints in F_r ∩ F_g of the mean absolute per-coordinate difference, in pixels:
  mean_k (|x_g - x_r| + |y_g - y_r|) / 2.  NaN when F_r ∩ F_g is empty.
* ``mkr`` = |F_r \\ F_g| / |F_r|, the fraction of keypoints found in the reference and missing in the
  generated frame.  NaN when F_r is empty.

Frames whose reference has no keypoints are NaN for both (undefined; the runner counts and reports them).
The reference is the target frame (same identity: the real frame; synthetic cross identity: the ground-truth
render) and the driving frame where there is no target (cross identity on real data).

``compat="pose_eval"``: for extractors that detect a whole object (faces), a frame whose generated image has
no detection is skipped (NaN for akd and mkr) as pose-evaluation did, instead of counting as mkr = 1.

Extractors are registered in :data:`motionbench.registries.KEYPOINT_EXTRACTORS`: ``puppet_pose`` (the learned
synthetic pose detector, default on synthetic), ``markers`` (the synthetic marker detector, a cross-check
that needs the colour markers drawn), ``face_alignment`` (68 2D landmarks, SFD, first face), ``keypointrcnn``
(bodies: torchvision's Keypoint R-CNN, 17 COCO keypoints of the highest-scoring person). Any other
:class:`~motionbench.metrics.base.KeypointExtractor` plugs in: register it and pass ``benchmark.keypoints=<name>``.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np
from torch import Tensor

from .base import FrameBatch, FrameMetric, KeypointExtractor, MetricError
from .common import plugin

__all__ = ["AKD", "akd_mkr"]


def akd_mkr(kp_ref: np.ndarray, found_ref: np.ndarray, kp_gen: np.ndarray, found_gen: np.ndarray,
            skip_generated_misses: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Per-frame AKD and MKR from N×K×2 keypoints and N×K found masks (see the module docstring)."""
    kp_ref, kp_gen = np.asarray(kp_ref, np.float64), np.asarray(kp_gen, np.float64)
    found_ref, found_gen = np.asarray(found_ref, bool), np.asarray(found_gen, bool)
    n = kp_ref.shape[0]
    akd, mkr = np.full(n, np.nan), np.full(n, np.nan)
    for i in range(n):
        n_ref = found_ref[i].sum()
        if n_ref == 0:
            continue
        if skip_generated_misses and not found_gen[i].any():
            continue
        both = found_ref[i] & found_gen[i]
        mkr[i] = (found_ref[i] & ~found_gen[i]).sum() / n_ref
        if both.any():
            akd[i] = np.abs(kp_gen[i][both] - kp_ref[i][both]).mean()
    return akd, mkr


class AKD(FrameMetric):
    """Average keypoint distance (pixels, lower is better) and missing keypoint rate (lower is better)."""

    name = "akd"
    outputs = {"akd": False, "mkr": False}
    needs_target = False

    def __init__(self, context=None, extractor: Any = None, reference: str = "detect",
                 extractor_options: Dict[str, Any] | None = None, **options: Any) -> None:
        super().__init__(context, **options)
        # face_alignment on face datasets, Keypoint R-CNN on bodies, the learned puppet pose detector elsewhere
        self.extractor, self.extractor_name = plugin(extractor, KeypointExtractor, "KEYPOINT_EXTRACTORS", self.context,
                                                     "extractor", "keypoints", "face_alignment", "puppet_pose",
                                                     extractor_options, body_default="keypointrcnn")
        if reference not in ("detect", "ground_truth"):
            raise MetricError(f"akd: reference must be 'detect' or 'ground_truth', got {reference!r}")
        self.reference = reference
        self.pose_eval = self.context.compat == "pose_eval"

    def _reference(self, batch: FrameBatch) -> Tuple[np.ndarray, np.ndarray]:
        if self.reference == "ground_truth":
            if batch.target_keypoints is None:
                raise MetricError(f"akd: reference='ground_truth' but video '{batch.video}' has no ground-truth "
                                  f"keypoints (only the synthetic dataset provides them)")
            vis = batch.target_visibility
            vis = np.ones(batch.target_keypoints.shape[:2], bool) if vis is None else vis
            return np.asarray(batch.target_keypoints), np.asarray(vis, bool)
        ref: Tensor = batch.target if batch.target is not None else batch.driving
        return self.extractor(ref)

    def per_frame(self, batch: FrameBatch) -> Dict[str, np.ndarray]:
        kp_ref, found_ref = self._reference(batch)
        kp_gen, found_gen = self.extractor(batch.generated)
        if kp_ref.shape != kp_gen.shape:
            raise MetricError(f"akd: reference keypoints {kp_ref.shape} and generated {kp_gen.shape} differ "
                              f"(extractor '{self.extractor_name}')")
        skip = self.pose_eval and bool(getattr(self.extractor, "detects_whole_object", False))
        akd, mkr = akd_mkr(kp_ref, found_ref, kp_gen, found_gen, skip_generated_misses=skip)
        return {"akd": akd, "mkr": mkr}

    def settings(self) -> Dict[str, Any]:
        s = {"extractor": self.extractor_name, "reference": self.reference,
             "reference_frame": "target (real / ground-truth render), else driving frame",
             "akd": "mean |dx|,|dy| in pixels over keypoints found in both",
             "mkr": "found in reference, missing in generated / found in reference",
             "generated_misses": "skipped" if self.pose_eval and getattr(self.extractor, "detects_whole_object",
                                                                         False) else "counted in mkr"}
        extra = getattr(self.extractor, "settings", None)
        if callable(extra):
            s["extractor_settings"] = extra()
        return s


