"""FOMM inference speed at 256×256, official vox-256 config, random weights (CPU).

Times, in one run:
  (a) the official demo's per-frame loop (``FOMMAnimator.official_animation``: batch 1, the source is
      re-encoded by the generator for every frame, ``torch.no_grad``), relative mode + adapt_movement_scale;
  (b) motionbench's path (``FOMMAnimator.animate``: source encoded once, driving frames in batches of
      ``chunk_size``, ``torch.inference_mode``), same mode;
and prints frames/s, the ratio, GFLOP per frame (``torch.utils.flop_counter.FlopCounterMode``: convolutions
and matmuls), the fraction of a measured 2048² fp32 matmul peak, and the peak RSS of (b) streaming two video
lengths in fresh processes (chunks of ``--stream-frames`` with a cached source state), which must not grow
with the length.

    python benchmarks/bench_fomm_speed.py                 # 8 frames, 2 threads
    python benchmarks/bench_fomm_speed.py --frames 16 --threads 4 --chunk-size 8
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Dict, List

import torch

from bench_common import count_gflop, inputs, matmul_peak, peak_rss_mib  # this folder is on sys.path


def build(seed: int = 0):
    from motionbench.methods.fomm.animator import FOMMAnimator

    torch.manual_seed(seed)
    return FOMMAnimator.build("vox-256").eval()


def time_official(model, source, driving) -> List[float]:
    model.official_animation(source, driving[:1])  # warm-up
    times: List[float] = []
    model.official_animation(source, driving, frame_times=times)
    return times


def time_ours(model, source, driving, chunk_size: int) -> float:
    model.animate(source, driving[None, :chunk_size], mode="relative", chunk_size=chunk_size)  # warm-up
    t0 = time.perf_counter()
    model.animate(source, driving[None], mode="relative", chunk_size=chunk_size)
    return time.perf_counter() - t0


def rss_child(frames: int, chunk_size: int, stream_frames: int, official: bool = False) -> Dict[str, float]:
    """Stream ``frames`` driving frames through the fast path (or the official loop); peak RSS in MiB."""
    model = build()
    source, _ = inputs(1)
    state = None if official else model.encode_source(source)
    ref = None
    for start in range(0, frames, stream_frames):
        _, chunk = inputs(min(stream_frames, frames - start), seed=2 + start)
        ref = chunk[:1] if ref is None else ref
        if official:
            model.official_animation(source, chunk, driving_ref=ref)
        else:
            model.animate(source, chunk[None], mode="relative", driving_ref=ref, source_state=state,
                          chunk_size=chunk_size)
    return {"frames": frames, "peak_rss_mib": peak_rss_mib()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=4)
    ap.add_argument("--stream-frames", type=int, default=8, help="frames per animate() call when streaming")
    ap.add_argument("--rss-lengths", type=int, nargs=2, default=[8, 24])
    ap.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--rss-official", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--only-rss", action="store_true", help="skip the timings, measure peak RSS only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.rss_child is not None:
        print(json.dumps(rss_child(args.rss_child, args.chunk_size, args.stream_frames, args.rss_official)))
        return

    if args.only_rss:
        return report_rss(args)
    model = build()
    source, driving = inputs(args.frames)
    n_params = sum(p.numel() for n in ("generator", "kp_detector") for p in getattr(model, n).parameters())
    peak = matmul_peak()
    print(f"FOMM vox-256, 256x256, random weights, {n_params / 1e6:.1f} M params (G + KP), "
          f"{args.threads} threads, torch {torch.__version__}, relative mode + adapt_movement_scale, "
          f"{args.frames} frames; (b): chunk_size {args.chunk_size}, channels_last {model.channels_last}")
    print(f"2048^2 fp32 matmul peak: {peak:.1f} GFLOP/s")

    # per driving frame: (2 frames) - (1 frame), i.e. without the once-per-video source / reference keypoints
    gflop_official = (count_gflop(lambda: model.official_animation(source, driving[:2]))
                      - count_gflop(lambda: model.official_animation(source, driving[:1])))
    gflop_ours = count_gflop(lambda: model.animate(source, driving[None], mode="relative",
                                                   chunk_size=args.chunk_size)) / args.frames
    official = time_official(model, source, driving)
    med, best = statistics.median(official), min(official)
    ours_total = time_ours(model, source, driving, args.chunk_size)
    ours = ours_total / args.frames
    print(f"(a) official per-frame loop : {med:.3f} s/frame median (min {best:.3f}) = {1 / med:.2f} frames/s, "
          f"{gflop_official:.1f} GFLOP/frame, {gflop_official / med / peak:.0%} of matmul peak")
    print(f"(b) encode-once, chunks of {args.chunk_size}: {ours:.3f} s/frame = {1 / ours:.2f} frames/s, "
          f"{gflop_ours:.1f} GFLOP/frame, {gflop_ours / ours / peak:.0%} of matmul peak "
          f"(source encoding included, over {args.frames} frames)")
    print(f"speed-up (a)/(b): {med / ours:.2f}x")

    report_rss(args)


def report_rss(args: argparse.Namespace) -> None:
    """Peak RSS of fresh processes: (b) at both lengths, (a) at the first."""
    runs = [(n, False) for n in args.rss_lengths] + [(args.rss_lengths[0], True)]
    for frames, official_loop in runs:
        cmd = [sys.executable, __file__, "--rss-child", str(frames), "--threads", str(args.threads),
               "--chunk-size", str(args.chunk_size), "--stream-frames", str(args.stream_frames)]
        cmd += ["--rss-official"] if official_loop else []
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        what = "(a) official loop" if official_loop else f"(b) streaming in calls of {args.stream_frames}"
        print(f"peak RSS, {what}, {res['frames']} frames: {res['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
