"""Relative-motion transfer as in the official FOMM demo: ``normalize_kp`` and ``find_best_frame``.

``normalize_kp`` moves the source keypoints by the driving keypoints' displacement from a reference frame
(optionally scaled by sqrt(area ratio) of the keypoints' convex hulls, scipy's ConvexHull like the demo)
and composes the Jacobians relatively. Unlike the demo (batch 1 only) it works per batch element.
"""
from __future__ import annotations

import warnings
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["DEFAULT_NORMALIZATION", "movement_scale", "normalize_kp", "find_best_frame", "best_frames"]

#: relative-mode defaults of the official demo (``normalize_kp`` keyword arguments)
DEFAULT_NORMALIZATION = {"adapt_movement_scale": True, "use_relative_movement": True, "use_relative_jacobian": True}

KP = Dict[str, Tensor]


def _hull_area(points: np.ndarray) -> float:
    from scipy.spatial import ConvexHull

    return float(ConvexHull(points).volume)  # in 2-D, "volume" is the area


def movement_scale(kp_source: Tensor, kp_driving_initial: Tensor) -> Tensor:
    """Per-sample sqrt(hull area of source kps) / sqrt(hull area of reference kps) (B×K×2 → B).

    Degenerate hulls (collinear keypoints, e.g. an untrained detector) fall back to 1 with a warning.
    """
    src = kp_source.detach().cpu().double().numpy()
    ref = kp_driving_initial.detach().cpu().double().numpy()
    scales = []
    for s, d in zip(src, ref):
        try:
            scales.append(np.sqrt(_hull_area(s)) / np.sqrt(_hull_area(d)))
        except Exception as exc:  # scipy.spatial.QhullError: flat or coincident keypoints
            warnings.warn(f"adapt_movement_scale: degenerate keypoint hull ({type(exc).__name__}); using scale 1")
            scales.append(1.0)
    return torch.tensor(scales, dtype=torch.float64)


def normalize_kp(kp_source: KP, kp_driving: KP, kp_driving_initial: KP, adapt_movement_scale: bool = False,
                 use_relative_movement: bool = False, use_relative_jacobian: bool = False,
                 scale: Optional[Tensor] = None) -> KP:
    """The official ``normalize_kp``, batched (all three keypoint dicts have the same batch size).

    value = kp_s + scale · (kp_d − kp_d0);  jacobian = J_d J_d0⁻¹ J_s. ``scale`` (one per sample) may be
    given precomputed by :func:`movement_scale`; otherwise it is computed when ``adapt_movement_scale``.
    """
    kp_new = dict(kp_driving)
    if use_relative_movement:
        diff = kp_driving["value"] - kp_driving_initial["value"]
        if adapt_movement_scale:
            if scale is None:
                scale = movement_scale(kp_source["value"], kp_driving_initial["value"])
            if scale.numel() == 1:
                diff = diff * scale.item()
            else:
                diff = diff * scale.to(diff.dtype).to(diff.device).view(-1, *([1] * (diff.dim() - 1)))
        kp_new["value"] = diff + kp_source["value"]
        if use_relative_jacobian and "jacobian" in kp_driving:  # zeroth-order models have no Jacobians
            jacobian_diff = torch.matmul(kp_driving["jacobian"], torch.inverse(kp_driving_initial["jacobian"]))
            kp_new["jacobian"] = torch.matmul(jacobian_diff, kp_source["jacobian"])
    return kp_new


def _face_landmarks(device: str):
    """motionbench's offline face-alignment extractor (2DFAN-4 + SFD) with the demo's ``flip_input=True``."""
    from motionbench.hub import weights

    for name in ("s3fd", "2dfan4"):
        try:
            weights.resolve(name, verify=False)
        except weights.MissingWeightsError as exc:
            raise weights.MissingWeightsError(f"find_best_frame (FOMM demo option, faces only): {exc}") from exc
    from motionbench.metrics.face import FaceAlignmentExtractor

    return FaceAlignmentExtractor(device=device, flip_input=True)


def _normalized_landmarks(kp: np.ndarray) -> np.ndarray:
    kp = kp - kp.mean(axis=0, keepdims=True)
    kp[:, :2] = kp[:, :2] / np.sqrt(_hull_area(kp[:, :2]))
    return kp


def find_best_frame(source: Tensor, driving: Tensor, device: Optional[str] = None, detector=None) -> int:
    """Index of the driving frame (T×3×H×W, [0, 1]) whose face landmarks best match ``source`` (3×H×W).

    Landmarks are centred and scaled by sqrt(hull area), as in the official demo. Frames without a detected
    face are skipped; raises ValueError when the source has no face.
    """
    fa = detector if detector is not None else _face_landmarks(device or str(source.device))
    kp, found = fa(torch.cat([source[None], driving]).cpu())
    if not found[0].all():
        raise ValueError("find_best_frame: no face found in the source image")
    kp_source = _normalized_landmarks(kp[0])
    best, best_norm = 0, float("inf")
    for i in range(1, len(kp)):
        if not found[i].all():
            continue
        norm = float((np.abs(kp_source - _normalized_landmarks(kp[i])) ** 2).sum())
        if norm < best_norm:
            best, best_norm = i - 1, norm
    return best


def best_frames(sources: Tensor, clips: Tensor, device: Optional[str] = None) -> Sequence[int]:
    """:func:`find_best_frame` for each batch element (B×3×H×W sources, B×T×3×H×W clips)."""
    fa = _face_landmarks(device or str(sources.device))
    return [find_best_frame(s, c, detector=fa) for s, c in zip(sources, clips)]
