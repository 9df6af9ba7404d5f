"""Train the LWGAN stabiliser ensembles, the crosstrain γ sweep and the shipped methods with several training
seeds: resumable, one run after the other.

The runs (tiny presets on the synthetic dataset, one CPU thread each by default):

* ``lwgan``: the official objective (``base``) and the stabiliser ensembles ``experiment=lwgan-e1..e4``,
  1000 steps x batch 4;
* ``crosstrain``: the cycle weight ``loss.gamma`` in 0.01, 0.4, 1, 2, 1000 steps x batch 8;
* ``shipped``: fomm (2000 x 8) and lia (2000 x 4, no GAN term) with two more seeds than the shipped
  checkpoints (seed 0), the commands of benchmarks/README.md's table of trained checkpoints.

Each run lands in ``RUNS/<group>/<name>-s<seed>/``; re-running the script skips finished runs (``final.pt``
exists), resumes interrupted ones from their newest step checkpoint, and records a run that stopped on a
non-finite loss in ``DIVERGED`` (the fraction of diverged runs is part of the result). ``train.log`` in
each run dir is the run's console output; ``logs/scalars.csv`` has the D/G loss curves.

    python benchmarks/seed_experiments.py --runs runs/seedexp [--groups lwgan crosstrain shipped] [--seeds 0 1 2]
    python benchmarks/seed_experiments.py --runs runs/seedexp --list     # what would run, and its state
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

LWGAN = ["base", "e1", "e2", "e3", "e4"]
GAMMAS = ["0.01", "0.4", "1", "2"]
STEPS = {"lwgan": ("1000", "4"), "crosstrain": ("1000", "8"), "fomm": ("2000", "8"), "lia": ("2000", "4")}


def runs(groups: List[str], seeds: List[int]) -> Iterator[Tuple[str, str, int, List[str]]]:
    """(group, name, seed, overrides) of every run, in the order they are trained."""
    for group in groups:
        if group == "lwgan":
            for seed in seeds:
                for e in LWGAN:
                    head = ["method=lwgan"] if e == "base" else [f"experiment=lwgan-{e}"]
                    yield group, f"lwgan-{e}", seed, head + _common("lwgan")
        elif group == "crosstrain":
            for seed in seeds:
                for g in GAMMAS:
                    yield group, f"crosstrain-g{g}", seed, ["method=crosstrain", f"loss.gamma={g}"] + _common("crosstrain")
        elif group == "shipped":
            for seed in [s for s in seeds if s != 0]:
                yield group, "lia", seed, ["method=lia", "loss.generator_gan=0", "loss.discriminator_gan=0"] + _common("lia")
                yield group, "fomm", seed, ["method=fomm"] + _common("fomm")
        else:
            raise SystemExit(f"unknown group '{group}' (lwgan, crosstrain, shipped)")


def _common(method: str) -> List[str]:
    steps, batch = STEPS[method]
    return ["task=train", "dataset=synthetic", f"train.max_steps={steps}", f"train.batch_size={batch}"]


def state(run_dir: Path) -> str:
    if (run_dir / "final.pt").exists():
        return "done"
    if (run_dir / "DIVERGED").exists():
        return "diverged"
    if any((run_dir / "checkpoints").glob("step-*.pt")) if (run_dir / "checkpoints").exists() else False:
        return "partial"
    return "todo"


def train(run_dir: Path, seed: int, overrides: List[str], threads: int) -> str:
    run_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "motionbench", *overrides, f"train.seed={seed}", f"train.run_dir={run_dir}",
           "hydra.run.dir=" + str(run_dir / "hydra")]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    t0 = time.time()
    with open(run_dir / "train.log", "a") as log:
        log.write(f"\n# {' '.join(cmd)}\n")
        log.flush()
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    with open(run_dir / "wall_time.txt", "a") as f:
        f.write(f"{time.time() - t0:.0f} s (rc {rc})\n")
    if rc != 0 and "TrainingDiverged" in (run_dir / "train.log").read_text():
        (run_dir / "DIVERGED").write_text((run_dir / "train.log").read_text().splitlines()[-1] + "\n")
    return state(run_dir)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=Path("runs/seedexp"))
    ap.add_argument("--groups", nargs="+", default=["lwgan", "crosstrain", "shipped"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--list", action="store_true", help="print every run and its state, train nothing")
    args = ap.parse_args()
    counts: Dict[str, int] = {}
    for group, name, seed, overrides in runs(args.groups, args.seeds):
        run_dir = args.runs / group / f"{name}-s{seed}"
        st = state(run_dir)
        if not args.list and st in ("todo", "partial"):
            print(f"[{time.strftime('%H:%M:%S')}] training {run_dir}", flush=True)
            st = train(run_dir, seed, overrides, args.threads)
            print(f"[{time.strftime('%H:%M:%S')}]   -> {st}", flush=True)
        elif args.list:
            print(f"{st:9s} {run_dir}  {' '.join(overrides)} train.seed={seed}")
        counts[st] = counts.get(st, 0) + 1
    print("runs: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
