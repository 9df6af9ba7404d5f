"""Half-precision inference: speed and output difference vs float32, per method.

    python benchmarks/bench_precision.py --device cuda --preset official --frames 32
    python benchmarks/bench_precision.py --device cpu --preset tiny --frames 8 --precisions bf16

For every registered method with ``capabilities.half_precision``: random-init weights of the preset
(``official``: the method's default 256-px preset; ``tiny``: its 64-px preset), one source and ``--frames``
driving frames, absolute mode. Prints frames/s per precision and the mean / max absolute difference of the
output from float32. Random-init weights give the numeric behaviour of the architecture; trained weights
can differ (pass ``--checkpoint-dir`` holding ``<method>-synthetic64.pt`` files to use those instead).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import motionbench
from motionbench.registries import ANIMATORS


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(model, src, drv, dtype, repeats: int) -> tuple:
    device = src.device
    model.animate(src, drv[:, :2], dtype=dtype)  # warm-up (cudnn autotune, allocator)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        out = model.animate(src, drv, dtype=dtype)
    _sync(device)
    return out, repeats * drv.shape[1] / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--preset", choices=["official", "tiny"], default="official")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--precisions", nargs="+", default=None, help="default: bf16 fp16 on cuda, bf16 on cpu")
    ap.add_argument("--methods", nargs="+", default=None)
    ap.add_argument("--checkpoint-dir", type=Path, default=None)
    args = ap.parse_args()
    device = torch.device(args.device)
    precisions = args.precisions or (["bf16", "fp16"] if device.type == "cuda" else ["bf16"])
    names = args.methods or [m for m in motionbench.list_animators() if ANIMATORS.get(m).capabilities.half_precision]
    print(f"| method | preset | res | precision | frames/s | fp32 frames/s | speed-up | mean |Δ| | max |Δ| |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        cls = ANIMATORS.get(name)
        torch.manual_seed(0)
        if args.checkpoint_dir is not None:
            model = motionbench.create_animator(name, checkpoint=str(args.checkpoint_dir / f"{name}-synthetic64.pt"))
            preset = "synthetic64.pt"
        else:
            preset = "tiny" if args.preset == "tiny" and "tiny" in cls.presets() else cls.default_preset
            model = motionbench.create_animator(name, preset=preset)
        model.to(device)
        res = model.resolution or (64 if preset in ("tiny", "synthetic64.pt") else 256)
        g = torch.Generator().manual_seed(0)
        src = torch.rand(1, 3, res, res, generator=g).to(device)
        drv = torch.rand(1, args.frames, 3, res, res, generator=g).to(device)
        ref, fps32 = measure(model, src, drv, None, args.repeats)
        for p in precisions:
            out, fps = measure(model, src, drv, p, args.repeats)
            diff = (out - ref).abs()
            print(f"| {name} | {preset} | {res} | {p} | {fps:.1f} | {fps32:.1f} | {fps / fps32:.2f}× | "
                  f"{diff.mean().item():.4f} | {diff.max().item():.4f} |", flush=True)


if __name__ == "__main__":
    main()
