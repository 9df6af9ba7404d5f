"""Own videos (``prepare.preset=faces|bodies``): find the subject's tubes, then cut them like metadata chunks.

A first pass decodes each video and runs a detector on every ``detect_every``-th frame; the tubes it finds
become rows of an official-format metadata CSV (``<output>/metadata.csv``: reference fps and size are the
video's own), which the second pass cuts exactly as the published datasets are cut. One subject per video;
its identity is the video's file name (``#`` replaced by ``_``), so chunks of different files pair up as
cross-identity pairs.

Tube rules (video-preprocessing's, see :mod:`motionbench.prepare.presets` for the defaults):

* faces (``crop_vox.py``): a tube starts at the largest face; on each sampled frame the face with the highest
  IoU with the tube's first box continues it; the tube ends when that IoU is below ``iou`` (or no face is
  found) or when it reaches ``max_frames``. Its box is the union of its faces' boxes, enlarged by
  ``increase`` on each side and made square (``compute_aspect_preserved_bbox``).
* bodies (``crop_taichi.py``): people are Keypoint R-CNN detections with box score > ``min_score``, taller
  than 10% of the frame width, with a head keypoint and an ankle keypoint visible; a tube starts at the largest
  such person with a fixed box (the person's box enlarged by ``increase`` and made square) and ends when the
  person's box leaves it, when no person or more than one person overlaps it, or at ``max_frames``.

Tubes shorter than ``min_frames`` are dropped (report status ``short_tube``); a video without any tube is
reported as ``no_subject``. Unlike the official scripts, a box that crosses the frame border is moved inside
(or clamped when larger than the frame) instead of dropping the tube, and camera cuts are not detected.

Detectors are pluggable: any picklable zero-argument factory returning a callable ``frame (H×W×3 uint8) ->
N×5 array of x1, y1, x2, y2, score`` (bodies: only the people that pass the tests above) with a
``settings()`` dict; ``prepare.detector=module:factory`` names one from the command line.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..data.base import DatasetError
from .metadata import Box, Chunk, read_metadata

__all__ = ["TUBE_STATUSES", "Tube", "SFDFaceDetector", "KeypointRCNNPersonDetector", "find_tubes",
           "aspect_preserved_box", "fit_box", "iou", "detect_chunks", "resolve_detector"]

TUBE_STATUSES = ("short_tube", "no_subject")
DETECTION_SIZE = 360  # crop_vox.py's REF_FRAME_SIZE: faces are detected on frames resized to 360 rows


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union with video-preprocessing's +1 pixel convention (``bb_intersection_over_union``)."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + 1) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return float(inter / (area_a + area_b - inter))


def aspect_preserved_box(box: Sequence[float], increase: float) -> Box:
    """``compute_aspect_preserved_bbox``: each side pushed out by at least ``increase`` of the box size, the
    shorter side by as much as makes the box square."""
    left, top, right, bot = box
    width, height = right - left, bot - top
    wi = max(increase, ((1 + 2 * increase) * height - width) / (2 * width))
    hi = max(increase, ((1 + 2 * increase) * width - height) / (2 * height))
    return int(left - wi * width), int(top - hi * height), int(right + wi * width), int(bot + hi * height)


def fit_box(box: Box, width: int, height: int) -> Box:
    """Move ``box`` inside a ``width`` × ``height`` frame (keeping its size), clamping a side that is larger."""
    left, top, right, bot = box

    def fit(lo: int, hi: int, size: int) -> Tuple[int, int]:
        if hi - lo >= size:
            return 0, size
        shift = max(0, -lo) - max(0, hi - size)
        return lo + shift, hi + shift

    left, right = fit(left, right, width)
    top, bot = fit(top, bot, height)
    return left, top, right, bot


def _largest(boxes: np.ndarray) -> np.ndarray:
    return boxes[int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))]


def _inside(outer: Sequence[float], inner: Sequence[float]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


@dataclass
class Tube:
    start: int
    end: int  # exclusive
    box: Box  # the crop box in video pixels (enlarged, square where the frame allows, inside the frame)
    why_end: str = ""


@dataclass
class _Open:
    start: int
    first: np.ndarray
    union: List[float] = field(default_factory=list)


class _Tracker:
    """Feeds sampled frames' detections; collects finished tubes."""

    def __init__(self, kind: str, rules: Mapping[str, Any], size: Tuple[int, int]) -> None:
        self.kind, self.rules, (self.height, self.width) = kind, rules, size
        self.open: Optional[_Open] = None
        self.tubes: List[Tube] = []

    def _close(self, end: int, why: str) -> None:
        t, self.open = self.open, None
        assert t is not None
        if self.kind == "faces":
            box = aspect_preserved_box(t.union, self.rules["increase"])
        else:
            box = tuple(int(v) for v in t.first[:4])
        self.tubes.append(Tube(t.start, end, fit_box(box, self.width, self.height), why))  # type: ignore[arg-type]

    def _start(self, i: int, boxes: np.ndarray) -> None:
        if len(boxes):
            b = _largest(boxes)
            first = b if self.kind == "faces" else np.asarray(aspect_preserved_box(b[:4], self.rules["increase"]), float)
            self.open = _Open(i, first, list(map(float, b[:4])))

    def feed(self, i: int, boxes: np.ndarray) -> None:
        t = self.open
        if t is None:
            self._start(i, boxes)
            return
        if i - t.start >= self.rules["max_frames"]:
            self._close(i, f"reached {self.rules['max_frames']} frames")
            self._start(i, boxes)
            return
        if self.kind == "faces":
            best = max(((iou(t.first, b), tuple(b)) for b in boxes), default=(0.0, None))
            if best[0] < self.rules["iou"]:
                self._close(i, "no face" if best[1] is None else f"IoU with the first box {best[0]:.2f} < {self.rules['iou']}")
                self._start(i, boxes)
            else:
                b = best[1]
                t.union = [min(t.union[0], b[0]), min(t.union[1], b[1]), max(t.union[2], b[2]), max(t.union[3], b[3])]
            return
        touching = [b for b in boxes if iou(t.first, b) > 0]
        if len(touching) != 1 or not _inside(t.first, touching[0]):
            why = ("no person" if not touching else "several people" if len(touching) > 1 else "the person left the box")
            self._close(i, why)
            self._start(i, boxes)

    def finish(self, end: int) -> List[Tube]:
        if self.open is not None:
            self._close(end, "end of video")
        return self.tubes


def find_tubes(frames, detector: Callable[[np.ndarray], np.ndarray], kind: str, rules: Mapping[str, Any],
               size: Tuple[int, int]) -> Tuple[List[Tube], int]:
    """Tubes of ``frames`` (an iterable of (index, H×W×3 uint8), in order); returns (tubes, frame count)."""
    tracker = _Tracker(kind, rules, size)
    every, n = int(rules["detect_every"]), 0
    for i, frame in frames:
        n = i + 1
        if i % every == 0:
            boxes = np.asarray(detector(frame), dtype=float).reshape(-1, 5)
            tracker.feed(i, boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])])  # no empty boxes
    return tracker.finish(n), n


# ------------------------------------------------------------------------------------------ detectors
class SFDFaceDetector:
    """face-alignment's S3FD face detector on the frame resized to 360 rows (as ``crop_vox.py``); the weights
    file ``s3fd-619a316812.pth`` is resolved from the torch hub cache, never downloaded."""

    def __init__(self, device: str = "cpu", verify: bool = True) -> None:
        from ..hub import weights

        path = weights.resolve("s3fd", verify=verify)
        from face_alignment.detection.sfd.sfd_detector import SFDDetector

        self.device, self.weights = device, path
        self.detector = SFDDetector(device, path_to_detector=str(path))

    def settings(self) -> Dict[str, Any]:
        return {"detector": "face-alignment S3FD", "weights": self.weights.name,
                "detection_rows": DETECTION_SIZE}

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        from skimage.transform import resize

        mult = frame.shape[0] / DETECTION_SIZE
        small = resize(frame, (DETECTION_SIZE, int(frame.shape[1] / mult)), preserve_range=True)
        boxes = np.asarray(self.detector.detect_from_image(small.astype(np.float32)), dtype=float).reshape(-1, 5)
        return boxes * np.array([mult, mult, mult, mult, 1.0])


class KeypointRCNNPersonDetector:
    """torchvision's COCO Keypoint R-CNN (ResNet-50 FPN, ``keypointrcnn_resnet50_fpn_coco-fc266e95.pth`` from the
    torch hub cache, never downloaded; images resized to a 256-pixel short side as ``crop_taichi.py``'s
    detector); returns the people that pass ``crop_taichi.py``'s tests."""

    def __init__(self, device: str = "cpu", verify: bool = True, min_score: float = 0.9,
                 keypoint_logit: float = 2.0, min_height: float = 0.10) -> None:
        from ..hub import weights

        path = weights.resolve("keypointrcnn_coco", verify=verify)  # before the imports: fails fast
        import torch
        from torchvision.models.detection import keypointrcnn_resnet50_fpn

        model = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=256)
        model.load_state_dict(torch.load(str(path), map_location="cpu", weights_only=True))
        self.model = model.to(device).eval()
        self.device, self.weights = device, path
        self.min_score, self.keypoint_logit, self.min_height = min_score, keypoint_logit, min_height

    def settings(self) -> Dict[str, Any]:
        return {"detector": "torchvision Keypoint R-CNN ResNet-50 FPN (COCO)", "weights": self.weights.name,
                "min_size": 256, "box_score": f"> {self.min_score}",
                "full_person": f"a head keypoint and an ankle keypoint with logit > {self.keypoint_logit}",
                "min_height": f"> {self.min_height} x frame width"}

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float().div(255).to(self.device)
        with torch.no_grad():
            out = self.model([x])[0]
        boxes, scores, kp = out["boxes"].cpu().numpy(), out["scores"].cpu().numpy(), out["keypoints_scores"].cpu().numpy()
        keep = ((scores > self.min_score) & (boxes[:, 3] - boxes[:, 1] > self.min_height * frame.shape[1])
                & (kp[:, :5] > self.keypoint_logit).any(1) & (kp[:, -2:] > self.keypoint_logit).any(1))
        return np.concatenate([boxes[keep], scores[keep, None]], axis=1)


def resolve_detector(spec: Optional[str], kind: str, device: str, min_score: float) -> Callable[[], Any]:
    """A picklable factory: ``module:attr`` (a factory or class taking no argument), else the preset's detector."""
    if spec:
        module, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError) as e:
            raise DatasetError(f"prepare.detector={spec}: cannot import it ({e}); give module:factory") from e
        return factory
    from functools import partial

    if kind == "faces":
        return partial(SFDFaceDetector, device)
    return partial(KeypointRCNNPersonDetector, device, True, min_score)


# ------------------------------------------------------------------------------------------ the pass
@dataclass
class _DetectJob:
    stem: str
    path: str
    kind: str
    rules: Dict[str, Any]
    factory: Callable[[], Any]
    cache: str  # the JSON file this video's tubes are kept in
    key: str


_DETECTORS: Dict[bytes, Any] = {}  # one detector per factory (by its pickle) per process


def _detect_video(job: _DetectJob) -> Dict[str, Any]:
    from .extract import _message, open_video

    try:
        reader, notes = open_video(job.path)
    except DatasetError as e:
        return {"key": job.key, "error": _message(e)}
    try:
        key = pickle.dumps(job.factory)
        detector = _DETECTORS.get(key)
        if detector is None:
            detector = _DETECTORS[key] = job.factory()

        def frames():
            for idx, block in reader.iter_chunks(32):
                yield from zip(idx, block)

        tubes, n = find_tubes(frames(), detector, job.kind, job.rules, reader.size)
    except DatasetError as e:
        return {"key": job.key, "error": f"decoding failed part-way: {_message(e)}"}
    finally:
        reader.close()
    result = {"key": job.key, "fps": reader.fps, "width": reader.size[1], "height": reader.size[0], "frames": n,
              "notes": notes, "tubes": [[t.start, t.end, list(t.box), t.why_end] for t in tubes]}
    from ..files.atomic import write_bytes_atomic

    write_bytes_atomic(job.cache, json.dumps(result).encode(), what="detection cache")
    return result


def _cached(path: str, key: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("key") == key else None


def detect_chunks(preset, o, videos: Mapping[str, str], root: Path,
                  factory: Optional[Callable[[], Any]]) -> Tuple[List[Chunk], List[Dict[str, Any]], Path]:
    """Tubes of every video in ``videos`` as metadata chunks (also written to ``root/metadata.csv``), plus the
    report rows of dropped tubes and videos without a subject."""
    from .run import _progress, _run_jobs

    if not videos:
        raise DatasetError(f"prepare.videos={o.videos}: no video files in it")
    rules = preset.tube_settings(o)
    factory = factory or resolve_detector(o.detector, preset.kind, o.device, rules.get("min_score", 0.9))
    detector = factory()  # built once here: a missing weights file or a broken factory fails before any work
    settings = {**rules, **dict(detector.settings())}
    _DETECTORS[pickle.dumps(factory)] = detector
    cache_dir = root / ".detections"
    cache_dir.mkdir(parents=True, exist_ok=True)
    found: Dict[str, Dict[str, Any]] = {}
    jobs = []
    for file_id, path in sorted(videos.items()):
        key = hashlib.sha256(json.dumps([preset.kind, os.path.getsize(path), settings], sort_keys=True,
                                        default=str).encode()).hexdigest()[:16]
        cache = str(cache_dir / f"{file_id}.json")
        hit = _cached(cache, key)
        if hit is not None:
            found[file_id] = hit
        else:
            jobs.append(_DetectJob(file_id, path, preset.kind, rules, factory, cache, key))
    bar = _progress(o.progress, total=len(jobs))

    def done(job: _DetectJob, result: Dict[str, Any]) -> None:
        found[job.stem] = result
        bar.update(1)

    try:
        _run_jobs(jobs, o.workers, done, fn=_detect_video)
    finally:
        bar.close()
    return _to_chunks(preset, o, found, settings, root)


def _to_chunks(preset, o, found: Mapping[str, Dict[str, Any]], settings: Mapping[str, Any],
               root: Path) -> Tuple[List[Chunk], List[Dict[str, Any]], Path]:
    import csv
    import io

    from ..files.atomic import write_text_atomic

    how = (f"{preset.kind}: {settings.get('detector')} on every {settings['detect_every']} frame(s); tubes of "
           f"{settings['min_frames']}-{settings['max_frames']} frames; box enlarged by {settings['increase']:g}, "
           f"square, moved inside the frame")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["video_id", "start", "end", "bbox", "fps", "width", "height", "partition"])
    extra: List[Dict[str, Any]] = []
    for stem, r in sorted(found.items()):
        vid = stem.replace("#", "_")
        base = {"video_id": vid, "partition": o.partition, "frames": 0, "path": "", "sha256": "", "line": "",
                "name": "", "person_id": "", "crop_box": "", "spec": ""}
        if "error" in r:
            extra.append({**base, "start": 0, "end": 0, "status": "unreadable", "bbox": "", "detail": r["error"]})
            continue
        kept = 0
        for start, end, box, why in r["tubes"]:
            bbox = "-".join(map(str, box))
            if end - start < settings["min_frames"]:
                extra.append({**base, "start": start, "end": end, "status": "short_tube", "bbox": bbox,
                              "detail": f"{how}; {end - start} frames < {settings['min_frames']} (ended: {why})"})
                continue
            writer.writerow([vid, start, end, bbox, repr(float(r["fps"])), r["width"], r["height"], o.partition])
            kept += 1
        if not kept and not any(e["video_id"] == vid for e in extra):
            extra.append({**base, "start": 0, "end": r["frames"], "status": "no_subject", "bbox": "",
                          "detail": f"{how}; nothing detected in {r['frames']} frames"})
    metadata = root / "metadata.csv"
    write_text_atomic(metadata, buf.getvalue(), what="detected tubes (metadata.csv)")
    if buf.getvalue().count("\n") < 2:
        return [], extra, metadata
    chunks = [dataclasses.replace(c, notes=(how,)) for c in read_metadata(str(metadata))]
    return chunks, extra, metadata
