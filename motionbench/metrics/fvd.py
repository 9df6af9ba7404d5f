"""FVD and KVD (Unterthiner et al. 2018, "Towards Accurate Generative Models of Video: A New Metric &
Challenges") over clips of consecutive frames, on Kinetics-400 I3D features (:mod:`motionbench.metrics.i3d`).

Each video of a protocol is cut into clips of ``clip_length`` frames ``frame_step`` apart, a new clip every
``clip_stride`` frames from its first frame (default: consecutive, non-overlapping 16-frame clips), at most
``max_clips_per_video`` per video; frames after the last whole clip are not used. Generated clips are
compared with the real clips at the same positions of the driving videos (the real set of FID). Videos
shorter than one clip contribute none; ``n`` (clips) and ``n_videos`` are recorded.

* ``fvd`` = ‖μ_g − μ_r‖² + Tr(Σ_g + Σ_r − 2(Σ_g Σ_r)^½) (the eigenvalue trace term of
  :func:`motionbench.metrics.fid.frechet_distance`), with the covariance of the chosen protocol: divided by n
  for ``styleganv`` (StyleGAN-V's ``FeatureStats.get_mean_cov``), by n − 1 for ``videogpt`` (VideoGPT's ``cov``).
* ``kvd`` = unbiased MMD² with the polynomial kernel (x·y/d + 1)³ of KID on the same features.

Intervals are bootstraps over videos as for FID / KID (generated videos resampled, real statistics fixed).
Real-clip features are cached on disk like FID's real frames.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import torch

from .base import FrameBatch, MetricContext, MetricError
from .fid import FID, KID
from .i3d import check_backbone, shared_i3d

__all__ = ["FVD", "KVD", "ClipSampler"]

#: FVD protocol -> covariance normalisation (n - ddof) of its reference implementation
DDOF = {"styleganv": 0, "videogpt": 1}


class ClipSampler:
    """Cuts the frames of one video, arriving chunk by chunk, into clips (see the module docstring)."""

    def __init__(self, clip_length: int, clip_stride: int, frame_step: int, max_clips: Optional[int]) -> None:
        self.length, self.stride, self.step, self.max_clips = clip_length, clip_stride, frame_step, max_clips
        self.span = (clip_length - 1) * frame_step + 1  # frames one clip covers
        self.reset(None)

    def reset(self, video: Optional[str]) -> None:
        self.video = video
        self.frames: Dict[str, List[torch.Tensor]] = {"gen": [], "real": []}
        self.first = 0  # frame index of frames[...][0]
        self.next_start: Optional[int] = None
        self.clips = 0

    def add(self, batch: FrameBatch) -> Dict[str, torch.Tensor]:
        """Append a chunk; return the clips it completes, ``{"gen": K×T×3×H×W, "real": K×T×3×H×W}``."""
        idx = [int(i) for i in batch.frame_indices]
        if batch.video != self.video:
            self.reset(batch.video)
            self.first = self.next_start = idx[0]
        end = self.first + len(self.frames["gen"])
        if idx != list(range(end, end + len(idx))):
            raise MetricError(f"fvd/kvd: video '{batch.video}' arrived with frames {idx[:3]}... after frame {end - 1}; "
                              f"clips need consecutive frames in order")
        self.frames["gen"] += list(batch.generated.detach().float().cpu())
        self.frames["real"] += list(batch.driving.detach().float().cpu())
        starts = []
        while (self.max_clips is None or self.clips < self.max_clips) and \
                self.next_start + self.span <= self.first + len(self.frames["gen"]):
            starts.append(self.next_start - self.first)
            self.next_start += self.stride
            self.clips += 1
        out = {k: torch.stack([torch.stack(v[s:s + self.span:self.step]) for s in starts]) if starts
               else torch.zeros((0, self.length, *batch.generated.shape[1:])) for k, v in self.frames.items()}
        done = self.max_clips is not None and self.clips >= self.max_clips
        drop = len(self.frames["gen"]) if done else max(0, min(self.next_start - self.first, len(self.frames["gen"])))
        for k in self.frames:  # keep only frames a later clip can use
            del self.frames[k][:drop]
        self.first += drop
        return out


class _ClipSetMetric:
    """Mixin turning the FID / KID frame-set metrics into clip-set metrics on I3D features."""

    name: str

    def __init__(self, context=None, backbone: str = "styleganv", clip_length: int = 16,
                 clip_stride: Optional[int] = None, frame_step: int = 1, max_clips_per_video: Optional[int] = None,
                 batch_size: Optional[int] = None, extractor: Any = None, **options: Any) -> None:
        check_backbone(backbone, self.name)
        clip_stride = clip_length if clip_stride is None else clip_stride
        if min(clip_length, clip_stride, frame_step) < 1 or (max_clips_per_video is not None and max_clips_per_video < 1):
            raise MetricError(f"{self.name}: clip_length, clip_stride, frame_step and max_clips_per_video must be "
                              f">= 1, got {clip_length}, {clip_stride}, {frame_step}, {max_clips_per_video}")
        self.fvd_backbone = backbone
        self.sampler = ClipSampler(int(clip_length), int(clip_stride), int(frame_step),
                                   None if max_clips_per_video is None else int(max_clips_per_video))
        self.ddof = DDOF[backbone]
        if extractor is None:
            extractor = shared_i3d(context or MetricContext(), backbone, batch_size)
        super().__init__(context, extractor=extractor, quantize=True, **options)

    def reset(self) -> None:
        super().reset()
        self.sampler.reset(None)

    def clip_settings(self) -> Dict[str, Any]:
        s = self.sampler
        return {"clip_length": s.length, "clip_stride": s.stride, "frame_step": s.step,
                "max_clips_per_video": s.max_clips}

    def cache_key(self) -> Dict[str, Any]:
        return {**super().cache_key(), "clips": self.clip_settings(),
                "weights_sha256": getattr(self.extractor, "sha256", None)}

    def update(self, batch: FrameBatch) -> None:
        if self._protocol is None:
            self._open_cache(batch.protocol)
        clips = self.sampler.add(batch)
        self._gen.append(self.extractor(clips["gen"]))
        self._ids.append(json.dumps([batch.video, list(map(int, batch.frame_indices))]).encode())
        if self._cached is None:
            self._real.append(self.extractor(clips["real"]))

    def compute(self) -> Dict[str, Dict[str, Any]]:
        out = super().compute()
        videos = {json.loads(i)[0] for i, g in zip(self._ids, self._gen) if len(g)}
        out[self.name]["n_videos"] = len(videos)
        return out

    def settings(self) -> Dict[str, Any]:
        s = super().settings()  # FID's / KID's, less what describes Inception frames
        for key in ("backbone", "weights", "input", "real_frames"):
            s.pop(key, None)
        extractor = getattr(self.extractor, "settings", None)
        return {"protocol": self.fvd_backbone, **(extractor() if callable(extractor) else {"backbone": self.backbone}),
                **self.clip_settings(), "quantize": "8 bit", "real_clips": "driving videos' clips at the same positions",
                **s}


class FVD(_ClipSetMetric, FID):
    """Fréchet Video Distance on I3D logits of generated vs real clips; lower is better."""

    name = "fvd"
    outputs = {"fvd": False}

    def settings(self) -> Dict[str, Any]:
        return {**super().settings(), "covariance": "divided by n" if self.ddof == 0 else "divided by n - 1"}


class KVD(_ClipSetMetric, KID):
    """Kernel Video Distance: KID's unbiased polynomial-kernel MMD² on I3D logits of clips; lower is better."""

    name = "kvd"
    outputs = {"kvd": False}
