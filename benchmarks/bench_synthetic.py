"""Speed and difficulty of the synthetic puppet dataset.

Prints, per resolution: generation speed (frames/s, wall clock and per CPU-second) for whole test videos
(the benchmark's access pattern), for random frame pairs of training videos (the trainer's, identities
first seen: includes sampling them and drawing their backgrounds), and for keypoints only; the marker detector's
speed and accuracy against the ground truth; and the copy-source L1 (mean |frame_t - frame_0| over the
test videos, the identity baseline's same-identity L1) plus the cross-identity copy-source L1 against the
relative ground-truth render.

    python benchmarks/bench_synthetic.py [--resolutions 64 128 256] [--pairs 200]
"""
from __future__ import annotations

import argparse
import time
from typing import Dict, List

import numpy as np
import torch

from motionbench.metrics.markers import MarkerDetector
from motionbench.data.synthetic import SyntheticDataset


def measure(resolution: int, pairs: int, seed: int = 0) -> Dict[str, float]:
    ds = SyntheticDataset(resolution=resolution, seed=seed)
    test = ds.videos("test")
    out: Dict[str, float] = {}
    t0, c0, n = time.perf_counter(), time.process_time(), 0
    frames: List[torch.Tensor] = []
    for v in test:
        frames.append(ds.read_frames(v, range(v.num_frames)))
        n += v.num_frames
    out["video_fps"] = n / (time.perf_counter() - t0)
    out["video_fps_cpu"] = n / (time.process_time() - c0)  # per CPU-second: robust to a busy machine
    fresh = SyntheticDataset(resolution=resolution, seed=seed)
    rng = np.random.default_rng(seed)
    train = fresh.videos("train")
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(pairs):
        v = train[int(rng.integers(len(train)))]
        fresh.read_frames(v, rng.choice(v.num_frames, 2, replace=False).tolist())
    out["pair_fps"] = 2 * pairs / (time.perf_counter() - t0)
    out["pair_fps_cpu"] = 2 * pairs / (time.process_time() - c0)
    fresh = SyntheticDataset(resolution=resolution, seed=seed)
    t0 = time.perf_counter()
    for v in test:
        fresh.keypoints(v, range(v.num_frames))
    out["keypoint_fps"] = n / (time.perf_counter() - t0)
    det = MarkerDetector()
    errs, rec, t_det = [], [], 0.0
    for v, fr in zip(test, frames):
        kp, vis = ds.keypoints(v, range(v.num_frames))
        t0 = time.perf_counter()
        found_kp, found = det(fr)
        t_det += time.perf_counter() - t0
        errs.append(np.linalg.norm(found_kp - kp, axis=-1)[vis & found])
        rec.append(found[vis])
    out["detector_fps"] = n / t_det
    out["detector_err_px"] = float(np.concatenate(errs).mean())
    out["detector_recall"] = float(np.concatenate(rec).mean())
    out["visible_frac"] = float(np.mean([ds.keypoints(v, range(v.num_frames))[1].mean() for v in test]))
    out["copy_l1"] = float(np.mean([(f[1:] - f[:1]).abs().mean().item() for f in frames]))
    out["copy_l1_incl_t0"] = float(np.mean([(f - f[:1]).abs().mean().item() for f in frames]))
    cross = []
    for p in ds.pairs("test"):
        v = ds.video("test", p.driving)
        gt = ds.render_cross(p, range(v.num_frames), mode="relative")
        src = ds.read_frames(ds.video("test", p.source), [p.source_frame])
        cross.append((gt[1:] - src).abs().mean().item())
    out["cross_copy_l1"] = float(np.mean(cross))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolutions", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--pairs", type=int, default=200, help="random training frame pairs to time")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"torch threads: {torch.get_num_threads()}; one process, numpy renderer (single-threaded)")
    cols = ["video_fps", "video_fps_cpu", "pair_fps", "pair_fps_cpu", "keypoint_fps", "detector_fps", "detector_err_px", "detector_recall",
            "visible_frac", "copy_l1", "copy_l1_incl_t0", "cross_copy_l1"]
    print("| res | " + " | ".join(cols) + " |")
    print("|" + "---|" * (len(cols) + 1))
    for res in args.resolutions:
        m = measure(res, args.pairs, args.seed)
        print(f"| {res} | " + " | ".join(f"{m[c]:.0f}" if "fps" in c else f"{m[c]:.4f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
