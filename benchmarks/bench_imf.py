"""IMF cost at its preset resolution: parameters, GFLOP per frame, peak CPU memory of one forward pass.

    python benchmarks/bench_imf.py                         # paper preset "256", IMF_A at every scale
    python benchmarks/bench_imf.py --attention-scales 1,2,3  # IMF_A without the finest (64²) scale
    python benchmarks/bench_imf.py --preset tiny

Reports, with random weights and batch 1:
  * parameters of the generator parts and of the discriminator;
  * GFLOP (``torch.utils.flop_counter.FlopCounterMode``, 2 FLOP per multiply-add; convolutions, matmuls and
    attention) of ``encode_source`` (once per source) and of one driving frame from a cached source
    (E_T + IMF_D + IMF_A + D_F): the per-frame cost of ``animate``; and of the training forward
    (source + driving, batched E_T / IMF_D). The CPU fused attention op has no formula in torch's table;
    this script adds one (2·L·S·(E + E_v) per head);
  * peak memory: peak RSS (VmHWM) of a fresh process during one forward pass, minus its RSS with the
    model built: (a) ``animate`` of one frame (encode + decode, ``inference_mode``), (b) the training
    forward with autograd (activations kept for backward), (c) (b) plus the backward pass.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Dict, Optional, Sequence

import torch

from bench_common import count_gflop, inputs, peak_rss_mib, rss_mib  # this folder is on sys.path

aten = torch.ops.aten


def _sdpa_cpu_flops(q, k, v, *args, out_shape=None, **kwargs) -> int:
    *lead, length, e = q
    batch_heads = 1
    for d in lead:
        batch_heads *= d
    return 2 * batch_heads * length * k[-2] * e + 2 * batch_heads * length * k[-2] * v[-1]


CUSTOM_FLOPS = {aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu_flops}


def build(preset: str, attention_scales: Optional[Sequence[int]], with_discriminator: bool = False):
    from motionbench.methods.imf.animator import IMFAnimator

    torch.manual_seed(0)
    over = {} if attention_scales is None else {"attention_scales": list(attention_scales)}
    if not with_discriminator:
        over["discriminator_params"] = None
    return IMFAnimator.build(preset, **over)


def child(mode: str, preset: str, scales: Optional[Sequence[int]]) -> Dict[str, float]:
    model = build(preset, scales)
    src, drv = inputs(1, model.size)
    if mode == "animate":
        model.eval()
    else:
        model.train()
    base = rss_mib()
    with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS
        f.write("5")
    if mode == "animate":
        with torch.inference_mode():
            model.animate(src, drv[:, None])
    else:
        out = model.generator(src, drv)
        if mode == "train-backward":
            out.mean().backward()
    return {"base_mib": base, "peak_mib": peak_rss_mib(), "delta_mib": peak_rss_mib() - base}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="256")
    ap.add_argument("--attention-scales", default=None, help="comma-separated scale indices (0 = finest)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--no-memory", action="store_true")
    args = ap.parse_args()
    scales = None if args.attention_scales is None else [int(s) for s in args.attention_scales.split(",")]
    if args.child:
        print(json.dumps(child(args.child, args.preset, scales)))
        return
    model = build(args.preset, scales, with_discriminator=True).eval()
    gen = model.generator
    print(f"IMF preset {args.preset}: size {model.size}, attention at scales {gen.attention_scales} "
          f"(resolutions {[gen.resolutions[i] for i in gen.attention_scales]})")
    counts = {name: sum(p.numel() for p in mod.parameters()) for name, mod in gen.named_children()}
    total = sum(counts.values())
    print(f"parameters: generator {total / 1e6:.2f} M (" +
          ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in counts.items()) +
          f"); discriminator {sum(p.numel() for p in model.discriminator.parameters()) / 1e6:.2f} M")
    src, drv = inputs(1, model.size)
    with torch.inference_mode():
        state = model.encode_source(src)
        enc = count_gflop(lambda: model.encode_source(src), CUSTOM_FLOPS)
        frame = count_gflop(lambda: model.animate(src, drv[:, None], source_state=state), CUSTOM_FLOPS)
        motion = gen.token_decoder(gen.tokens(drv))
        attention = count_gflop(lambda: [gen.alignment[str(i)](motion[i], state["keys"][i], state["values"][i])
                                   for i in gen.attention_scales], CUSTOM_FLOPS)
        train_fwd = count_gflop(lambda: gen(src, drv), CUSTOM_FLOPS)
    print(f"GFLOP: encode_source {enc:.2f}; per driving frame (cached source) {frame:.2f}, of which IMF_A "
          f"{attention:.2f}; training forward (source + driving) {train_fwd:.2f}")
    if args.no_memory:
        return
    for mode in ("animate", "train-forward", "train-backward"):
        cmd = [sys.executable, __file__, "--preset", args.preset, "--child", mode]
        if args.attention_scales:
            cmd += ["--attention-scales", args.attention_scales]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        print(f"peak memory {mode:15s}: +{res['delta_mib']:.0f} MiB over the built model "
              f"(RSS {res['base_mib']:.0f} -> {res['peak_mib']:.0f} MiB)")


if __name__ == "__main__":
    main()
