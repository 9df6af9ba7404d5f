"""The report page: one HTML string with inline CSS and JavaScript (``report.css``, ``report.js`` beside this
file), its figures embedded as PNG, its media (sample videos, source images) embedded as data URIs or copied
beside the page (:class:`Media`).
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import math
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import quote

from ... import __version__
from ..leaderboard import metric_directions, row_result
from ..report import NOT_MEASURABLE, cell, measurable, paired
from . import figures
from .model import Row, Section

__all__ = ["Media", "render_page", "gallery_html", "page_shell", "headline_of", "DEFAULT_HEADLINE", "METRIC_TEXT"]

#: headline metrics (the figure's panels, the comparison matrices, the captions under gallery cells), in order
DEFAULT_HEADLINE = ("l1", "lpips", "fg_l1", "akd", "aed", "fid")

METRIC_TEXT = {
    "l1": "mean absolute pixel difference to the target, in [0, 1]",
    "psnr": "peak signal-to-noise ratio to the target, dB (capped at 100 for identical frames)",
    "ssim": "structural similarity to the target, in [−1, 1]",
    "lpips": "learned perceptual distance to the target (AlexNet LPIPS)",
    "fg_l1": "L1 inside the target's figure mask only: an output that erases the figure cannot win it",
    "fg_psnr": "PSNR inside the target's figure mask",
    "akd": "average keypoint distance to the target's pose, pixels (pose accuracy)",
    "mkr": "missing keypoint rate: keypoints found in the target but not in the output",
    "aed": "average distance of identity embeddings (identity kept from the reference)",
    "id_similarity": "cosine similarity of face identity embeddings",
    "fid": "Fréchet Inception distance of generated vs real frames (a set metric)",
    "kid": "kernel Inception distance of generated vs real frames (a set metric, unbiased)",
}
PROTOCOL_TEXT = {
    "same_identity": "Reconstruction: the source is frame 0 of a test video and the whole video drives it, so "
                     "every output frame has a ground truth (the real frame).",
    "cross_identity": "Animation: the source image comes from one video and the driving clip from another "
                      "(another identity). Synthetic data has a ground truth (the source puppet rendered in the "
                      "driving pose); on real data only target-free metrics apply.",
}
MODE_TEXT = {
    "absolute": "absolute mode: the driving pose is transferred as it is",
    "relative": "relative mode: the motion relative to the first driving frame is applied to the source",
    "avd": "avd mode: the motion is mapped through the method's animation-via-disentanglement network",
}


def headline_of(section: Section, headline: Sequence[str]) -> List[str]:
    """The headline metrics the section has (its first four metrics if it has none of them)."""
    chosen = [m for m in headline if m in section.metrics]
    return chosen or section.metrics[:4]


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _png_img(data: bytes, alt: str) -> str:
    return f'<img class="figure" alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _fmt(v: Optional[float], digits: int = 4) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _signed(d: Dict[str, Any]) -> str:
    return f"{d['diff']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"


class Media:
    """The files a page shows. Each distinct file (by content) gets one id; the page holds an id -> URL map
    (data: URIs when embedded, relative paths into ``copy_dir`` beside the page otherwise) that its script applies."""

    TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".png": "image/png", ".jpg": "image/jpeg"}

    def __init__(self, copy_dir: Optional[Path] = None) -> None:
        self.copy_dir = copy_dir
        self.files: Dict[str, Path] = {}  # id -> file
        self.names: Dict[str, str] = {}  # id -> content-addressed name in copy_dir
        self._ids: Dict[str, str] = {}  # sha256 -> id

    def ref(self, path: Path) -> str:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        if digest not in self._ids:
            mid = self._ids[digest] = f"m{len(self._ids)}"
            self.files[mid] = Path(path)
            self.names[mid] = f"{digest[:16]}{Path(path).suffix.lower()}"
        return self._ids[digest]

    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files.values())

    def urls(self) -> Dict[str, str]:
        if self.copy_dir is not None:
            return {mid: quote(f"{self.copy_dir.name}/{name}") for mid, name in self.names.items()}
        return {mid: f"data:{self.TYPES.get(path.suffix.lower(), 'application/octet-stream')};base64,"
                     f"{base64.b64encode(path.read_bytes()).decode()}" for mid, path in self.files.items()}


# ------------------------------------------------------------------------------------------------ tables
def _not_measurable_reason(data: Dict[str, Any], metric: str) -> str:
    res = row_result(data, metric)
    n, undefined = (res.n, res.n_undefined_frames) if res is not None else (0, 0)
    if undefined > 0.5 * (n + undefined):
        return (f"{NOT_MEASURABLE}: {undefined} of {n + undefined} frames are undefined (more than half), e.g. no "
                f"keypoint or no face found")
    if metric == "akd" and (data.get("mkr") or 0) > 0.9:
        return (f"{NOT_MEASURABLE}: MKR {data['mkr']:.3f} > 0.9 — almost no keypoint is found in the output, so the "
                f"distance of the few still found says nothing")
    return f"{NOT_MEASURABLE}: the metric is undefined on every frame"


class Resolution:
    """Per metric of a section: the best row (best value among non-floor rows) and each row's paired
    comparison with it, as ``leaderboard compare`` computes it."""

    def __init__(self, section: Section, n_boot: int, seed: int) -> None:
        self.best: Dict[str, Row] = {}
        self.vs_best: Dict[tuple, Dict[str, Any]] = {}
        arrows = metric_directions(section.metrics)
        for m in section.metrics:
            ok = [r for r in section.rows if _ok(r, m)]
            pool = [r for r in ok if not r.floor] or ok
            if not pool:
                continue
            best = (max if arrows[m] else min)(pool, key=lambda r: r.data[m])
            self.best[m] = best
            for r in section.rows:
                if r is not best and _ok(r, m):
                    self.vs_best[(r.ident, m)] = paired(r.data, best.data, m, n_boot=n_boot, seed=seed)

    def css(self, row: Row, metric: str) -> str:
        best = self.best.get(metric)
        if best is None or not _ok(row, metric):
            return ""
        if row is best:
            return "best"
        d = self.vs_best.get((row.ident, metric))
        return "tie" if not row.floor and d is not None and d["verdict"] == "no" else ""

    def title(self, row: Row, metric: str) -> str:
        best = self.best.get(metric)
        lo, hi = row.data.get(metric + "_ci_low"), row.data.get(metric + "_ci_high")
        text = f"{metric} = {_fmt(row.data.get(metric), 6)}, 95% interval [{_fmt(lo, 6)}, {_fmt(hi, 6)}] over videos"
        if best is None:
            return text
        if row is best:
            return text + "; best among the methods"
        d = self.vs_best.get((row.ident, metric))
        if d is None or d["verdict"] == "undefined":
            return text + f"; no paired comparison with the best ({best.label}): no per-video values in common"
        verdict = {"yes": "resolved", "no": "NOT resolved"}[d["verdict"]]
        return (text + f"; vs the best ({best.label}): difference {_signed(d)} over {d['n_videos']} videos, "
                       f"{verdict}")


def _ok(row: Row, metric: str) -> bool:
    v = row.data.get(metric)
    return v is not None and math.isfinite(v) and measurable(row.data, metric)


FLOOR_TITLE = ("a floor: a reference baseline every trained method should beat (identity copies the source image: "
               "perfect identity, no motion; copy_driving copies the driving frame: perfect pose, wrong identity)")


def _method_cell(row: Row) -> str:
    badge = f' <span class="badge" title="{escape(FLOOR_TITLE)}">floor</span>' if row.floor else ""
    return f'<td data-v="{escape(row.label)}">{escape(row.label)}{badge}</td>'


def _leaderboard_table(section: Section, res: Resolution) -> str:
    arrows = metric_directions(section.metrics)
    head = ['<th data-type="text">method</th>', '<th data-type="text">checkpoint</th>']
    head += [f'<th data-type="text">{escape(c)}</th>' for c in section.labels]
    for m in section.metrics:
        title = f"{METRIC_TEXT.get(m, m)}; {'higher' if arrows[m] else 'lower'} is better. Click to sort."
        head.append(f'<th data-type="num" data-higher="{int(arrows[m])}" title="{escape(title)}">{escape(m)} '
                    f'{"↑" if arrows[m] else "↓"}</th>')
    body = []
    for r in section.rows:
        cells = [_method_cell(r), f'<td data-v="{escape(str(r.data["checkpoint"]))}">{escape(str(r.data["checkpoint"]))}</td>']
        cells += [f'<td>{escape(str(r.data.get(c, "")))}</td>' for c in section.labels]
        for m in section.metrics:
            text = cell(r.data, m)
            v = r.data.get(m)
            if text == NOT_MEASURABLE:
                cells.append(f'<td class="na" data-v="NaN" title="{escape(_not_measurable_reason(r.data, m))}">'
                             f'{NOT_MEASURABLE}</td>')
            elif text == "–":
                cells.append('<td class="na" data-v="NaN" title="not computed for this row">–</td>')
            else:
                cells.append(f'<td class="{res.css(r, m)}" data-v="{v!r}" title="{escape(res.title(r, m))}">'
                             f'{escape(text)}</td>')
        body.append(f'<tr class="{"floor" if r.floor else ""}" data-row="{escape(r.ident)}">{"".join(cells)}</tr>')
    return (f'<div class="scroll"><table class="board sortable" id="{section.sid}-board"><thead><tr>{"".join(head)}'
            f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _matrices(section: Section, metrics: Sequence[str], n_boot: int, seed: int) -> str:
    rows = section.rows
    options, blocks = [], []
    for k, m in enumerate(metrics):
        options.append(f'<option value="{escape(m)}">{escape(m)}</option>')
        head = "".join(f'<th title="{escape(r.ident)}">{escape(r.label)}</th>' for r in rows)
        body = []
        pairs: Dict[tuple, Dict[str, Any]] = {}
        for i, a in enumerate(rows):
            for j, b in enumerate(rows[i + 1:], i + 1):
                pairs[(i, j)] = paired(a.data, b.data, m, n_boot=n_boot, seed=seed)
        for i, a in enumerate(rows):
            cells = [f'<th class="rowhead" title="{escape(a.ident)}">{escape(a.label)}</th>']
            for j, b in enumerate(rows):
                if i == j:
                    cells.append('<td class="diag"></td>')
                    continue
                d = dict(pairs[(min(i, j), max(i, j))])
                if i > j:  # B − A of the same resamples: the mirrored difference and interval
                    d.update(diff=-d["diff"], ci_low=-d["ci_high"], ci_high=-d["ci_low"],
                             better={"A": "B", "B": "A"}.get(d["better"]))
                if d["verdict"] == "undefined":
                    cells.append(f'<td class="undef" title="{escape(a.label)} − {escape(b.label)}: no paired values">'
                                 f'–</td>')
                    continue
                cls = {"A": "win", "B": "loss"}.get(d["better"], "tie")
                what = {"win": f"resolved: {a.label} is better", "loss": f"resolved: {b.label} is better",
                        "tie": "not resolved (the interval contains 0)"}[cls]
                tip = f"{a.label} − {b.label} on {m}: {_signed(d)} over {d['n_videos']} videos; {what}"
                cells.append(f'<td class="{cls}" title="{escape(tip)}">{d["diff"]:+.4f}'
                             f'<small>[{d["ci_low"]:+.4f}, {d["ci_high"]:+.4f}]</small></td>')
            body.append(f"<tr>{''.join(cells)}</tr>")
        blocks.append(f'<table class="matrix" data-metric="{escape(m)}"{"" if k == 0 else " hidden"}><thead><tr>'
                      f'<th class="corner">row − column</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')
    return (f'<p class="note">Each cell: row − column, the mean difference over the videos both scored, with its '
            f'paired 95% bootstrap interval; <span class="win">green</span>: the row is better (resolved), '
            f'<span class="loss">red</span>: the column is better (resolved), grey: not resolved.</p>'
            f'<p class="controls">metric <select class="switch" data-target="{section.sid}-mx">{"".join(options)}'
            f'</select></p><div class="scroll" id="{section.sid}-mx">{"".join(blocks)}</div>')


def _per_video(section: Section, headline: Sequence[str]) -> str:
    metrics = [m for m in section.metrics if any(m in r.per_video for r in section.rows)]
    if not metrics:
        return '<p class="note">This leaderboard has no per-video values for these rows.</p>'
    import numpy as np

    options, blocks = [], []
    for k, m in enumerate(metrics):
        options.append(f'<option value="{escape(m)}"{" selected" if k == 0 else ""}>{escape(m)}</option>')
        videos = list(dict.fromkeys(v for r in section.rows for v in r.per_video.get(m, {})))
        head = '<th data-type="text">video</th>' + "".join(
            f'<th data-type="num" data-higher="{int(metric_directions([m])[m])}" title="{escape(r.ident)}">'
            f'{escape(r.label)}</th>' for r in section.rows) + \
            '<th data-type="num" title="median over the methods (floors excluded)">median</th>'
        body = []
        for v in videos:
            vals = [r.per_video.get(m, {}).get(v, math.nan) for r in section.rows]
            ref = [x for x, r in zip(vals, section.rows) if not r.floor and math.isfinite(x)]
            med = float(np.median(ref)) if ref else math.nan
            cells = "".join(f'<td data-v="{x!r}">{_fmt(x)}</td>' for x in vals)
            body.append(f'<tr><td data-v="{escape(v)}">{escape(v)}</td>{cells}<td data-v="{med!r}">{_fmt(med)}</td></tr>')
        blocks.append(f'<table class="pervideo sortable" data-metric="{escape(m)}"{"" if k == 0 else " hidden"}>'
                      f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')
    strip = figures.strip_figure(section.rows, headline, f"{section.title}: per-video values")
    return (f'{_png_img(strip, "per-video values, one panel per headline metric")}'
            f'<p class="controls">metric <select class="switch" data-target="{section.sid}-pv">{"".join(options)}'
            f'</select> (click a column to sort)</p><div class="scroll tall" id="{section.sid}-pv">{"".join(blocks)}</div>')


def _provenance(section: Section) -> str:
    head = ("<tr><th>method</th><th>checkpoint</th><th>checkpoint sha256</th><th>git</th><th>date</th>"
            "<th>device</th><th>test set</th><th>dataset</th><th>wall time</th><th>frames/s</th><th>run</th></tr>")
    body = []
    for r in section.rows:
        d = r.data
        first = next((res for m in section.metrics if (res := row_result(d, m)) is not None), None)
        n_items = max((len(v) for v in r.per_video.values()), default=0)
        unit = "videos" if section.protocol == "same_identity" else "pairs"
        frames = first.n + first.n_undefined_frames if first is not None else 0
        test_set = f"{n_items} {unit}, {frames} scored frames" if n_items else f"{frames} scored frames"
        sha = str(d.get("checkpoint_sha256") or "")
        rec = r.run.record if r.run is not None and r.own_run else None
        dataset = ""
        if rec is not None:
            desc = {k: v for k, v in rec.dataset.items() if k not in ("keypoint_names",)}
            short = ", ".join(f"{k} {desc[k]}" for k in ("name", "version", "resolution", "root") if k in desc)
            dataset = f'<span title="{escape(json.dumps(desc, sort_keys=True))}">{escape(short)}</span>'
        wall = f"{rec.wall_time_s:.1f} s" if rec is not None else "–"
        fps = f"{rec.animate_frames_per_s:.1f}" if rec is not None and rec.animate_frames_per_s else "–"
        run = escape(str(d.get("run_dir") or ""))
        body.append(
            f"<tr><td>{escape(r.label)}</td><td>{escape(str(d['checkpoint']))}</td>"
            f'<td><code title="{escape(sha)}">{escape(sha[:12]) or "–"}</code></td><td><code>{escape(str(d.get("git") or "–"))}</code></td>'
            f"<td>{escape(str(d.get('date') or '–'))}</td><td>{escape(str(d.get('device') or '–'))}</td>"
            f"<td>{escape(test_set)}</td><td>{dataset or '–'}</td><td>{wall}</td><td>{fps}</td>"
            f'<td><code class="path" title="{run}">{run}</code></td></tr>')
    note = ("Dataset, wall time and frames/s come from the run's results.json, shown where the run that wrote the row "
            "is among the report's --runs folders. frames/s: animated frames per second of animation time.")
    return (f'<details class="prov"><summary>Provenance of these rows</summary><p class="note">{note}</p>'
            f'<div class="scroll"><table class="prov-table"><thead>{head}</thead><tbody>{"".join(body)}</tbody>'
            f"</table></div></details>")


# ------------------------------------------------------------------------------------------------ gallery
def gallery_html(columns: Sequence[str], rows: Sequence[tuple], fps: float, notes: Sequence[str] = ()) -> str:
    """A synchronized grid of videos: ``columns`` are the header labels after the row label; ``rows`` are
    ``(row label, cells)`` with one cell per column, each ``None`` or ``(kind, media id, caption html)`` where
    kind is "video" or "image". One play / pause / step / scrub control drives every video of the grid."""
    head = "<th></th>" + "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for label, cells in rows:
        tds = []
        for c in cells:
            if c is None:
                tds.append('<td class="missing">no sample</td>')
                continue
            kind, mid, caption = c
            el = (f'<video data-media="{mid}" muted loop playsinline preload="auto"></video>' if kind == "video"
                  else f'<img data-media="{mid}" alt="source image">')
            tds.append(f"<td><figure>{el}<figcaption>{caption}</figcaption></figure></td>")
        body.append(f'<tr><th class="rowhead">{escape(label)}</th>{"".join(tds)}</tr>')
    notes_html = "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
    return (f'<div class="gallery" data-fps="{fps:g}"><div class="controls">'
            f'<button type="button" class="play">▶ play</button>'
            f'<button type="button" class="step" data-step="-1" title="one frame back">◀ frame</button>'
            f'<button type="button" class="step" data-step="1" title="one frame on">frame ▶</button>'
            f'<input class="scrub" type="range" min="0" max="1000" value="0" aria-label="position">'
            f'<span class="time">frame 0</span></div>{notes_html}<div class="scroll"><table class="gallery-table">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div></div>")


def _caption(metrics: Dict[str, Any], names: Sequence[str]) -> str:
    parts = [f"{escape(m)} {_fmt(metrics.get(m))}" for m in names if m in metrics]
    return "<br>".join(parts)


def _section_gallery(section: Section, media: Media, headline: Sequence[str]) -> str:
    with_samples = [r for r in section.rows if r.samples()]
    if not with_samples:
        return ('<p class="note">No sample videos for this section: benchmark the rows with '
                '<code>benchmark.save_samples=K</code> and pass their run folders with <code>--runs</code>.</p>')
    keys = list(dict.fromkeys(k for r in with_samples for k in r.samples()))
    same = section.protocol == "same_identity"
    has_target = any("target" in s["files"] for r in with_samples for s in r.samples().values())
    columns = ["source", "driving (ground truth)" if same else "driving"] + (["ground truth"] if has_target else [])
    columns += [r.label for r in section.rows]
    out_rows = []
    for key in keys:
        ref = next(r.samples()[key] for r in with_samples if key in r.samples())
        cells: List[Optional[tuple]] = [("image", media.ref(ref["files"]["source"]), "source image"),
                                        ("video", media.ref(ref["files"]["driving"]), "driving clip")]
        if has_target:
            cells.append(("video", media.ref(ref["files"]["target"]), "ground truth") if "target" in ref["files"]
                         else None)
        for r in section.rows:
            s = r.samples().get(key)
            cells.append(None if s is None else ("video", media.ref(s["files"]["output"]),
                                                 _caption(s["metrics"], headline)))
        out_rows.append((key, cells))
    notes = [f"{r.label}: samples from run {r.run.path} (another run of the same configuration than the row's)"
             for r in with_samples if not r.own_run]
    missing = [r.label for r in section.rows if not r.samples()]
    if missing:
        notes.append("no samples for " + ", ".join(missing) + " (their runs are not among --runs, or ran without "
                     "benchmark.save_samples)")
    return gallery_html(columns, out_rows, with_samples[0].run.fps, notes)


# ------------------------------------------------------------------------------------------------ page
def page_shell(title: str, body: str, media: Media) -> str:
    """The whole HTML document: inline CSS, ``body``, the media map and the inline script."""
    urls = json.dumps(media.urls()).replace("</", "<\\/")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f"<style>\n{_asset('report.css')}</style></head><body>\n{body}\n"
            f'<script type="application/json" id="media">{urls}</script>\n<script>\n{_asset("report.js")}</script>'
            f"</body></html>\n")


def _intro(sections: Sequence[Section]) -> str:
    metrics = list(dict.fromkeys(m for s in sections for m in s.metrics))
    arrows = metric_directions(metrics)
    unknown = "see benchmarks/README.md of motionbench"
    glossary = "".join(f"<dt>{escape(m)} {'↑' if arrows[m] else '↓'}</dt><dd>{escape(METRIC_TEXT.get(m, unknown))}</dd>"
                       for m in metrics)
    return f"""
<p class="lead">Motion transfer (image animation) makes a <b>source</b> image move like a <b>driving</b> video.
This page compares methods on the same test videos: one section per dataset, protocol and animation mode, each
with a table, a figure, which differences are resolved, sample videos side by side and the per-video values.</p>
<div class="howto"><b>How to read the tables.</b> Each value is the mean over test videos ± the half-width of its
95% bootstrap interval over videos (videos resampled with replacement). ↓ lower is better, ↑ higher is better.
<span class="best legend">best</span> marks the best method of a column (floors excluded);
<span class="tie legend">light</span> marks methods whose paired difference from the best is <b>not resolved</b>
(its 95% paired-bootstrap interval over the videos both scored contains 0): on this test set they cannot be told
apart from the best. Rows in grey italics are <span class="badge">floor</span>s, reference baselines every
method should beat. <i>not measurable</i>: hover over it for the reason. Hover over any value for its interval and
its comparison with the best; click a column header to sort.</div>
<details class="glossary"><summary>Metrics</summary><dl>{glossary}</dl></details>"""


def render_page(sections: Sequence[Section], headline: Sequence[str], media: Media, title: str, source: str,
                n_boot: int = 1000, seed: int = 0) -> str:
    nav = "".join(f'<li><a href="#{s.sid}">{escape(s.title)}</a> ({len(s.rows)} rows)</li>' for s in sections)
    parts = [f"<header><h1>{escape(title)}</h1></header>", _intro(sections), f'<nav><ol>{nav}</ol></nav>']
    for s in sections:
        heads = headline_of(s, headline)
        res = Resolution(s, n_boot, seed)
        about = PROTOCOL_TEXT.get(s.protocol, "") + (f" ({MODE_TEXT[s.mode]})" if s.mode in MODE_TEXT else "")
        fig = figures.section_figure(s.rows, heads, s.title)
        parts.append(
            f'<section id="{s.sid}"><h2>{escape(s.title)}</h2><p class="about">{escape(about)}</p>'
            f"{_leaderboard_table(s, res)}{_provenance(s)}"
            f"<h3>Headline metrics</h3>{_png_img(fig, s.title + ': values with 95% intervals, floors as lines')}"
            f'<p class="note">Dots: value; whiskers: 95% interval over videos; vertical lines: the floors.</p>'
            f"<h3>Paired comparisons</h3>{_matrices(s, heads, n_boot, seed)}"
            f"<h3>Samples</h3>{_section_gallery(s, media, heads)}"
            f"<h3>Per video</h3>{_per_video(s, heads)}</section>")
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    parts.append(f'<footer>Made by motionbench {escape(__version__)} on {now} from <code>{escape(source)}</code>. '
                 f"Paired comparisons: {n_boot} bootstrap resamples, seed {seed}.</footer>")
    return page_shell(title, "\n".join(parts), media)
