"""TPSMM and MRAA inference speed at 256×256, official vox-256 configs, random weights (CPU).

For each method, in one run:
  (a) the official demo's per-frame loop (``methods/<method>/demo.make_animation``: batch 1, the source is
      re-encoded for every frame, ``torch.no_grad``), relative mode with the demo's movement scale;
  (b) motionbench's path (``animate``: source encoded once, driving frames in batches of ``chunk_size``,
      channels-last convolutions, ``torch.inference_mode``), same mode;
checks that (a) and (b) give equal outputs (max abs difference) and prints s/frame, the ratio and GFLOP per
frame (``FlopCounterMode``: convolutions and matmuls) against a measured 2048² fp32 matmul peak.

    python benchmarks/bench_tpsmm_mraa_speed.py                        # both methods, 4 frames, 2 threads
    python benchmarks/bench_tpsmm_mraa_speed.py --methods tpsmm --frames 8 --chunk-size 8
"""
from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path
from typing import List

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_fomm_speed import count_gflop, inputs, matmul_peak  # noqa: E402  (same folder; shared helpers)

MODELS = {"tpsmm": ("motionbench.methods.tpsmm", "TPSMMAnimator", ("inpainting_network", "kp_detector",
                                                                     "dense_motion_network")),
          "mraa": ("motionbench.methods.mraa", "MRAAAnimator", ("generator", "region_predictor"))}


def build(method: str, seed: int = 0):
    package, cls, _ = MODELS[method]
    torch.manual_seed(seed)
    return getattr(importlib.import_module(f"{package}.animator"), cls).build("vox-256").eval()


def bench(method: str, frames: int, chunk_size: int, peak: float) -> None:
    make_animation = importlib.import_module(f"{MODELS[method][0]}.demo").make_animation
    model = build(method)
    source, driving = inputs(frames)
    n_params = sum(p.numel() for n in MODELS[method][2] for p in getattr(model, n).parameters())
    print(f"\n{method} vox-256, 256x256, random weights, {n_params / 1e6:.1f} M params (loaded by the demo), "
          f"relative mode, {frames} frames; (b): chunk_size {chunk_size}, channels_last {model.channels_last}")
    gflop_official = (count_gflop(lambda: make_animation(model, source, driving[:2]))
                      - count_gflop(lambda: make_animation(model, source, driving[:1])))
    gflop_ours = count_gflop(lambda: model.animate(source, driving[None], mode="relative",
                                                   chunk_size=chunk_size)) / frames

    make_animation(model, source, driving[:1])  # warm-up
    times: List[float] = []
    reference = make_animation(model, source, driving, frame_times=times)
    med, best = statistics.median(times), min(times)

    model.animate(source, driving[None, :chunk_size], mode="relative", chunk_size=chunk_size)  # warm-up
    t0 = time.perf_counter()
    ours_out = model.animate(source, driving[None], mode="relative", chunk_size=chunk_size)
    ours = (time.perf_counter() - t0) / frames
    diff = (ours_out[0] - reference).abs().max().item()
    print(f"(a) official per-frame loop : {med:.3f} s/frame median (min {best:.3f}), {gflop_official:.1f} GFLOP/frame, "
          f"{gflop_official / med / peak:.0%} of matmul peak")
    print(f"(b) encode-once, chunks of {chunk_size}: {ours:.3f} s/frame, {gflop_ours:.1f} GFLOP/frame, "
          f"{gflop_ours / ours / peak:.0%} of matmul peak (source encoding included)")
    print(f"{method} speed-up (a)/(b): {med / ours:.2f}x; max |(a) - (b)| = {diff:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", nargs="+", default=["tpsmm", "mraa"], choices=sorted(MODELS))
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=4)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    peak = matmul_peak()
    print(f"{args.threads} threads, torch {torch.__version__}; 2048^2 fp32 matmul peak: {peak:.1f} GFLOP/s")
    for method in args.methods:
        bench(method, args.frames, args.chunk_size, peak)


if __name__ == "__main__":
    main()
