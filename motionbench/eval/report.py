"""Render a leaderboard CSV: markdown / LaTeX tables, a paper-ready plot, paired comparisons of two rows.

    python -m motionbench leaderboard [CSV] [--plot PNG] [--latex TEX] [--metrics l1,akd,...]
    python -m motionbench leaderboard [CSV] --compare fomm,lia      (or compare=fomm,lia)

Tables have one section per dataset, protocol and animation mode, rows sorted by the first metric, values
as ``value ± half-width`` of the 95% bootstrap interval over videos. A value is *not measurable* when
more than half of its frames are undefined (e.g. no keypoint found), and AKD also when MKR > 0.9 (the
distance of the few joints still found says nothing). ``--compare A,B`` (a row is ``method`` or
``method:checkpoint``) gives the paired bootstrap of A − B on the videos both rows scored, per metric, and
says whether the difference is resolved (its interval excludes 0).
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..files.atomic import write_text_atomic
from .leaderboard import NONCOMPARABLE, load_latest, metric_directions, row_result
from .results import format_value
from .stats import paired_bootstrap

__all__ = ["markdown", "latex", "plot", "figure", "compare", "main", "cell", "sections", "paired", "per_video",
           "measurable", "NOT_MEASURABLE"]

NOT_MEASURABLE = "not measurable"


def measurable(row, metric: str) -> bool:
    """False when most of the metric's frames are undefined, or for AKD when MKR > 0.9."""
    res = row_result(row, metric)
    if res is not None and res.n_undefined_frames > 0.5 * (res.n + res.n_undefined_frames):
        return False
    mkr = row_result(row, "mkr") if metric == "akd" else None
    return not (mkr is not None and mkr.defined and mkr.value > 0.9)


def cell(row, metric: str) -> str:
    """``value ± half-width``, ``not measurable`` or ``–`` (not computed for this row)."""
    res = row_result(row, metric)
    if res is None:
        return "–"
    if not res.defined or not measurable(row, metric):
        return NOT_MEASURABLE
    return format_value(res.value, res.ci_low, res.ci_high)


def sections(df, metrics: Sequence[str]):
    """(dataset, protocol, mode, rows sorted best-first by the first metric they all have, metric columns)."""
    mode_col = "mode" if "mode" in df else None
    keys = ["dataset", "protocol"] + ([mode_col] if mode_col else [])
    for key, part in df.groupby(keys, sort=False):
        dataset, protocol = key[0], key[1]
        mode = key[2] if mode_col else ""
        cols = [m for m in metrics if part[m].notna().any()]
        if cols:
            higher = metric_directions(cols[:1])[cols[0]]
            part = part.sort_values(cols[0], ascending=not higher, na_position="last")
        yield dataset, protocol, mode, part, cols


def _labels(part) -> List[str]:
    return ["method", "checkpoint"] + [c for c in NONCOMPARABLE if c in part and c != "mode" and part[c].nunique() > 1]


def markdown(df, metrics: Sequence[str]) -> str:
    out: List[str] = []
    for dataset, protocol, mode, part, cols in sections(df, metrics):
        labels = _labels(part)
        arrows = metric_directions(cols)
        out.append(f"### {dataset} — {protocol.replace('_', '-')}" + (f" ({mode} mode)" if mode else "") + "\n")
        out.append("| " + " | ".join(labels) + " | " + " | ".join(f"{m} {'↑' if arrows[m] else '↓'}" for m in cols) + " |")
        out.append("|" + "---|" * (len(labels) + len(cols)))
        for _, r in part.iterrows():
            out.append("| " + " | ".join(str(r[c]) for c in labels) + " | " + " | ".join(cell(r, m) for m in cols) + " |")
        out.append("")
    return "\n".join(out)


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        s = s.replace(a, b)
    return s


def latex(df, metrics: Sequence[str]) -> str:
    """One booktabs ``tabular`` per dataset / protocol / mode; the best value of each column in bold."""
    out: List[str] = []
    for dataset, protocol, mode, part, cols in sections(df, metrics):
        arrows = metric_directions(cols)
        best = {}
        for m in cols:
            ok = [r[m] for _, r in part.iterrows() if math.isfinite(r[m]) and measurable(r, m)]
            best[m] = (max(ok) if arrows[m] else min(ok)) if ok else None
        out += [f"% {dataset} — {protocol} ({mode} mode)", r"\begin{tabular}{l" + "c" * len(cols) + "}", r"\toprule",
                "Method & " + " & ".join(_tex(m) + (r" $\uparrow$" if arrows[m] else r" $\downarrow$") for m in cols)
                + r" \\", r"\midrule"]
        for _, r in part.iterrows():
            cells = []
            for m in cols:
                c = cell(r, m).replace("±", r"$\pm$")
                cells.append(rf"\textbf{{{c}}}" if best[m] is not None and r[m] == best[m] and measurable(r, m) else c)
            out.append(_tex(str(r["method"])) + " & " + " & ".join(cells) + r" \\")
        out += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(out)


def plot(df, metrics: Sequence[str], path: Path, floors: Sequence[str] = ("identity", "copy_driving")) -> Path:
    """:func:`figure` written to the PNG ``path``."""
    import matplotlib.pyplot as plt

    fig = figure(df, metrics, floors)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure(df, metrics: Sequence[str], floors: Sequence[str] = ("identity", "copy_driving")):
    """A grid of horizontal bar charts (a matplotlib Figure): one column per dataset × protocol × mode, one row per
    metric; bars sorted best at the top, 95% intervals as error bars, floors in grey, unmeasurable values marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(sections(df, metrics))
    metrics = [m for m in metrics if df[m].notna().any()]
    nrow, ncol = len(metrics), len(panels)
    height = max(2.2, 0.32 * max((len(p[3]) for p in panels), default=1) + 1.0)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, height * nrow), squeeze=False)
    arrows = metric_directions(metrics)
    for j, (dataset, protocol, mode, part, _) in enumerate(panels):
        for i, m in enumerate(metrics):
            ax = axes[i][j]
            higher = arrows[m]
            rows = part.sort_values(m, ascending=higher, na_position="first")  # best ends at the top
            labels, vals, lo, hi, colors = [], [], [], [], []
            for _, r in rows.iterrows():
                res = row_result(r, m)
                ok = res is not None and res.defined and measurable(r, m)
                v = res.value if ok else 0.0
                labels.append(f"{r['method']}" + ("" if ok else f" ({NOT_MEASURABLE})"))
                vals.append(v)
                l_ = res.ci_low if ok and math.isfinite(res.ci_low) else v
                h_ = res.ci_high if ok and math.isfinite(res.ci_high) else v
                lo.append(max(v - l_, 0.0))
                hi.append(max(h_ - v, 0.0))
                colors.append("0.6" if r["method"] in floors else "C0")
            y = range(len(labels))
            ax.barh(list(y), vals, xerr=[lo, hi], color=colors, capsize=2, error_kw={"elinewidth": 0.8})
            ax.set_yticks(list(y))
            ax.set_yticklabels(labels, fontsize=8)
            ax.set_xlabel(f"{m} ({'higher' if higher else 'lower'} is better)", fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
            if i == 0:
                ax.set_title(f"{protocol.replace('_', '-')}, {mode} mode" if mode else protocol, fontsize=9)
    fig.suptitle(", ".join(dict.fromkeys(df["dataset"])) + " — bars: value, whiskers: 95% bootstrap interval "
                 "over videos, grey: floors", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the title above the panels
    return fig


def _select(df, spec: str):
    method, _, ckpt = spec.partition(":")
    sel = df[df["method"] == method]
    if ckpt:
        sel = sel[sel["checkpoint"] == ckpt]
    if sel.empty:
        have = sorted(set(df["method"] + ":" + df["checkpoint"]))
        raise ValueError(f"compare: no leaderboard row matches '{spec}' (rows: {', '.join(have)})")
    return sel


def compare(df, a: str, b: str, metrics: Optional[Sequence[str]] = None, n_boot: int = 1000, seed: int = 0) -> str:
    """Paired bootstrap of A − B per metric, for every dataset / protocol / mode / compat both rows have."""
    rows_a, rows_b = _select(df, a), _select(df, b)
    group = ["dataset", "protocol"] + [c for c in NONCOMPARABLE if c in df]
    out: List[str] = []
    for key, ra in rows_a.groupby(group, sort=False):
        rb = rows_b
        for col, val in zip(group, key):
            rb = rb[rb[col] == val]
        if rb.empty:
            continue
        for name, part in (("A", ra), ("B", rb)):
            if len(part) > 1:
                raise ValueError(f"compare: '{a if name == 'A' else b}' matches {len(part)} rows in {key}; name the "
                                 f"checkpoint: method:checkpoint ({', '.join(part['checkpoint'])})")
        ra_, rb_ = ra.iloc[0], rb.iloc[0]
        pa, pb = per_video(ra_), per_video(rb_)
        names = [m for m in (metrics or pa) if m in pa and m in pb]
        out.append(f"### {a} vs {b}: {key[0]} — {key[1].replace('_', '-')}" + (f" ({key[2]} mode)" if len(key) > 2 else ""))
        out.append("")
        out.append("| metric | A | B | A − B [95% CI] | videos | resolved | better |")
        out.append("|---|---|---|---|---|---|---|")
        for m in names:
            d = paired(ra_, rb_, m, n_boot=n_boot, seed=seed)
            out.append(f"| {m} | {cell(ra_, m)} | {cell(rb_, m)} | {d['diff']:+.4f} [{d['ci_low']:+.4f}, "
                       f"{d['ci_high']:+.4f}] | {d['n_videos']} | {d['verdict']} | {d['better'] or '–'} |")
        out.append("")
    if not out:
        raise ValueError(f"compare: '{a}' and '{b}' share no dataset / protocol / mode / compat / selection")
    return "\n".join(out)


def per_video(row) -> Dict[str, Dict[str, float]]:
    """A leaderboard row's per-video values, ``{metric: {video: value}}`` (undefined values are NaN)."""
    try:
        data = json.loads(row.get("per_video") or "{}")
    except (TypeError, ValueError):
        return {}
    return {m: {k: float("nan") if v is None else float(v) for k, v in vals.items()} for m, vals in data.items()}


def paired(row_a, row_b, metric: str, n_boot: int = 1000, seed: int = 0) -> Dict[str, Any]:
    """Paired bootstrap of row A − row B on ``metric`` over the videos both rows scored
    (:func:`motionbench.stats.paired_bootstrap`), plus ``verdict`` ("yes" resolved, "no", or "undefined": fewer
    than two common videos or no per-video values) and ``better`` ("A", "B", or None when not resolved)."""
    pa, pb = per_video(row_a).get(metric, {}), per_video(row_b).get(metric, {})
    d: Dict[str, Any] = dict(paired_bootstrap(pa, pb, n_boot=n_boot, seed=seed))
    if d["resolved"] is None:
        d.update(verdict="undefined", better=None)
    elif d["resolved"]:
        res = row_result(row_a, metric)
        higher = res.higher_is_better if res is not None else metric_directions([metric])[metric]
        d.update(verdict="yes", better="A" if (d["diff"] > 0) == higher else "B")
    else:
        d.update(verdict="no", better=None)
    return d


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(argv or [])
    argv = [f"--compare={a.split('=', 1)[1]}" if a.startswith("compare=") else a for a in argv]
    ap = argparse.ArgumentParser(prog="motionbench leaderboard", description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", default="leaderboard.csv")
    ap.add_argument("--plot", default=None, help="write a PNG plot here")
    ap.add_argument("--latex", default=None, help="write LaTeX tables here")
    ap.add_argument("--metrics", default=None, help="comma-separated metrics (default: all)")
    ap.add_argument("--compare", default=None, metavar="A,B", help="paired bootstrap of two rows (method[:checkpoint])")
    args = ap.parse_args(argv)
    df, metrics = load_latest(Path(args.csv))
    if args.metrics:
        unknown = [m for m in args.metrics.split(",") if m not in metrics]
        if unknown:
            raise ValueError(f"leaderboard {args.csv} has no column(s) {unknown} (has: {', '.join(metrics)})")
        metrics = args.metrics.split(",")
    if args.compare:
        parts = args.compare.split(",")
        if len(parts) != 2:
            raise ValueError(f"--compare takes two rows A,B (method or method:checkpoint), got '{args.compare}'")
        print(compare(df, parts[0], parts[1], metrics if args.metrics else None))
        return
    print(markdown(df, metrics))
    if args.latex:
        print(f"latex: {write_text_atomic(Path(args.latex), latex(df, metrics))}")
    if args.plot:
        print(f"plot: {plot(df, metrics, Path(args.plot))}")
