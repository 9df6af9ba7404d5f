"""The report's figures (matplotlib, rendered to PNG bytes).

* :func:`section_figure`: one panel per headline metric of one leaderboard section (dataset / protocol /
  mode): each method's value as a dot with its 95% interval as whiskers, best at the top, the floors
  as vertical reference lines.
* :func:`summary_figure`: those rows of panels stacked, one per section (the README's figure).
* :func:`strip_figure`: per-video values, one panel per headline metric: each test video (or pair) a column,
  each method a marker, videos ordered by the methods' median, so a video every method fails stands out.
"""
from __future__ import annotations

import io
import math
from typing import Sequence

from ..leaderboard import metric_directions
from ..report import measurable

__all__ = ["section_figure", "summary_figure", "strip_figure"]

FLOOR_STYLES = ("--", ":", "-.")  # reference lines of the floors
FLOOR_MARKERS = ("_", "x", "+")
DPI = 100


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    _pyplot().close(fig)
    return buf.getvalue()


def _finite(x) -> bool:
    return x is not None and isinstance(x, float) and math.isfinite(x)


def _floors(rows: Sequence) -> list:
    """The floor rows in name order, so that each floor has the same line style / marker in every figure."""
    return sorted((r for r in rows if r.floor), key=lambda r: r.label)


def _draw_section(fig, rows: Sequence, metrics: Sequence[str], title: str) -> None:
    """Panels of one section into ``fig`` (a figure or sub-figure); ``rows``: :class:`~.model.Row` objects."""
    arrows = metric_directions(metrics)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    floors = _floors(rows)
    for ax, m in zip(axes, metrics):
        higher = arrows[m]
        ranked = [r for r in rows if not r.floor]
        ranked.sort(key=lambda r: (not (_finite(r.data.get(m)) and measurable(r.data, m)),
                                   -(r.data.get(m) or 0.0) if higher else (r.data.get(m) or 0.0)))
        labels = []
        for y, r in enumerate(reversed(ranked)):  # best at the top
            v = r.data.get(m)
            ok = _finite(v) and measurable(r.data, m)
            labels.append(r.label + ("" if ok else " (not measurable)"))
            if not ok:
                continue
            lo, hi = r.data.get(m + "_ci_low"), r.data.get(m + "_ci_high")
            err = [[max(v - lo, 0.0) if _finite(lo) else 0.0], [max(hi - v, 0.0) if _finite(hi) else 0.0]]
            ax.errorbar([v], [y], xerr=err, fmt="o", color="C0", ms=4, capsize=2, elinewidth=1)
        for k, f in enumerate(floors):
            v = f.data.get(m)
            if _finite(v) and measurable(f.data, m):
                ax.axvline(v, color="0.45", lw=1, ls=FLOOR_STYLES[k % len(FLOOR_STYLES)], label=f"floor: {f.label}")
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_ylim(-0.6, len(labels) - 0.4)
        ax.set_xlabel(f"{m} {'↑' if higher else '↓'} ({'higher' if higher else 'lower'} is better)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", color="0.9", lw=0.6)
    handles, names = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside lower center", fontsize=7, frameon=False, ncol=len(handles))
    fig.suptitle(title, fontsize=9)


def _height(rows: Sequence) -> float:
    return 1.3 + 0.22 * max(1, sum(1 for r in rows if not r.floor))


def section_figure(rows: Sequence, metrics: Sequence[str], title: str) -> bytes:
    """PNG of one section's panels (see the module docstring)."""
    plt = _pyplot()
    fig = plt.figure(figsize=(2.6 * len(metrics) + 0.8, _height(rows)), layout="constrained")
    _draw_section(fig, rows, metrics, title)
    return _png(fig)


def summary_figure(sections: Sequence, metrics_of, caption: str) -> bytes:
    """PNG of every section's panels stacked (``metrics_of(section)``: the headline metrics it shows)."""
    plt = _pyplot()
    heights = [_height(s.rows) for s in sections]
    width = max(2.6 * len(metrics_of(s)) + 0.8 for s in sections)
    fig = plt.figure(figsize=(width, sum(heights) + 0.3), layout="constrained")
    subs = fig.subfigures(len(sections), 1, height_ratios=heights, squeeze=False)[:, 0]
    for sub, s in zip(subs, sections):
        _draw_section(sub, s.rows, metrics_of(s), s.title)
    fig.suptitle(caption, fontsize=8, color="0.3")
    return _png(fig)


def strip_figure(rows: Sequence, metrics: Sequence[str], title: str) -> bytes:
    """PNG of the per-video values of ``rows`` (see the module docstring)."""
    import numpy as np

    plt = _pyplot()
    arrows = metric_directions(metrics)
    methods = [r for r in rows if not r.floor]
    floors = _floors(rows)
    videos = list(dict.fromkeys(v for r in rows for m in metrics for v in r.per_video.get(m, {})))
    panel = min(max(2.3, 1.0 + 0.14 * len(videos)), 6.0)
    fig = plt.figure(figsize=(panel * len(metrics) + 2.2, 3.0), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, m in zip(axes, metrics):
        def median(v: str) -> float:
            vals = [r.per_video.get(m, {}).get(v, math.nan) for r in (methods or rows)]
            vals = [x for x in vals if math.isfinite(x)]
            return float(np.median(vals)) if vals else math.inf
        order = sorted(videos, key=median, reverse=arrows[m])  # worst video on the right
        x = np.arange(len(order))
        for k, r in enumerate(methods + floors):
            vals = np.array([r.per_video.get(m, {}).get(v, math.nan) for v in order], float)
            off = (k - (len(methods) - 1) / 2) * min(0.5 / max(len(methods), 1), 0.08) if not r.floor else 0.0
            style = dict(marker=FLOOR_MARKERS[(k - len(methods)) % len(FLOOR_MARKERS)], color="0.45", ms=7, mew=1.2,
                         ls="none") if r.floor else dict(marker="o", ms=3.5, ls="none", color=f"C{k % 10}")
            ax.plot(x + off, vals, label=("floor: " if r.floor else "") + r.label, **style)
        ax.set_xticks(x)
        ax.set_xticklabels(order if len(order) <= 30 else [""] * len(order), rotation=90, fontsize=5)
        ax.set_xlabel(f"test {'videos' if ' <- ' not in ''.join(order) else 'pairs'}, worst on the right",
                      fontsize=7)
        ax.set_ylabel(f"{m} {'↑' if arrows[m] else '↓'}", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", color="0.9", lw=0.6)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right center", fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    return _png(fig)
