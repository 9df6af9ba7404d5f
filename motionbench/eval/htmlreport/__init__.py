"""The results report: one self-contained HTML page per leaderboard.

    python -m motionbench report CSV [--runs DIR ...] [--out report.html] [--copy-media] [--figure PNG]

Per dataset / protocol / animation mode (and compat setting / frame selection where the leaderboard mixes
them): the leaderboard table (value ± 95% interval, floors marked, the best method and every method not
resolved from it by the paired bootstrap highlighted, sortable, "not measurable" explained on hover),
provenance per row, a compact figure of the headline metrics, a matrix of paired comparisons, a synchronized
gallery of the sample videos (``benchmark.save_samples=K`` runs found under ``--runs``) and the per-video
values as a table and a strip plot. CSS, JavaScript, figures and (by default) videos are inside the file, so it
opens from disk with no server and no network; ``--copy-media`` copies the videos into ``<page>_media/`` beside
it instead (for media over ``--max-embed-mb``).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence, Tuple

from .model import ReportError, build_sections, find_runs
from .page import DEFAULT_HEADLINE, Media, gallery_html, headline_of, page_shell, render_page

__all__ = ["build_report", "write_gallery_page", "check_page_output", "main", "ReportError",
           "DEFAULT_MAX_EMBED_MB"]


DEFAULT_MAX_EMBED_MB = 25.0


def check_page_output(path, what: str) -> Path:
    """An HTML page path that can be written (refused before any work otherwise)."""
    from ...files.atomic import check_output_file

    path = check_output_file(path, what)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ReportError(f"{what}: {path} must end in .html")
    return path


def _media_store(files, media: str, max_embed_mb: float, out: Path, what: str) -> Media:
    """The page's media store: embedded, or copied into ``<out stem>_media/`` ("copy"; "auto": when the files
    would add more than ``max_embed_mb`` to the page). Over the limit, "embed" is refused."""
    probe = Media()
    for path in files:
        probe.ref(path)
    size_mb = probe.total_bytes() * 4 / 3 / 2**20  # base64
    if media == "auto":
        media = "copy" if size_mb > max_embed_mb else "embed"
    if media == "embed" and size_mb > max_embed_mb:
        raise ReportError(f"{what}: the sample media would add {size_mb:.1f} MB to the page (limit "
                          f"{max_embed_mb:g} MB); pass --copy-media (videos copied beside the page) or raise "
                          f"--max-embed-mb")
    return Media(out.parent / f"{out.stem}_media" if media == "copy" else None)


def _write_page(out: Path, html: str, store: Media) -> Path:
    """The media copies first (content-addressed names, atomic), then the page."""
    from ...files.atomic import write_bytes_atomic
    from ...files.atomic import write_text_atomic

    if store.copy_dir is not None:
        for mid, path in store.files.items():
            target = store.copy_dir / store.names[mid]
            if not target.is_file():
                write_bytes_atomic(target, path.read_bytes(), what="report media")
    return write_text_atomic(out, html, what="report")


def build_report(csv: Path, runs: Sequence[Path] = (), out: Path = Path("report.html"), media: str = "embed",
                 max_embed_mb: float = DEFAULT_MAX_EMBED_MB, headline: Optional[Sequence[str]] = None,
                 figure: Optional[Path] = None, title: Optional[str] = None, n_boot: int = 1000,
                 seed: int = 0) -> Path:
    """Write the report of leaderboard ``csv`` to ``out``; ``media``: "embed" (refused above ``max_embed_mb``),
    "copy" (into ``<out stem>_media/``) or "auto" (embed below the limit, else copy). Every input is checked
    before anything is rendered or written."""
    from ...files.atomic import check_output_file, write_bytes_atomic
    from ..leaderboard import load_latest
    from . import figures

    csv, out = Path(csv), Path(out)
    if not csv.is_file():
        raise ReportError(f"report: leaderboard {csv} does not exist (give a leaderboard CSV file)")
    df, metrics = load_latest(csv)
    headline = list(headline or DEFAULT_HEADLINE)
    unknown = [m for m in headline if m not in metrics] if headline != list(DEFAULT_HEADLINE) else []
    if unknown:
        raise ReportError(f"report: leaderboard {csv} has no metric(s) {unknown} (has: {', '.join(metrics)})")
    check_page_output(out, "report --out")
    if figure is not None:
        check_output_file(figure, "report --figure")
    found = find_runs(runs)
    sections = build_sections(df, metrics, found)
    files = [p for s in sections for r in s.rows for sample in r.samples().values() for p in sample["files"].values()]
    store = _media_store(files, media, max_embed_mb, out, f"report {', '.join(map(str, runs))}")
    html = render_page(sections, headline, store, title or f"motionbench results: {csv.name}",
                       source=f"{csv.name}" + (f" with samples of {len(found)} run(s)" if found else ""),
                       n_boot=n_boot, seed=seed)
    _write_page(out, html, store)
    if figure is not None:
        caption = "dots: value; whiskers: 95% bootstrap interval over videos; vertical lines: floors"
        write_bytes_atomic(figure, figures.summary_figure(sections, lambda s: headline_of(s, headline), caption),
                           what="report figure")
    return out


def write_gallery_page(out: Path, title: str, columns: Sequence[str], row_label: str,
                       cells: Sequence[Tuple[str, Path, str]], fps: float, media: str = "auto",
                       max_embed_mb: float = DEFAULT_MAX_EMBED_MB) -> Path:
    """A page with one synchronized gallery row (``task=compare``): ``cells`` are (kind "video" | "image",
    file, caption) under ``columns``."""
    from html import escape

    out = check_page_output(out, "compare.gallery")
    store = _media_store([c[1] for c in cells], media, max_embed_mb, out, "compare.gallery")
    row = [(kind, store.ref(path), escape(caption).replace("\n", "<br>")) for kind, path, caption in cells]
    body = (f"<header><h1>{escape(title)}</h1></header><p class=\"lead\">The same source image animated by the same "
            f"driving clip with each method; one control plays, pauses, steps and scrubs them together.</p>"
            + gallery_html(columns, [(row_label, row)], fps))
    return _write_page(out, page_shell(title, body, store), store)


def main(argv: Optional[Sequence[str]] = None) -> None:
    ap = argparse.ArgumentParser(prog="motionbench report", description=__doc__.splitlines()[0])
    ap.add_argument("csv", help="leaderboard CSV")
    ap.add_argument("--runs", nargs="*", default=[], metavar="DIR",
                    help="benchmark run folders or sweep folders (searched for results.json and samples/)")
    ap.add_argument("--out", default="report.html", help="the HTML file to write (default: report.html)")
    ap.add_argument("--copy-media", action="store_true",
                    help="copy videos into <out stem>_media/ beside the page instead of embedding them")
    ap.add_argument("--max-embed-mb", type=float, default=DEFAULT_MAX_EMBED_MB,
                    help=f"largest embedded media in MB (default {DEFAULT_MAX_EMBED_MB:g})")
    ap.add_argument("--headline", default=None,
                    help=f"comma-separated headline metrics (default: those of {','.join(DEFAULT_HEADLINE)} present)")
    ap.add_argument("--figure", default=None, help="also write the headline figure of every section to this PNG")
    ap.add_argument("--title", default=None, help="page title")
    ap.add_argument("--n-boot", type=int, default=1000, help="paired bootstrap resamples (default 1000)")
    args = ap.parse_args(list(argv or []))
    out = build_report(Path(args.csv), [Path(r) for r in args.runs], Path(args.out),
                       "copy" if args.copy_media else "embed", args.max_embed_mb,
                       args.headline.split(",") if args.headline else None,
                       Path(args.figure) if args.figure else None, args.title, args.n_boot)
    print(f"report: {out} ({out.stat().st_size / 2**20:.2f} MB)" + (f"\nfigure: {args.figure}" if args.figure else ""))
