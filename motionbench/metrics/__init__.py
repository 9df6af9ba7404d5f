"""Metrics suite: pixel (L1, PSNR, SSIM), LPIPS, FID/KID, FVD/KVD, AKD/MKR, AED, tOF; the factory the runner calls.

Every metric is registered in :data:`motionbench.registries.METRICS` (lazy entries), so third-party metrics
plug in the same way. ``build_metrics(names, context, options)`` instantiates them; ``options`` maps a
metric name to its keyword options (e.g. ``{"lpips": {"net": "vgg"}, "akd": {"extractor": "markers"}}``).
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from .base import (BODY_DATASETS, FACE_DATASETS, FrameBatch, FrameMetric, IdentityEmbedder, KeypointExtractor, Metric,
                   MetricContext, MetricError, SetMetric)

__all__ = ["FrameBatch", "FrameMetric", "IdentityEmbedder", "KeypointExtractor", "Metric", "MetricContext",
           "MetricError", "SetMetric", "build_metrics", "default_metrics", "metric_outputs", "FACE_DATASETS",
           "BODY_DATASETS"]


def default_metrics(dataset_kind: str) -> List[str]:
    """Metrics a benchmark computes when the config names none.

    Synthetic needs no downloaded weights (l1, psnr, ssim, fg_l1/fg_psnr inside the figure mask, akd/mkr via
    the shipped puppet pose detector, aed via colour histograms, tof via OpenCV's optical flow).
    Real datasets add the pretrained-network metrics (lpips, fid, kid) and, for faces and bodies, akd/aed
    (faces: face-alignment and ArcFace or facenet; bodies: Keypoint R-CNN and a person re-id network); those
    fail with a named file when their weights are missing. tof (two Farnebäck flows per frame: ~0.1 s of CPU
    per 256² frame) and fvd/kvd (I3D weights) are computed on real datasets when named.
    """
    kind = (dataset_kind or "").lower()
    if kind in ("synthetic", "puppets"):
        return ["l1", "psnr", "ssim", "fg", "akd", "aed", "tof"]
    names = ["l1", "psnr", "ssim", "lpips", "fid", "kid"]
    if kind in FACE_DATASETS or kind in BODY_DATASETS:
        names += ["akd", "aed"]
    return names


def _options_for(name: str, canonical: str, options: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    if not options:
        return {}
    out: Dict[str, Any] = {}
    for key in (canonical, name):
        val = options.get(key)
        if val is None:
            continue
        if not isinstance(val, Mapping):
            raise MetricError(f"options for metric '{key}' must be a mapping of keyword options, got {val!r}")
        out.update(dict(val))
    return out


def build_metrics(names: Sequence[str], context: Optional[MetricContext] = None,
                  options: Optional[Mapping[str, Any]] = None) -> List[Metric]:
    """Instantiate the metrics ``names`` (aliases allowed, duplicates merged, order kept).

    Unknown names raise the registry's "did you mean" error. Weights are resolved when a metric is built,
    so a missing file fails here with :class:`motionbench.hub.weights.MissingWeightsError` (a MetricError-like
    message naming the file and ``python -m motionbench weights``), before any frame is processed.
    """
    from ..registries import METRICS

    context = context or MetricContext()
    seen: Dict[str, Metric] = {}
    for name in names:
        canonical = METRICS.resolve_name(name)
        if canonical in seen:
            continue
        cls = METRICS.get(canonical)
        seen[canonical] = cls(context, **_options_for(name, canonical, options))
    return list(seen.values())


def metric_outputs(metrics: Sequence[Metric]) -> Dict[str, bool]:
    """All produced values of ``metrics`` with their direction (True = higher is better)."""
    out: Dict[str, bool] = {}
    for m in metrics:
        out.update(m.outputs)
    return out
