"""AED (average euclidean distance of identity embeddings) with a pluggable identity embedder.

Per frame, with embeddings e_g of the generated frame and e_r of the reference:

* ``aed`` = ||e_g - e_r||₂ (default) or ||e_g - e_r||₂² (``compat="pose_eval"``, pose-evaluation's cmp.py).
* ``id_similarity`` = cos(e_g, e_r), for embedders that are meant for it (face networks), higher is better.

The reference is the **real frame** for same-identity reconstruction (pose-evaluation semantics: does the
reconstruction keep the person of the ground truth?) and the **source image** for cross-identity animation
(identity consistency: does the animated frame keep the source's identity?). NaN where an embedding is
undefined (no face found, empty foreground); the runner counts those frames.

Embedders live in :data:`motionbench.registries.IDENTITY_EMBEDDERS`: ``color_histogram`` (synthetic, no
weights), ``arcface`` (faces: insightface arcface_torch iresnet100, the default on face datasets when its
weights file is present), ``facenet`` (faces: facenet-pytorch InceptionResnetV1 trained on VGGFace2,
optional extra; the default on face datasets otherwise) and ``person_reid`` (bodies: a ResNet-50 person
re-identification network on person crops).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np
from torch import Tensor

from .base import FrameBatch, FrameMetric, IdentityEmbedder, MetricError
from .common import plugin

__all__ = ["AED", "ColorHistogramEmbedder", "aed_values", "default_face_embedder"]


def default_face_embedder() -> str:
    """``arcface`` when its r100 weights file is in place, else ``facenet``."""
    from ..hub.weights import weight_path

    return "arcface" if weight_path("arcface_r100").is_file() else "facenet"


def aed_values(emb_gen: np.ndarray, emb_ref: np.ndarray, squared: bool = False) -> np.ndarray:
    """Per-row Euclidean (or squared Euclidean) distance; NaN rows stay NaN."""
    d2 = ((np.asarray(emb_gen, np.float64) - np.asarray(emb_ref, np.float64)) ** 2).sum(axis=1)
    return d2 if squared else np.sqrt(d2)


def cosine_values(emb_gen: np.ndarray, emb_ref: np.ndarray) -> np.ndarray:
    a, b = np.asarray(emb_gen, np.float64), np.asarray(emb_ref, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _marker_colors() -> Optional[np.ndarray]:
    """Reserved marker colours of the synthetic renderer (K×3 in [0,1]) when motionbench.data.markers has them."""
    try:
        from ..data import markers
    except ImportError:
        return None
    for attr in ("MARKER_COLORS", "RESERVED_COLORS", "MARKER_COLOURS"):
        cols = getattr(markers, attr, None)
        if cols is not None:
            arr = np.asarray(cols, np.float64).reshape(-1, 3)
            return arr / 255.0 if arr.max() > 1.0 else arr
    return None


def _max_body_chroma() -> Optional[float]:
    """Chroma above which a synthetic pixel can only be (blurred) marker colour, plus a small margin."""
    try:
        from ..data.markers import MAX_BODY_CHROMA
    except ImportError:
        return None
    return float(MAX_BODY_CHROMA) + 0.05


class ColorHistogramEmbedder(IdentityEmbedder):
    """Pose-invariant appearance descriptor of a puppet, computed from the image alone (no weights).

    1. background colour b = per-channel median of a ``border``-pixel frame around the image;
    2. foreground = pixels farther than ``threshold`` (RGB distance) from b, minus
       marker pixels: within ``marker_tolerance`` of a reserved marker colour or more saturated than
       ``max_chroma`` (markers encode pose, not identity; defaults from :mod:`motionbench.data.markers`);
    3. descriptor = soft (trilinear) ``bins``³ RGB histogram of the foreground, normalised to sum 1, followed
       by ``background_weight`` · b (the background is part of a synthetic identity).
    Colour proportions of the body parts do not change with pose, translation or scale, so the distance
    between two renders of the same puppet stays small while other puppets land far away.
    """

    name = "color_histogram"

    def __init__(self, bins: int = 8, border: int = 2, threshold: float = 0.15, background_weight: float = 0.5,
                 marker_colors: Optional[Sequence[Sequence[float]]] = None, marker_tolerance: float = 0.08,
                 max_chroma: Optional[float] = -1.0, **_: Any) -> None:
        if bins < 2:
            raise ValueError("color_histogram: bins must be >= 2")
        self.bins, self.border, self.threshold = int(bins), int(border), float(threshold)
        self.background_weight, self.marker_tolerance = float(background_weight), float(marker_tolerance)
        cols = _marker_colors() if marker_colors is None else np.asarray(marker_colors, np.float64).reshape(-1, 3)
        self.marker_colors = cols if cols is not None and len(cols) else None
        if max_chroma is not None and max_chroma < 0:  # default: the synthetic renderer's body-colour limit
            max_chroma = _max_body_chroma()
        self.max_chroma = None if max_chroma is None else float(max_chroma)

    def settings(self) -> Dict[str, Any]:
        return {"bins": self.bins, "border": self.border, "threshold": self.threshold,
                "background_weight": self.background_weight, "max_chroma": self.max_chroma,
                "marker_colors_ignored": 0 if self.marker_colors is None else len(self.marker_colors)}

    def _background(self, img: np.ndarray) -> np.ndarray:
        """Per-channel median of a ``border``-pixel frame around the image (robust to limbs touching it)."""
        b = self.border
        frame = np.concatenate([img[:b].reshape(-1, 3), img[-b:].reshape(-1, 3),
                                img[b:-b, :b].reshape(-1, 3), img[b:-b, -b:].reshape(-1, 3)])
        return np.median(frame, axis=0)

    def foreground(self, img: np.ndarray) -> np.ndarray:
        """H·W bool mask: farther than ``threshold`` from the background colour, and not marker-coloured."""
        px = img.reshape(-1, 3)
        fg = np.linalg.norm(px - self._background(img), axis=1) > self.threshold
        if self.max_chroma is not None:
            fg &= (px.max(1) - px.min(1)) <= self.max_chroma  # only markers (and their blur) are more saturated
        if self.marker_colors is not None:
            dist = np.linalg.norm(px[:, None, :] - self.marker_colors[None].astype(np.float32), axis=2).min(axis=1)
            fg &= dist > self.marker_tolerance
        return fg

    def embed_one(self, img: np.ndarray) -> np.ndarray:
        """H×W×3 float [0,1] -> descriptor of length bins³ + 3."""
        B = self.bins
        px = img.reshape(-1, 3)
        fg = self.foreground(img)
        out = np.full(B ** 3 + 3, np.nan)
        if not fg.any():
            return out
        pos = np.clip(px[fg], 0.0, 1.0) * (B - 1)
        lo = np.minimum(np.floor(pos).astype(int), B - 2)
        frac = pos - lo
        hist = np.zeros(B ** 3)
        for corner in range(8):
            bits = np.array([(corner >> c) & 1 for c in range(3)])
            idx = lo + bits
            w = np.prod(np.where(bits == 1, frac, 1.0 - frac), axis=1)
            np.add.at(hist, (idx[:, 0] * B + idx[:, 1]) * B + idx[:, 2], w)
        out[:-3] = hist / hist.sum()
        out[-3:] = self.background_weight * self._background(img)
        return out

    def __call__(self, images: Tensor) -> np.ndarray:
        arr = images.detach().to("cpu").double().clamp(0, 1).numpy().transpose(0, 2, 3, 1)
        return np.stack([self.embed_one(a) for a in arr])


class AED(FrameMetric):
    """Identity distance to the reference (see module docstring); lower is better."""

    name = "aed"
    outputs = {"aed": False, "id_similarity": True}
    needs_target = False

    def __init__(self, context=None, embedder: Any = None, reference: str = "auto",
                 embedder_options: Dict[str, Any] | None = None, **options: Any) -> None:
        super().__init__(context, **options)
        self.embedder, self.embedder_name = plugin(embedder, IdentityEmbedder, "IDENTITY_EMBEDDERS", self.context,
                                                   "embedder", "identity", default_face_embedder(), "color_histogram",
                                                   embedder_options, body_default="person_reid")
        if reference not in ("auto", "source", "target"):
            raise MetricError(f"aed: reference must be 'auto', 'source' or 'target', got {reference!r}")
        self.reference = reference
        self.squared = self.context.compat == "pose_eval"
        self.cosine = bool(getattr(self.embedder, "has_cosine", False))
        self.outputs = {"aed": False, **({"id_similarity": True} if self.cosine else {})}

    def _reference_kind(self, batch: FrameBatch) -> str:
        if self.reference != "auto":
            return self.reference
        return "target" if batch.protocol == "same_identity" else "source"

    def per_frame(self, batch: FrameBatch) -> Dict[str, np.ndarray]:
        emb_gen = self.embedder(batch.generated)
        if self._reference_kind(batch) == "source":
            emb_ref = np.repeat(self.embedder(batch.source.unsqueeze(0)), len(emb_gen), axis=0)
        else:
            ref = batch.target if batch.target is not None else batch.driving
            emb_ref = self.embedder(ref)
        out = {"aed": aed_values(emb_gen, emb_ref, squared=self.squared)}
        if self.cosine:
            out["id_similarity"] = cosine_values(emb_gen, emb_ref)
        return out

    def settings(self) -> Dict[str, Any]:
        s: Dict[str, Any] = {"embedder": self.embedder_name,
                             "distance": "squared euclidean (pose_eval)" if self.squared else "euclidean",
                             "reference": self.reference if self.reference != "auto"
                             else "real frame (same identity), source image (cross identity)"}
        extra = getattr(self.embedder, "settings", None)
        if callable(extra):
            s["embedder_settings"] = extra()
        return s


