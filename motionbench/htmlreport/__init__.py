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
import logging
from pathlib import Path
from typing import Optional, Sequence

from .model import ReportError, build_sections, find_runs
from .page import DEFAULT_HEADLINE, Media, headline_of, render_page

__all__ = ["build_report", "main", "ReportError", "DEFAULT_MAX_EMBED_MB"]

log = logging.getLogger("motionbench")

DEFAULT_MAX_EMBED_MB = 25.0


def build_report(csv: Path, runs: Sequence[Path] = (), out: Path = Path("report.html"), media: str = "embed",
                 max_embed_mb: float = DEFAULT_MAX_EMBED_MB, headline: Optional[Sequence[str]] = None,
                 figure: Optional[Path] = None, title: Optional[str] = None, n_boot: int = 1000,
                 seed: int = 0) -> Path:
    """Write the report of leaderboard ``csv`` to ``out``; ``media``: "embed" (refused above ``max_embed_mb``),
    "copy" (into ``<out stem>_media/``) or "auto" (embed below the limit, else copy). Every input is checked
    before anything is rendered or written."""
    from ..io_safe import check_output_file, write_bytes_atomic
    from ..leaderboard import load_latest
    from ..results import write_text_atomic
    from . import figures

    csv, out = Path(csv), Path(out)
    if not csv.is_file():
        raise ReportError(f"report: leaderboard {csv} does not exist (give a leaderboard CSV file)")
    if out.suffix.lower() not in (".html", ".htm"):
        raise ReportError(f"report: --out {out} must end in .html")
    df, metrics = load_latest(csv)
    headline = list(headline or DEFAULT_HEADLINE)
    unknown = [m for m in headline if m not in metrics] if headline != list(DEFAULT_HEADLINE) else []
    if unknown:
        raise ReportError(f"report: leaderboard {csv} has no metric(s) {unknown} (has: {', '.join(metrics)})")
    check_output_file(out, "report --out")
    if figure is not None:
        check_output_file(figure, "report --figure")
    found = find_runs(runs)
    sections = build_sections(df, metrics, found)
    copy_dir = out.parent / f"{out.stem}_media"
    collected = Media()
    for s in sections:
        for r in s.rows:
            for sample in r.samples().values():
                for path in sample["files"].values():
                    collected.ref(path)
    size_mb = collected.total_bytes() * 4 / 3 / 2**20  # base64
    if media == "auto":
        media = "copy" if size_mb > max_embed_mb else "embed"
    if media == "embed" and size_mb > max_embed_mb:
        raise ReportError(f"report: the sample media of {', '.join(map(str, runs))} would add {size_mb:.1f} MB to "
                          f"the page (limit {max_embed_mb:g} MB); pass --copy-media (videos copied beside the page) "
                          f"or raise --max-embed-mb")
    page_media = Media(copy_dir if media == "copy" else None)
    html = render_page(sections, headline, page_media, out.parent, title or f"motionbench results: {csv.name}",
                       source=f"{csv.name}" + (f" with samples of {len(found)} run(s)" if found else ""),
                       n_boot=n_boot, seed=seed)
    if media == "copy":
        for mid, path in page_media.files.items():
            target = copy_dir / page_media.copy_name(mid)
            if not target.is_file():
                write_bytes_atomic(target, path.read_bytes(), what="report media")
    write_text_atomic(out, html, what="report")
    if figure is not None:
        caption = "dots: value; whiskers: 95% bootstrap interval over videos; vertical lines: floors"
        write_bytes_atomic(figure, figures.summary_figure(sections, lambda s: headline_of(s, headline), caption),
                           what="report figure")
    return out


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
