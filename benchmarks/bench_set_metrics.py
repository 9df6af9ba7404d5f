"""End-to-end time of the synthetic benchmark with the set metrics, and FID's Fréchet distance alone.

Runs ``python -m motionbench benchmark.metrics=[l1,lpips,fid,kid]`` (default method, synthetic dataset,
both protocols) in this process with a cold FID cache, and times the Fréchet distance on 2048-d
statistics with motionbench's eigenvalue formula against pytorch-fid's ``calculate_frechet_distance``
(``scipy.linalg.sqrtm``). Without the published LPIPS / Inception files in the torch hub cache, random
stand-ins are written to a temporary TORCH_HOME (same architectures and cost, other numbers).

    OMP_NUM_THREADS=2 python benchmarks/bench_set_metrics.py [--method lia] [--skip-e2e] [overrides ...]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import List

import numpy as np


def _ensure_weights(tmp: Path) -> bool:
    """True when the published files are present; else point TORCH_HOME at random stand-ins."""
    from motionbench.hub import weights

    if all(weights.weight_path(n).is_file() for n in ("alexnet", "fid_inception")):
        return True
    from motionbench.testing import write_random_metric_weights

    os.environ["TORCH_HOME"] = str(tmp / "torch")
    write_random_metric_weights(tmp / "torch")
    return False


def time_e2e(method: str, extra: List[str], tmp: Path) -> float:
    from motionbench.cli.app import main

    real = _ensure_weights(tmp)
    args = [f"method={method}", "benchmark.metrics=[l1,lpips,fid,kid]", f"benchmark.fid_cache={tmp / 'fid'}",
            f"benchmark.leaderboard={tmp / 'leaderboard.csv'}", f"hydra.run.dir={tmp / 'run'}",
            "benchmark.progress=false", *([] if real else ["weights.verify=false"]), *extra]
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        main(args)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    import json

    rec = json.loads((tmp / "run" / "results.json").read_text())
    print(f"end to end ({'published' if real else 'random stand-in'} weights, cold FID cache): {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU for {rec['frames']} frames = {rec['frames'] / wall:.2f} frames/s")
    for p, r in rec["results"].items():
        print(f"  {p}: " + ", ".join(f"{k}={v['value']:.5g}" for k, v in r.items()))
    return wall


def time_frechet(n: int = 600, d: int = 2048, seed: int = 0) -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    from motionbench.metrics.fid import frechet_distance, stats

    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    f1, f2 = rng.normal(size=(n, d)) @ mix, rng.normal(0.1, 1.0, size=(n, d)) @ mix
    (m1, s1), (m2, s2) = stats(f1), stats(f2)
    t0, c0 = time.perf_counter(), time.process_time()
    ours = frechet_distance(m1, s1, m2, s2)
    t_ours, c_ours = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        ref = calculate_frechet_distance(m1, s1, m2, s2)
    t_ref, c_ref = time.perf_counter() - t0, time.process_time() - c0
    print(f"Frechet distance, {d}-d statistics of {n} samples: motionbench {t_ours:.2f} s wall / {c_ours:.2f} s CPU, "
          f"pytorch-fid (sqrtm) {t_ref:.2f} s wall / {c_ref:.2f} s CPU ({c_ref / c_ours:.1f}x CPU); "
          f"values {ours:.6f} vs {ref:.6f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="lia")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--skip-frechet", action="store_true")
    args, extra = ap.parse_known_args()
    import torch

    print(f"torch threads: {torch.get_num_threads()}")
    if not args.skip_frechet:
        time_frechet()
    if not args.skip_e2e:
        with tempfile.TemporaryDirectory() as tmp:
            time_e2e(args.method, extra, Path(tmp))


if __name__ == "__main__":
    main()
