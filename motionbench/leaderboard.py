"""Render a leaderboard CSV: a markdown table per (dataset, protocol) and a PNG bar plot.

``python -m motionbench leaderboard [CSV] [--plot PNG] [--metrics l1,akd,...]``. When a method appears in
several rows (several runs), the newest row per (method, checkpoint, dataset, protocol, compat) is shown.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import List, Optional, Sequence

from .results import KEY_COLUMNS, PROVENANCE_COLUMNS, read_leaderboard

__all__ = ["load_latest", "markdown", "plot", "main"]

DIRECTION = {"l1": False, "lpips": False, "fid": False, "kid": False, "akd": False, "mkr": False, "aed": False,
             "psnr": True, "ssim": True, "id_similarity": True}


# rows that differ in these columns score different things: kept apart, and shown when a table mixes them
NONCOMPARABLE = ("mode", "compat", "selection")


def load_latest(path: Path):
    import pandas as pd

    rows = read_leaderboard(path)
    if not rows:
        raise ValueError(f"leaderboard {path} is empty or missing")
    df = pd.DataFrame(rows)
    keys = KEY_COLUMNS + [c for c in NONCOMPARABLE if c in df]
    df = df.drop_duplicates(subset=keys, keep="last")
    metrics = [c for c in df.columns if c not in KEY_COLUMNS and c not in PROVENANCE_COLUMNS]
    for m in metrics:
        df[m] = pd.to_numeric(df[m], errors="coerce")
    return df, metrics


def markdown(df, metrics: Sequence[str]) -> str:
    out: List[str] = []
    for (dataset, protocol), part in df.groupby(["dataset", "protocol"], sort=False):
        cols = [m for m in metrics if part[m].notna().any()]
        # rows scored on different test frames are not comparable: then say which frames each row used
        labels = ["method", "checkpoint"] + [c for c in NONCOMPARABLE if c in part and part[c].nunique() > 1]
        out.append(f"### {dataset} — {protocol.replace('_', '-')}\n")
        arrows = {m: ("↑" if DIRECTION.get(m, False) else "↓") for m in cols}
        out.append("| " + " | ".join(labels) + " | " + " | ".join(f"{m} {arrows[m]}" for m in cols) + " |")
        out.append("|" + "---|" * (len(labels) + len(cols)))
        for _, r in part.iterrows():
            vals = ["–" if not math.isfinite(r[m]) else f"{r[m]:.4f}" for m in cols]
            out.append("| " + " | ".join(str(r[c]) for c in labels) + " | " + " | ".join(vals) + " |")
        out.append("")
    return "\n".join(out)


def plot(df, metrics: Sequence[str], path: Path) -> Path:
    """One panel per metric, grouped bars per method, one colour per protocol."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if df[m].notna().any()]
    protocols = list(dict.fromkeys(df["protocol"]))
    labels = list(dict.fromkeys(df["method"] + "\n" + df["checkpoint"].str.slice(0, 24)))
    ncol = min(4, len(metrics))
    nrow = math.ceil(len(metrics) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol + 0.6, 3.4 * nrow), squeeze=False)
    width = 0.8 / max(1, len(protocols))
    for ax in axes.flat[len(metrics):]:
        ax.axis("off")
    for ax, m in zip(axes.flat, metrics):
        for k, p in enumerate(protocols):
            part = df[df["protocol"] == p]
            lookup = dict(zip(part["method"] + "\n" + part["checkpoint"].str.slice(0, 24), part[m]))
            ys = [lookup.get(lab, float("nan")) for lab in labels]
            ax.bar([i + k * width for i in range(len(labels))], ys, width, label=p.replace("_", "-"))
        ax.set_title(f"{m} ({'higher' if DIRECTION.get(m, False) else 'lower'} is better)", fontsize=9)
        ax.set_xticks([i + width * (len(protocols) - 1) / 2 for i in range(len(labels))])
        ax.set_xticklabels(labels, fontsize=7, rotation=30, ha="right")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(", ".join(dict.fromkeys(df["dataset"])), fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: Optional[Sequence[str]] = None) -> None:
    ap = argparse.ArgumentParser(prog="motionbench leaderboard", description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", default="leaderboard.csv")
    ap.add_argument("--plot", default=None, help="write a PNG bar plot here")
    ap.add_argument("--metrics", default=None, help="comma-separated metrics (default: all)")
    args = ap.parse_args(argv)
    df, metrics = load_latest(Path(args.csv))
    if args.metrics:
        unknown = [m for m in args.metrics.split(",") if m not in metrics]
        if unknown:
            raise ValueError(f"leaderboard {args.csv} has no column(s) {unknown} (has: {', '.join(metrics)})")
        metrics = args.metrics.split(",")
    print(markdown(df, metrics))
    if args.plot:
        print(f"plot: {plot(df, metrics, Path(args.plot))}")
