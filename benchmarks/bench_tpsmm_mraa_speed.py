"""TPSMM and MRAA inference speed at 256×256, official vox-256 configs, random weights (CPU).

For each method, in one run:
  (a) the official demo's per-frame loop (``official_animation`` of methods/common/avd_family.py: batch 1, the source is
      re-encoded for every frame, ``torch.no_grad``), relative mode with the demo's movement scale;
  (b) motionbench's path (``animate``: source encoded once, driving frames in batches of ``chunk_size``,
      channels-last convolutions, ``torch.inference_mode``), same mode;
interleaved ``--repeats`` times (so load changes on a shared machine hit both alike); checks that (a) and
(b) give equal outputs (max abs difference) and prints s/frame (median and minimum) and their ratios;
``--flops`` adds GFLOP per frame (``FlopCounterMode``: convolutions and matmuls) against a measured 2048²
fp32 matmul peak.

    python benchmarks/bench_tpsmm_mraa_speed.py                        # both methods, 4 frames, 2 threads
    python benchmarks/bench_tpsmm_mraa_speed.py --methods tpsmm --frames 8 --chunk-size 8 --flops
"""
from __future__ import annotations

import argparse
import importlib
import statistics
import time
from typing import List

import torch
from bench_common import count_gflop, inputs, matmul_peak  # this folder is on sys.path

MODELS = {"tpsmm": ("motionbench.methods.tpsmm", "TPSMMAnimator", ("inpainting_network", "kp_detector",
                                                                     "dense_motion_network")),
          "mraa": ("motionbench.methods.mraa", "MRAAAnimator", ("generator", "region_predictor"))}


def build(method: str, seed: int = 0):
    package, cls, _ = MODELS[method]
    torch.manual_seed(seed)
    return getattr(importlib.import_module(f"{package}.animator"), cls).build("vox-256").eval()


def bench(method: str, frames: int, chunk_size: int, repeats: int, flops: bool, peak: float) -> None:
    model = build(method)
    source, driving = inputs(frames)
    n_params = sum(p.numel() for n in MODELS[method][2] for p in getattr(model, n).parameters())
    print(f"\n{method} vox-256, 256x256, random weights, {n_params / 1e6:.1f} M params (loaded by the demo), "
          f"relative mode, {frames} frames x {repeats} repeats; (b): chunk_size {chunk_size}, "
          f"channels_last {model.channels_last}", flush=True)
    model.official_animation(source, driving[:1])  # warm-up
    model.animate(source, driving[None, :chunk_size], mode="relative", chunk_size=chunk_size)
    official: List[float] = []  # s/frame of each frame of the official loop
    ours: List[float] = []  # s/frame of each whole-clip call of the fast path (source encoding included)
    for _ in range(repeats):  # interleaved, so that load changes hit both paths alike
        reference = model.official_animation(source, driving, frame_times=official)
        t0 = time.perf_counter()
        out = model.animate(source, driving[None], mode="relative", chunk_size=chunk_size)
        ours.append((time.perf_counter() - t0) / frames)
    diff = (out[0] - reference).abs().max().item()
    med_a, med_b = statistics.median(official), statistics.median(ours)
    print(f"(a) official per-frame loop : {med_a:.3f} s/frame median, {min(official):.3f} min")
    print(f"(b) encode-once, chunks of {chunk_size}: {med_b:.3f} s/frame median, {min(ours):.3f} min")
    print(f"{method} speed-up (a)/(b): {med_a / med_b:.2f}x (medians), {min(official) / min(ours):.2f}x (minima); "
          f"max |(a) - (b)| = {diff:.1e}", flush=True)
    if flops:  # per driving frame: (2 frames) - (1 frame), i.e. without the once-per-video source keypoints
        g_a = (count_gflop(lambda: model.official_animation(source, driving[:2]))
               - count_gflop(lambda: model.official_animation(source, driving[:1])))
        g_b = count_gflop(lambda: model.animate(source, driving[None], mode="relative", chunk_size=chunk_size)) / frames
        print(f"GFLOP/frame: (a) {g_a:.1f} ({g_a / min(official) / peak:.0%} of matmul peak at the minimum), "
              f"(b) {g_b:.1f} ({g_b / min(ours) / peak:.0%})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", nargs="+", default=["tpsmm", "mraa"], choices=sorted(MODELS))
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repetitions of (a) and (b)")
    ap.add_argument("--flops", action="store_true", help="also count GFLOP per frame (slow: reruns both paths)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    peak = matmul_peak()
    print(f"{args.threads} threads, torch {torch.__version__}; 2048^2 fp32 matmul peak: {peak:.1f} GFLOP/s")
    for method in args.methods:
        bench(method, args.frames, args.chunk_size, args.repeats, args.flops, peak)


if __name__ == "__main__":
    main()
