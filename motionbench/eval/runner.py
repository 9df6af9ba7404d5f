"""The benchmark runner: the two protocols, for any registered animator on any dataset.

* ``same_identity`` (FOMM ``reconstruction.py`` semantics): source = frame 0 of a test video, every
  frame drives and is also the target; absolute mode by default.
* ``cross_identity``: pairs (source image of one video, driving clip of another), relative mode. On
  synthetic the target is the ground-truth render of the source identity in the driving pose; on real
  data there is no target and only target-free metrics (FID, AED w.r.t. the source, AKD w.r.t. the
  driving frame) apply.

Frames are streamed in chunks; the source is encoded once per video. Frame metrics are aggregated by
frame (every frame counts once) and by video (every video counts once). ``value`` is the video-level
mean without the trivial frames (same-identity frame 0 is the source itself; relative cross-identity
frame 0 is the source pose by construction); ``compat=pose_eval`` makes ``value`` the frame-weighted mean
over all frames, as pose-evaluation computes it.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm.auto import tqdm

from ..core.animator import Animator
from ..data.base import DatasetError, Pair, VideoDataset, VideoRef
from ..metrics.base import FrameBatch, FrameMetric, Metric, SetMetric
from .results import MetricResult
from .stats import DEFAULT_LEVEL, DEFAULT_N_BOOT, bootstrap_ci

__all__ = ["BenchmarkOptions", "ProtocolResult", "run_benchmark", "effective_cross_mode", "PROTOCOLS", "plan_jobs",
           "collect_protocol", "summarise_protocol", "Collected", "AnimationStream", "frame_targets",
           "job_key", "sample_jobs"]

log = logging.getLogger("motionbench")

PROTOCOLS = ("same_identity", "cross_identity")


@dataclass
class BenchmarkOptions:
    protocols: Sequence[str] = PROTOCOLS
    split: str = "test"
    max_videos: Optional[int] = None
    max_frames: Optional[int] = None
    num_pairs: Optional[int] = None
    batch_frames: int = 16
    same_mode: str = "absolute"
    cross_mode: str = "relative"
    compat: str = "default"
    seed: int = 0
    progress: bool = True
    n_boot: int = DEFAULT_N_BOOT  # bootstrap resamples of the 95% interval over videos (0: no interval)


@dataclass
class _Series:
    """Per-frame values of one metric output, per video, with an 'excluded from default aggregate' flag."""

    videos: Dict[str, List[Tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)

    def add(self, video: str, values: np.ndarray, included: np.ndarray) -> None:
        self.videos.setdefault(video, []).append((np.asarray(values, dtype=np.float64), included))

    def arrays(self, video: str, use_all: bool) -> np.ndarray:
        vals = [v if use_all else v[inc] for v, inc in self.videos[video]]
        return np.concatenate(vals) if vals else np.zeros(0)

    def extend(self, other: "_Series") -> None:
        """Append ``other``'s chunks after this series' own (videos in order of first appearance)."""
        for video, chunks in other.videos.items():
            self.videos.setdefault(video, []).extend(chunks)


@dataclass
class Collected:
    """What animating a protocol's jobs leaves before aggregation: per-frame series, metric directions, the
    metrics applied (set metrics hold their own accumulated state), frames and animation seconds. Sharded
    evaluation (:mod:`motionbench.eval.distributed`) gathers every rank's :meth:`payload` and joins them with
    :meth:`merge`."""

    series: Dict[str, _Series]
    directions: Dict[str, bool]
    used: List[Metric]
    frames: int
    animate_seconds: float
    mode: str

    def payload(self, metrics: Sequence[Metric]) -> Dict[str, Any]:
        """This share as plain picklable data (the applied metrics by their index in ``metrics``, set metrics'
        accumulated :meth:`~motionbench.metrics.base.SetMetric.state`)."""
        used = [i for i, m in enumerate(metrics) if any(m is u for u in self.used)]
        return {"series": self.series, "directions": self.directions, "used": used, "frames": self.frames,
                "animate_seconds": self.animate_seconds, "mode": self.mode,
                "set_states": {i: metrics[i].state() for i in used if isinstance(metrics[i], SetMetric)}}

    @classmethod
    def merge(cls, payloads: Sequence[Dict[str, Any]], metrics: Sequence[Metric], mode: str) -> "Collected":
        """The shares' payloads (:meth:`payload`), in job order, as one collection: series concatenated, set
        metrics continued from every share's state (so the aggregation equals one process's)."""
        series: Dict[str, _Series] = {}
        directions: Dict[str, bool] = {}
        for part in payloads:
            directions.update(part["directions"])
            for name, s in part["series"].items():
                series.setdefault(name, _Series()).extend(s)
        used = sorted({i for part in payloads for i in part["used"]})
        for i in used:
            if isinstance(metrics[i], SetMetric):
                metrics[i].merge([part["set_states"][i] for part in payloads if i in part["set_states"]])
        return cls(series, directions, [metrics[i] for i in used], sum(p["frames"] for p in payloads),
                   sum(p["animate_seconds"] for p in payloads), mode)


@dataclass
class ProtocolResult:
    metrics: Dict[str, MetricResult]
    per_video: List[Dict[str, Any]]
    frames: int
    animate_seconds: float
    mode: str = ""  # the animation mode this protocol ran in (see effective_cross_mode)
    protocol: str = ""  # same_identity | cross_identity (result keys of extra floor modes are 'protocol@mode')


class AnimationStream:
    """One source animated by a driving clip that arrives chunk by chunk (the benchmark's videos, ``task=animate``
    and ``task=compare``): the source is encoded once, and the first driving frame is the reference of
    relative mode. Calling it with T×3×H×W driving frames returns the T×3×H×W animated frames."""

    def __init__(self, model: Animator, source: torch.Tensor, mode: str, **animate_kwargs: Any) -> None:
        self.model, self.source, self.mode, self.kwargs = model, source, mode, animate_kwargs
        with model.inference():
            self.state = model.encode_source(source)
        self.driving_ref: Optional[torch.Tensor] = None

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        if self.driving_ref is None:
            self.driving_ref = frames[:1]
        return self.model.animate(self.source, frames.unsqueeze(0), mode=self.mode, driving_ref=self.driving_ref,
                                  source_state=self.state, **self.kwargs)[0]


def effective_cross_mode(model: Animator, requested: str) -> str:
    """The cross-identity mode actually run: a method without relative mode (``capabilities.relative``
    False, e.g. crosstrain) runs ``absolute``, scored against the absolute ground truth on synthetic.
    ``avd`` (animation via disentanglement) needs ``capabilities.avd``; there is no stand-in for it."""
    if requested == "avd" and not model.capabilities.avd:
        raise ValueError(f"method '{model.name}' has no avd mode (animation via disentanglement: tpsmm, mraa); "
                         f"choose benchmark.cross_mode=relative or absolute")
    return "absolute" if requested == "relative" and not model.capabilities.relative else requested


def _aggregate(series: _Series, higher: bool, frame_weighted_all: bool, n_boot: int = DEFAULT_N_BOOT,
               seed: int = 0) -> Tuple[MetricResult, Dict[str, float]]:
    """Frame and video means of one metric output, with the 95% bootstrap interval over videos."""
    per_video: Dict[str, float] = {}
    frame_vals: List[np.ndarray] = []
    n_undefined = 0
    for video in series.videos:
        vals = series.arrays(video, use_all=frame_weighted_all)
        defined = vals[np.isfinite(vals)]
        n_undefined += int(vals.size - defined.size)
        frame_vals.append(defined)
        per_video[video] = float(defined.mean()) if defined.size else math.nan
    allv = np.concatenate(frame_vals) if frame_vals else np.zeros(0)
    frame_mean = float(allv.mean()) if allv.size else math.nan
    vids = [v for v in per_video.values() if math.isfinite(v)]
    video_mean = float(np.mean(vids)) if vids else math.nan
    lo, hi = bootstrap_ci(frame_vals, frame_weighted=frame_weighted_all, n_boot=n_boot, seed=seed)
    res = MetricResult(value=frame_mean if frame_weighted_all else video_mean, higher_is_better=higher,
                       n=int(allv.size), ci_low=lo, ci_high=hi, n_boot=int(n_boot), ci_level=DEFAULT_LEVEL,
                       frame_mean=frame_mean, video_mean=video_mean, n_videos=len(vids), n_undefined_frames=n_undefined,
                       aggregation="frame-weighted, all frames" if frame_weighted_all else "video-weighted")
    return res, per_video


def _set_intervals(metric: SetMetric, opts: BenchmarkOptions) -> Dict[str, Tuple[float, float]]:
    """A set metric's bootstrap intervals over videos; {} (recorded as n_boot 0, with a warning) if it has none."""
    if opts.n_boot <= 0:
        return {}
    try:
        return metric.bootstrap(opts.n_boot, opts.seed, DEFAULT_LEVEL)
    except NotImplementedError as exc:
        log.warning("%s: no confidence interval (%s)", metric.name, exc)
        return {}


def _applicable(metric: Metric, protocol: str, has_target: bool) -> bool:
    return protocol in metric.protocols and (has_target or not metric.needs_target)


@torch.inference_mode()
def run_benchmark(model: Animator, dataset: VideoDataset, metrics: Sequence[Metric], opts: BenchmarkOptions,
                  device: torch.device = torch.device("cpu")) -> Dict[str, ProtocolResult]:
    """Run every requested protocol; returns per-protocol aggregated metrics and per-video rows."""
    model = model.to(device).eval()
    plan, opts = plan_jobs(model, dataset, opts)
    out: Dict[str, ProtocolResult] = {}
    for key, (protocol, mode, jobs) in plan.items():
        torch.manual_seed(opts.seed)
        np.random.seed(opts.seed)
        collected = collect_protocol(model, dataset, metrics, opts, protocol, mode, jobs, device)
        out[key] = summarise_protocol(collected, protocol, opts)
    return out


Job = Tuple[VideoRef, VideoRef, int]  # (source video, driving video, source frame)


def plan_jobs(model: Animator, dataset: VideoDataset, opts: BenchmarkOptions
              ) -> Tuple[Dict[str, Tuple[str, str, List[Job]]], BenchmarkOptions]:
    """``{result key: (protocol, mode, jobs)}`` and the options with the cross-identity mode the model can run
    (see :func:`effective_cross_mode`). Floors get an extra key ``cross_identity@<other mode>``."""
    unknown = [p for p in opts.protocols if p not in PROTOCOLS]
    if unknown:
        raise ValueError(f"unknown protocol(s) {unknown}; choose from {list(PROTOCOLS)}")
    videos = dataset.videos(opts.split)
    if opts.max_videos is not None:
        videos = videos[: opts.max_videos]
    # every protocol's jobs first, so that a bad pairs CSV fails before any frame is animated
    plan: Dict[str, Tuple[str, str, List[Job]]] = {}
    for protocol in opts.protocols:
        if protocol == "same_identity":
            plan[protocol] = (protocol, opts.same_mode, [(v, v, 0) for v in videos])
            continue
        mode = effective_cross_mode(model, opts.cross_mode)
        if mode != opts.cross_mode:
            log.warning(
                "method '%s' has no %s mode: the cross-identity protocol runs in %s mode (recorded in "
                "results.json benchmark.cross_mode)", model.name, opts.cross_mode, mode)
            opts = replace(opts, cross_mode=mode)
        by_name = {v.name: v for v in dataset.videos(opts.split)}
        # max_videos limits this protocol too: pairs among the selected videos, one per video by default
        limited = opts.max_videos is not None
        pairs = dataset.pairs(opts.split, num_pairs=opts.num_pairs if opts.num_pairs or not limited else len(videos),
                              seed=opts.seed, **({"videos": videos} if limited else {}))
        if not pairs:
            n_ids = len({v.identity for v in videos})
            raise DatasetError(f"dataset '{dataset.name}': split '{opts.split}' yields no cross-identity pairs among "
                               f"{len(videos)} video(s) of {n_ids} identit{'y' if n_ids == 1 else 'ies'}"
                               + (" (cross-identity needs two identities: raise benchmark.max_videos)" if n_ids < 2
                                  else " (pairs CSV rows among them? raise benchmark.max_videos)"))
        jobs = [(by_name[p.source], by_name[p.driving], p.source_frame) for p in pairs]
        plan[protocol] = (protocol, mode, jobs)
        if model.capabilities.floor:  # floors are scored in every mode a method row may be compared in
            for extra in ("relative", "absolute"):
                if extra != mode:
                    plan[f"{protocol}@{extra}"] = (protocol, extra, jobs)
    return plan, opts


def job_key(job: Job, same: bool) -> str:
    """A job's name in per-video results: the video (same identity) or ``"<source> <- <driving>"``."""
    src, drv, _ = job
    return drv.name if same else f"{src.name} <- {drv.name}"


def sample_jobs(jobs: Sequence[Job], k: int, seed: int) -> List[Job]:
    """``k`` of a protocol's jobs chosen with ``seed`` (in plan order): every method benchmarked with the same
    selection and seed gets the same videos and pairs, so their samples line up side by side."""
    k = min(max(0, int(k)), len(jobs))
    chosen = np.random.default_rng([int(seed), 0x5A4D]).choice(len(jobs), size=k, replace=False)
    return [jobs[i] for i in sorted(chosen.tolist())]


def frame_targets(dataset: VideoDataset, drv_video: VideoRef, pair: Optional[Pair], idx: Sequence[int],
                  frames: torch.Tensor, mode: str) -> Tuple[Optional[torch.Tensor], Any, Any]:
    """(target frames, (target keypoints, visibility), target figure masks) of driving frames ``idx``: the
    driving frames themselves for same-identity (``pair`` None); for a cross-identity pair the dataset's
    ground-truth render of the source identity in the driving pose, or (None, None, None) where it has none."""
    if pair is None:
        return frames, dataset.keypoints(drv_video, idx), dataset.figure_masks(drv_video, idx)
    if not dataset.has_ground_truth:
        return None, None, None
    return (dataset.render_cross(pair, idx, mode=mode).to(frames.device), dataset.cross_keypoints(pair, idx, mode=mode),
            dataset.cross_figure_masks(pair, idx, mode=mode))


@torch.inference_mode()
def collect_protocol(model: Animator, dataset: VideoDataset, metrics: Sequence[Metric], opts: BenchmarkOptions,
                     protocol: str, mode: str, jobs: List[Tuple[VideoRef, VideoRef, int]],
                     device: torch.device) -> Collected:
    """Animate ``jobs`` in ``mode`` and score every frame: per-frame series, set metrics updated (not computed)."""
    same = protocol == "same_identity"
    for m in metrics:
        m.reset()
    series: Dict[str, _Series] = {}
    directions: Dict[str, bool] = {}
    used: List[Metric] = []
    frames_done, t_animate = 0, 0.0
    total = sum(min(d.num_frames, opts.max_frames or d.num_frames) for _, d, _ in jobs)
    bar = tqdm(total=total, desc=f"{model.name} {protocol.replace('_', '-')}", unit="frame",
               disable=not opts.progress, leave=False)
    for src_video, drv_video, src_frame in jobs:
        key = job_key((src_video, drv_video, src_frame), same)
        source = dataset.read_frames(src_video, [src_frame]).to(device)
        has_target = same or dataset.has_ground_truth
        stream = AnimationStream(model, source, mode)
        pair = None if same else Pair(src_video.name, drv_video.name, src_frame)
        for idx, frames in dataset.iter_chunks(drv_video, chunk=opts.batch_frames, max_frames=opts.max_frames):
            frames = frames.to(device)
            t0 = time.perf_counter()
            gen = stream(frames).clamp(0, 1)
            t_animate += time.perf_counter() - t0
            target, kp, mask = frame_targets(dataset, drv_video, pair, idx, frames, mode)
            batch = FrameBatch(generated=gen, target=target, source=source[0], driving=frames, video=key,
                               protocol=protocol, frame_indices=list(idx),
                               target_keypoints=None if kp is None else kp[0],
                               target_visibility=None if kp is None else kp[1], target_mask=mask)
            # excluded from the default aggregate: same-identity frame 0 is the source itself, and in
            # relative mode cross-identity frame 0 is the source pose by construction
            trivial = src_frame if same else (0 if mode == "relative" else -1)
            included = np.array([i != trivial for i in idx])
            for m in metrics:
                if not _applicable(m, protocol, has_target):
                    continue
                if m not in used:
                    used.append(m)
                if isinstance(m, FrameMetric):
                    for name, vals in m.per_frame(batch).items():
                        vals = np.asarray(vals, dtype=np.float64).reshape(-1)
                        if vals.shape[0] != len(idx):
                            raise RuntimeError(f"metric '{m.name}' returned {vals.shape[0]} values for {len(idx)} frames")
                        series.setdefault(name, _Series()).add(key, vals, included)
                        directions[name] = m.outputs[name]
                elif isinstance(m, SetMetric):
                    m.update(batch)
            frames_done += len(idx)
            bar.update(len(idx))
    bar.close()
    return Collected(series, directions, used, frames_done, t_animate, mode)


def summarise_protocol(collected: Collected, protocol: str, opts: BenchmarkOptions) -> ProtocolResult:
    """Aggregate the per-frame series and compute the set metrics of one protocol."""
    series, directions, pose_eval = collected.series, collected.directions, opts.compat == "pose_eval"
    results: Dict[str, MetricResult] = {}
    per_video_vals: Dict[str, Dict[str, float]] = {}
    for name, s in series.items():
        results[name], per_video_vals[name] = _aggregate(s, directions[name], frame_weighted_all=pose_eval,
                                                         n_boot=opts.n_boot, seed=opts.seed)
    for m in collected.used:
        if isinstance(m, SetMetric):
            intervals = _set_intervals(m, opts)
            for name, res in m.compute().items():
                lo, hi = intervals.get(name, (math.nan, math.nan))
                results[name] = MetricResult(value=res["value"], higher_is_better=m.outputs[name], n=res["n"],
                                             ci_low=lo, ci_high=hi, n_boot=opts.n_boot if name in intervals else 0,
                                             ci_level=DEFAULT_LEVEL, aggregation="set",
                                             extra={k: v for k, v in res.items() if k not in ("value", "n")})
    per_video = []
    for video in dict.fromkeys(v for s in series.values() for v in s.videos):
        row: Dict[str, Any] = {"protocol": protocol, "mode": collected.mode, "video": video}
        row.update({name: vals.get(video, math.nan) for name, vals in per_video_vals.items()})
        per_video.append(row)
    return ProtocolResult(results, per_video, collected.frames, collected.animate_seconds, collected.mode, protocol)
