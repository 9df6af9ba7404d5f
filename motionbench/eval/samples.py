"""Sample videos of a benchmark run (``benchmark.save_samples=K``): what the HTML report's gallery shows.

For every protocol (and animation mode) of the run, ``K`` of its videos / cross-identity pairs, chosen with the
benchmark seed (:func:`motionbench.runner.sample_jobs`: the same ones for every method benchmarked with the same
frame selection), are animated again exactly as the benchmark animated them and written at the benchmark
resolution, named by video id, into ``<run dir>/samples/<protocol>[-<mode>]/``:

* ``<id>.source.png``: the source image;
* ``<id>.driving.mp4``: the driving clip (for same-identity it is also the ground truth);
* ``<id>.target.mp4``: the cross-identity ground truth, where the dataset has one (synthetic);
* ``<id>.mp4``: the method's output.

``<run dir>/samples/index.json`` lists them with each sample's per-video metric values (the run's
``per_video.csv`` rows), so a report only collects files. Videos are H.264 (yuv420p) mp4, which browsers play.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Dict, List, Mapping

import torch

from ..core.animator import Animator
from ..data.base import Pair, VideoDataset
from ..files.media import _to_uint8_frames, save_png
from .results import write_json_atomic
from .runner import AnimationStream, BenchmarkOptions, ProtocolResult, frame_targets, job_key, plan_jobs, sample_jobs
from ..files.video_out import video_output

__all__ = ["save_samples", "SAMPLES_INDEX", "INDEX_VERSION", "sample_stem"]

SAMPLES_INDEX = "index.json"
INDEX_VERSION = 1


def sample_stem(key: str) -> str:
    """A file-name-safe stem of a per-video key (``test_0001#00``, ``a <- b`` becomes ``a__b``)."""
    return "".join(ch if ch.isalnum() or ch in "-_#." else "_" for ch in key.replace(" <- ", "__"))


@torch.inference_mode()
def save_samples(model: Animator, dataset: VideoDataset, opts: BenchmarkOptions,
                 results: Mapping[str, ProtocolResult], k: int, out_dir: Path,
                 device: torch.device = torch.device("cpu"), fps: float = 10.0) -> List[Path]:
    """Write ``k`` samples per protocol of ``results`` into ``out_dir``; returns the written files (index last)."""
    plan, opts = plan_jobs(model, dataset, opts)
    written: List[Path] = []
    entries: List[Dict[str, Any]] = []
    for key, (protocol, mode, jobs) in plan.items():
        if key not in results:
            continue
        same = protocol == "same_identity"
        folder = out_dir / key.replace("@", "-")
        values = {row["video"]: row for row in results[key].per_video}
        for job in sample_jobs(jobs, k, opts.seed):
            src_video, drv_video, src_frame = job
            vid = job_key(job, same)
            stem = sample_stem(vid)
            pair = None if same else Pair(src_video.name, drv_video.name, src_frame)
            source = dataset.read_frames(src_video, [src_frame]).to(device)
            stream = AnimationStream(model, source, mode)
            files = {"source": folder / f"{stem}.source.png", "driving": folder / f"{stem}.driving.mp4",
                     "output": folder / f"{stem}.mp4"}
            if not same and dataset.has_ground_truth:
                files["target"] = folder / f"{stem}.target.mp4"
            with contextlib.ExitStack() as stack:
                sinks = {name: stack.enter_context(video_output(path, fps, what="benchmark.save_samples"))
                         for name, path in files.items() if name != "source"}
                for idx, frames in dataset.iter_chunks(drv_video, chunk=opts.batch_frames, max_frames=opts.max_frames):
                    frames = frames.to(device)
                    streams = {"driving": frames, "output": stream(frames).clamp(0, 1)}
                    if "target" in sinks:
                        streams["target"] = frame_targets(dataset, drv_video, pair, idx, frames, mode)[0]
                    for name, sink in sinks.items():
                        for frame in _to_uint8_frames(streams[name]):
                            sink.append(frame)
            save_png(_to_uint8_frames(source[0])[0], files["source"])
            metrics = {m: v for m, v in values.get(vid, {}).items() if m not in ("protocol", "mode", "video")}
            entries.append({"key": key, "protocol": protocol, "mode": mode, "video": vid,
                            "files": {name: str(path.relative_to(out_dir)) for name, path in files.items()},
                            "metrics": metrics})
            written += list(files.values())
    index = write_json_atomic(out_dir / SAMPLES_INDEX, {"version": INDEX_VERSION, "fps": fps, "samples": entries})
    return written + [index]
