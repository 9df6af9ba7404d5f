"""LIA inference speed at 256×256, official config (size 256, style 512, motion 20), random weights (CPU).

Times, in one run, relative mode (the official ``run_demo.py`` for vox / taichi):
  (a)  the official demo's per-frame loop (``LIAAnimator.official_animation``): batch 1,
       ``Generator.forward(source, frame, h_start)`` re-encodes
       the source for every frame, ``torch.no_grad``, with the official formulations of the StyleGAN2
       operations (``motionbench.nn.stylegan2_reference.reference_ops``: upfirdn2d_native, grouped fused
       modulated convolution with conv_transpose2d, weights rescaled on every call);
  (a') the same per-frame loop with motionbench's operations (separates op-level gains from batching);
  (b)  motionbench's path (``LIAAnimator.animate``): source encoded once, driving frames in batches of
       ``chunk_size`` (B×T flattened), ``torch.inference_mode``;
and prints frames/s, the ratios, GFLOP per frame (``torch.utils.flop_counter.FlopCounterMode``:
convolutions and matmuls), the fraction of a measured 2048² fp32 matmul peak, the largest difference
between the outputs of (a) and (b), and, for scale, the error of each against a float64 run (random
256² weights give rough skip features, and grid_sample turns float32 rounding in the flows into ~1e-3
image differences; on the golden-output network of tests/methods/test_lia.py the paths agree to 1e-5).

    python benchmarks/bench_lia_speed.py                  # 8 frames for (b), 4 for (a)/(a'), 2 threads
    python benchmarks/bench_lia_speed.py --thp            # also let PyTorch back large tensors with huge pages

``--thp`` sets ``THP_MEM_ALLOC_ENABLE=1`` (a PyTorch switch, read before the first allocation): on
machines where page faults are expensive (small VMs), fresh multi-MB activations otherwise cost more
than the arithmetic on them. It applies to (a), (a') and (b) alike.
"""
from __future__ import annotations

import os
import sys

if "--thp" in sys.argv:  # must precede the first tensor allocation
    os.environ["THP_MEM_ALLOC_ENABLE"] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import List  # noqa: E402

import torch  # noqa: E402

from bench_common import count_gflop, inputs, matmul_peak  # noqa: E402  (this folder is on sys.path)


def build(seed: int = 0, chunk_size: int = 4):
    from motionbench.methods.lia.animator import LIAAnimator

    torch.manual_seed(seed)
    return LIAAnimator.build("256", use_discriminator=False, chunk_size=chunk_size).eval()


def official_loop(model, source, driving, reference: bool, times: List[float] = None) -> torch.Tensor:
    """run_demo.py's loop (``official_animation``), with the official StyleGAN2 operations when ``reference``."""
    from motionbench.nn.stylegan2_reference import reference_ops

    with reference_ops() if reference else contextlib.nullcontext():
        return model.official_animation(source, driving, mode="relative", frame_times=times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=8, help="driving frames for (b)")
    ap.add_argument("--official-frames", type=int, default=4, help="driving frames for (a) and (a'), >= 2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=4)
    ap.add_argument("--thp", action="store_true", help="THP_MEM_ALLOC_ENABLE=1 (see above)")
    ap.add_argument("--no-fp64-check", dest="fp64_check", action="store_false",
                    help="skip the float64 accuracy reference of frame 1")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    model = build(chunk_size=args.chunk_size)
    source, driving = inputs(args.frames)
    few = driving[:args.official_frames]
    n_params = sum(p.numel() for p in model.generator.parameters())
    peak = matmul_peak()
    print(f"LIA 256, 256x256, random weights, {n_params / 1e6:.1f} M params (G), {args.threads} threads, "
          f"torch {torch.__version__}, THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE', '0')}")
    print(f"2048^2 fp32 matmul peak: {peak:.1f} GFLOP/s")

    # per driving frame: (2 frames) - (1 frame), i.e. without the once-per-video h_start
    gflop_official = (count_gflop(lambda: official_loop(model, source, driving[:2], True))
                      - count_gflop(lambda: official_loop(model, source, driving[:1], True)))
    gflop_ours = count_gflop(lambda: model.animate(source, driving[None], mode="relative")) / args.frames
    half = args.frames // 2  # steady state: without the once-per-video source encoding
    gflop_steady = (gflop_ours * args.frames - count_gflop(
        lambda: model.animate(source, driving[None, :half], mode="relative"))) / (args.frames - half)

    official_loop(model, source, driving[:1], True)  # warm-up
    t_ref: List[float] = []
    out_ref = official_loop(model, source, few, True, t_ref)
    official_loop(model, source, driving[:1], False)  # warm-up (also fills the derived-weight caches)
    t_ops: List[float] = []
    out_ops = official_loop(model, source, few, False, t_ops)
    model.animate(source, driving[None, :args.chunk_size], mode="relative")  # warm-up
    t0 = time.perf_counter()
    out = model.animate(source, driving[None], mode="relative")[0]
    ours = (time.perf_counter() - t0) / args.frames

    med, best = statistics.median(t_ref), min(t_ref)
    med_ops = statistics.median(t_ops)
    k = args.official_frames
    print(f"(a)  official per-frame loop, reference ops : {med:.3f} s/frame median (min {best:.3f}) = "
          f"{1 / med:.2f} frames/s, {gflop_official:.1f} GFLOP/frame, {gflop_official / med / peak:.0%} of peak")
    print(f"(a') official per-frame loop, our ops       : {med_ops:.3f} s/frame median (min {min(t_ops):.3f}) = "
          f"{1 / med_ops:.2f} frames/s, {gflop_official / med_ops / peak:.0%} of peak (at the reference GFLOP)")
    print(f"(b)  encode once, chunks of {args.chunk_size}, inference_mode: {ours:.3f} s/frame = {1 / ours:.2f} "
          f"frames/s, {gflop_ours:.1f} GFLOP/frame, {gflop_ours / ours / peak:.0%} of peak "
          f"(source encoding included, over {args.frames} frames; {gflop_steady:.1f} GFLOP/frame without it)")
    print(f"speed-up (a)/(b): {med / ours:.2f}x   (a)/(a'): {med / med_ops:.2f}x   (a')/(b): {med_ops / ours:.2f}x")
    print(f"max |(a) - (b)| over {k} frames: {(out_ref - out[:k]).abs().max():.2e}; "
          f"max |(a') - (b)|: {(out_ops - out[:k]).abs().max():.2e}  (images in [0, 1])")
    if args.fp64_check:  # random 256² weights make fp32 itself imprecise: compare both with float64
        import copy

        from motionbench.nn.stylegan2_reference import reference_ops

        model64 = copy.deepcopy(model).double()
        with torch.no_grad(), reference_ops():
            vid = driving[:2].double() * 2 - 1
            ref64 = model64.generator(source.double() * 2 - 1, vid[1:2], model64.generator.enc.enc_motion(vid[:1]))
        ref64 = ((ref64 + 1) / 2).clamp(0, 1)
        print(f"frame 1 vs a float64 run of the reference ops: (a) {(out_ref[1] - ref64[0]).abs().max():.2e}, "
              f"(b) {(out[1] - ref64[0]).abs().max():.2e}")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
