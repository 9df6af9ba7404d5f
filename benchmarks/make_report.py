"""Regenerate the committed synthetic results from committed code and checkpoints, in one command:

    python benchmarks/make_report.py            # from the repository root of a clean checkout

1. benchmarks every method with a committed checkpoint (``benchmarks/checkpoints/<method>-synthetic64.pt``) and
   the floors on the full synthetic test split, with ``benchmark.save_samples=K`` (the report's videos), into
   ``runs/report-synthetic/`` (a fresh folder; its leaderboard is ``runs/report-synthetic/leaderboard.csv``);
   methods with an avd mode are benchmarked in it too;
2. copies that leaderboard to ``benchmarks/leaderboard-synthetic.csv`` and renders its plot and LaTeX tables;
3. writes the HTML report ``benchmarks/report-synthetic.html`` and its headline figure
   ``benchmarks/report-synthetic.png`` (shown in README.md).

Rows record the git hash, so run it on a clean checkout (the copied leaderboard would mark later runs "-dirty").
``--reuse-runs`` skips the benchmarks of step 1 and renders from the runs already in ``--runs``.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ["identity", "copy_driving"]


def methods_with_checkpoints() -> list:
    return sorted(p.name[: -len("-synthetic64.pt")] for p in (ROOT / "benchmarks" / "checkpoints").glob("*-synthetic64.pt"))


def motionbench(*args: str) -> None:
    cmd = [sys.executable, "-m", "motionbench", *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=3, help="sample videos / pairs per protocol (default 3)")
    ap.add_argument("--runs", default="runs/report-synthetic", help="folder of the benchmark runs")
    ap.add_argument("--reuse-runs", action="store_true", help="render from the runs already in --runs")
    args = ap.parse_args()
    from motionbench.registries import ANIMATORS

    runs = ROOT / args.runs
    board = runs / "leaderboard.csv"
    trained = methods_with_checkpoints()
    avd = [m for m in trained if ANIMATORS.get(m).capabilities.avd]
    t0 = time.perf_counter()
    if not args.reuse_runs:
        if runs.exists():
            shutil.rmtree(runs)
        common = [f"benchmark.save_samples={args.samples}", "benchmark.progress=false", f"benchmark.leaderboard={board}"]
        motionbench("-m", "method=" + ",".join(FLOORS + trained), *common, f"hydra.sweep.dir={runs / 'main'}")
        if avd:
            motionbench("-m", "method=" + ",".join(avd), "benchmark.cross_mode=avd", *common,
                        f"hydra.sweep.dir={runs / 'avd'}")
    elif not board.is_file():
        raise SystemExit(f"--reuse-runs: {board} does not exist (run without --reuse-runs first)")
    shutil.copyfile(board, ROOT / "benchmarks" / "leaderboard-synthetic.csv")
    t_runs = time.perf_counter() - t0
    lb = "benchmarks/leaderboard-synthetic.csv"
    motionbench("leaderboard", lb, "--plot", "benchmarks/leaderboard-synthetic.png",
                "--latex", "benchmarks/leaderboard-synthetic.tex")
    motionbench("report", lb, "--runs", str(runs), "--out", "benchmarks/report-synthetic.html",
                "--figure", "benchmarks/report-synthetic.png",
                "--title", "motionbench: synthetic puppets, every method with a committed checkpoint")
    print(f"benchmark runs {t_runs:.0f} s, tables and report {time.perf_counter() - t0 - t_runs:.0f} s")


if __name__ == "__main__":
    main()
