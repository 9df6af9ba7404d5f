"""Benchmark throughput with 1 and N processes (sharded evaluation under torchrun).

Runs the same benchmark command once in one process and once under ``torchrun --nproc_per_node=N`` (gloo on
CPU; on a GPU machine each process takes its own GPU), and prints frames/s from the wall time of each
command (start-up included) and of the evaluation alone (``wall_time_s`` in results.json), plus whether
the two results.json files hold the same numbers.

    python benchmarks/bench_throughput.py [--procs 2] [--threads 1] [--method lia] [overrides ...]

``--threads`` sets OMP_NUM_THREADS per process (1 process × 2 threads vs 2 processes × 1 thread is the fair
comparison on 2 cores: pass ``--single-threads 2``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List


def run(launcher: List[str], args: List[str], out: Path, threads: int) -> Dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    r = subprocess.run([*launcher, *args, f"hydra.run.dir={out}", f"benchmark.leaderboard={out.parent / 'board.csv'}"],
                       env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"command failed:\n{r.stderr[-3000:]}")
    rec = json.loads((out / "results.json").read_text())
    return {"wall": wall, "eval_wall": rec["wall_time_s"], "frames": rec["frames"], "results": rec["results"]}


def same_numbers(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    for protocol, metrics in a.items():
        for name, res in metrics.items():
            x, y = res["value"], b[protocol][name]["value"]
            if (x is None) != (y is None) or (x is not None and not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)):
                return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="OMP threads per process of the torchrun run")
    ap.add_argument("--single-threads", type=int, default=None, help="OMP threads of the one-process run")
    ap.add_argument("--method", default="lia")
    ap.add_argument("--metrics", default="[l1,psnr,ssim,akd]", help="weight-free by default")
    args, extra = ap.parse_known_args()
    cmd = [f"method={args.method}", f"benchmark.metrics={args.metrics}", "benchmark.progress=false", *extra]
    single_threads = args.single_threads or args.threads
    with tempfile.TemporaryDirectory() as tmp:
        one = run([sys.executable, "-m", "motionbench"], cmd, Path(tmp) / "one" / "run", single_threads)
        many = run([sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={args.procs}",
                    "--master_port=29531", "-m", "motionbench"], cmd, Path(tmp) / "many" / "run", args.threads)
    print(f"{args.method}, metrics {args.metrics}, {one['frames']} frames; 1-min load average at the end: "
          f"{os.getloadavg()[0]:.1f}")
    print("| processes × threads | command wall s | frames/s (command) | evaluation wall s | frames/s (evaluation) |")
    print("|---|---|---|---|---|")
    for label, r in [(f"1 × {single_threads}", one), (f"{args.procs} × {args.threads}", many)]:
        print(f"| {label} | {r['wall']:.1f} | {r['frames'] / r['wall']:.2f} | {r['eval_wall']:.1f} | "
              f"{r['frames'] / r['eval_wall']:.2f} |")
    print(f"same numbers in both results.json: {same_numbers(one['results'], many['results'])}")


if __name__ == "__main__":
    main()
