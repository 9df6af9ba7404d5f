"""``prepare_dataset``: downloaded videos + metadata (or detected tubes) -> the FOMM layout, a report and a manifest.

Resumable and idempotent: a chunk is skipped when the previous report (or the journal of an interrupted run)
lists it as written with the same spec (everything that defines its pixels: video file size, rows' box, rates,
sizes, format, resolution) and its output still has the recorded sha256; everything else is (re)done.
Outputs are atomic, so a killed run leaves finished chunks and no partial ones (stale temporaries of dead
processes are removed at the next start). Videos are processed by ``workers`` processes
(:class:`concurrent.futures.ProcessPoolExecutor`), each writing its own chunks.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from ..data.base import DatasetError
from ..data.readers import VIDEO_EXTS
from ..files.atomic import check_output_dir, clean_stale_temps
from ..cli.schema import PrepareConfig
from .extract import STATUSES, ChunkResult, VideoJob, extract_video
from .metadata import Chunk, read_metadata
from .output import FORMATS, output_digest
from .presets import Preset, get_preset
from .report import (JOURNAL_FILE, REPORT_FILE, append_journal, build_manifest, read_previous, summary_table,
                     write_manifest, write_report)


__all__ = ["PrepareOptions", "PrepareResult", "prepare_dataset", "find_videos", "check_options"]


@dataclass
class PrepareOptions(PrepareConfig):
    """The ``prepare`` config group (``conf/prepare/default.yaml`` explains each key) plus the device the
    own-video detectors run on."""

    device: str = "cpu"


@dataclass
class PrepareResult:
    rows: List[Dict[str, Any]]
    reused: int
    root: Path
    manifest: Dict[str, Any]
    pairs_csv: Optional[Path] = None
    extra_outputs: List[str] = field(default_factory=list)

    def count(self, status: str, partition: Optional[str] = None) -> int:
        return sum(r["status"] == status and partition in (None, r["partition"]) for r in self.rows)

    def summary(self) -> str:
        from .detect import TUBE_STATUSES

        lines = [summary_table(self.rows, (*STATUSES, *TUBE_STATUSES)), "",
                 f"{self.count('written')} chunks in {self.root} ({self.reused} already there, "
                 f"{self.count('written') - self.reused} written now); report: {self.root / REPORT_FILE}"]
        if self.extra_outputs:
            lines.append(f"{len(self.extra_outputs)} entries in the split folders are not in the report (left "
                         f"untouched, not in the manifest): {', '.join(self.extra_outputs[:5])}")
        if self.pairs_csv is not None:
            lines.append(f"pairs: {self.pairs_csv} (dataset.pairs_csv={self.pairs_csv})")
        return "\n".join(lines)


def check_options(o: PrepareOptions) -> Preset:
    """Every setting checked before any work; raises ValueError / DatasetError naming the key and the fix."""
    from ..cli.validate import ConfigValueError

    preset = get_preset(o.preset)
    for key in ("videos", "output"):
        if not getattr(o, key):
            raise ConfigValueError(f"prepare.{key} is not set; give a folder (prepare.{key}=DIR)")
    if not os.path.isdir(str(o.videos)):
        raise DatasetError(f"prepare.videos={o.videos}: no such folder (the folder holding the downloaded videos)")
    if preset.kind == "metadata" and not o.metadata:
        raise ConfigValueError(f"prepare.preset={preset.name} needs prepare.metadata=CSV: {preset.metadata_source}")
    if preset.kind != "metadata" and o.metadata:
        raise ConfigValueError(f"prepare.preset={preset.name} finds its chunks itself; drop prepare.metadata "
                               f"(or use prepare.preset=taichi|vox|ted with a metadata CSV)")
    if o.format not in FORMATS:
        raise ConfigValueError(f"prepare.format={o.format}: must be one of {', '.join(FORMATS)}")
    if o.partition not in ("train", "test"):
        raise ConfigValueError(f"prepare.partition={o.partition}: must be train or test")
    for key in ("resolution", "min_frames", "max_frames", "iou", "increase", "min_score"):
        value = getattr(o, key)
        if value is not None and (isinstance(value, bool) or not value > 0) and not (key == "increase" and value == 0):
            raise ConfigValueError(f"prepare.{key}={value}: must be a positive number or null (the preset's)")
    for key in ("workers", "detect_every"):
        if not isinstance(getattr(o, key), int) or getattr(o, key) < 1:
            raise ConfigValueError(f"prepare.{key}={getattr(o, key)}: must be an integer >= 1")
    if o.pairs < 0 or o.seed < 0:
        raise ConfigValueError(f"prepare.pairs={o.pairs} / prepare.seed={o.seed}: must be >= 0")
    if o.video_list and not os.path.isfile(o.video_list):
        raise DatasetError(f"prepare.video_list={o.video_list}: no such file (a CSV with columns video_id,path)")
    _check_output_location(Path(str(o.output)))
    return preset


def _check_output_location(path: Path) -> None:
    """Refuse an output that cannot be created or written, without creating anything yet."""
    from ..files.atomic import OutputError

    if path.exists():
        check_output_dir(path, "prepare.output")
        return
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"prepare.output: cannot create {path} ({parent} is not a writable folder); "
                          f"choose a writable location")


def find_videos(folder: str, video_list: Optional[str] = None) -> Dict[str, str]:
    """``file id -> path``: ``<id>.<ext>`` files in ``folder`` (``.mp4`` preferred when several share an id),
    then the rows of ``video_list`` (columns ``video_id,path``, paths relative to the list's folder)."""
    import pandas as pd

    found: Dict[str, str] = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        path = os.path.join(folder, name)
        if ext.lower() in VIDEO_EXTS and os.path.isfile(path) and (stem not in found or ext.lower() == ".mp4"):
            found[stem] = path
    if video_list:
        try:
            table = pd.read_csv(video_list, dtype=str, keep_default_na=False)
        except Exception as e:  # pandas raises several types for unreadable CSVs
            raise DatasetError(f"cannot read prepare.video_list '{video_list}': {e}") from e
        if not {"video_id", "path"} <= set(table.columns):
            raise DatasetError(f"prepare.video_list '{video_list}' must have the columns video_id,path; found "
                               f"{','.join(map(str, table.columns))}")
        base = os.path.dirname(os.path.abspath(video_list))
        for r in table.to_dict("records"):
            found[str(r["video_id"]).strip()] = os.path.join(base, os.path.expanduser(str(r["path"]).strip()))
    return found


def _spec(chunk: Chunk, path: Optional[str], fmt: str, resolution: int) -> str:
    size = os.path.getsize(path) if path and os.path.isfile(path) else "missing"
    return hashlib.sha256(f"{chunk.spec()}|{fmt}|{resolution}|{size}".encode()).hexdigest()[:16]


def _row(c: Chunk, r: ChunkResult, spec: str) -> Dict[str, Any]:
    return {"video_id": c.video_id, "start": c.start, "end": c.end, "partition": c.partition, "status": r.status,
            "frames": r.frames, "path": r.path, "sha256": r.sha256, "line": c.line, "name": c.name,
            "person_id": c.person_id or "", "bbox": "-".join(map(str, c.bbox)), "crop_box": r.box, "spec": spec,
            "detail": r.detail}


def _reusable(prev: Optional[Mapping[str, str]], spec: str, root: Path) -> bool:
    return (prev is not None and prev.get("status") == "written" and prev.get("spec") == spec
            and bool(prev.get("path")) and output_digest(root / prev["path"]) == prev.get("sha256"))


def _run_jobs(jobs: Sequence[Any], workers: int, on_done: Callable[[Any, Any], None],
              fn: Callable[[Any], Any] = extract_video) -> None:
    """``on_done(job, fn(job))`` for every job, in this process (``workers`` 1) or in a pool of processes."""
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            on_done(job, fn(job))
        return
    import multiprocessing

    # spawn: workers start clean (no inherited ffmpeg pipes, locks or threads of the parent)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(fn, job): job for job in jobs}
        try:
            for fut in as_completed(futures):
                on_done(futures[fut], fut.result())
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def prepare_dataset(options: Union[PrepareOptions, Mapping[str, Any]],
                    detector: Optional[Callable[[], Any]] = None) -> PrepareResult:
    """Prepare ``options.output`` from ``options.videos`` (see the module docstring). ``detector`` (own-video
    presets only) is a picklable zero-argument factory of the face / person detector, overriding the
    preset's library detector and ``options.detector``."""
    o = options if isinstance(options, PrepareOptions) else PrepareOptions(**dict(options))
    preset = check_options(o)
    resolution = int(o.resolution or preset.resolution)
    root = Path(str(o.output))
    videos = find_videos(str(o.videos), o.video_list)
    extra_rows: List[Dict[str, Any]] = []
    if preset.kind == "metadata":
        chunks = read_metadata(str(o.metadata), preset.metadata_source)
        metadata_file = Path(str(o.metadata))
    else:
        from .detect import detect_chunks

        chunks, extra_rows, metadata_file = detect_chunks(preset, o, videos, root, detector)
        videos = {k.replace("#", "_"): v for k, v in videos.items()}  # the video ids of the detected tubes
    check_output_dir(root, "prepare.output")
    for folder in (root, root / "train", root / "test"):
        clean_stale_temps(folder)
    previous = read_previous(root)

    rows: Dict[int, Dict[str, Any]] = {}
    first_of: Dict[str, Chunk] = {}
    jobs: Dict[str, VideoJob] = {}
    specs: Dict[int, str] = {}
    reused = 0
    for c in chunks:
        path = videos.get(c.file_id)
        specs[c.line] = spec = _spec(c, path, o.format, resolution)
        if c.name in first_of:
            continue  # a duplicate: filled in from its first row below
        first_of[c.name] = c
        prev = previous.get(c.name)
        if _reusable(prev, spec, root):
            rows[c.line] = {**_row(c, ChunkResult(c.line, "written"), spec),
                            **{k: prev[k] for k in ("frames", "path", "sha256", "crop_box", "detail")}}
            reused += 1
            continue
        job = jobs.setdefault(c.file_id, VideoJob(c.file_id, path, [], str(root), o.format, resolution))
        job.chunks.append(c)

    by_line = {c.line: c for c in chunks}
    bar = _progress(o.progress, total=sum(len(j.chunks) for j in jobs.values()))

    def done(job: VideoJob, results: List[ChunkResult]) -> None:
        new = [_row(by_line[r.line], r, specs[r.line]) for r in results]
        for row in new:
            rows[int(row["line"])] = row
        append_journal(root, new)
        bar.update(len(results))

    try:
        _run_jobs(sorted(jobs.values(), key=lambda j: j.video_id), o.workers, done)
    finally:
        bar.close()
    final = _final_rows(chunks, rows, first_of, specs) + extra_rows
    settings = {"preset": preset.name, "metadata": {"file": metadata_file.name, "sha256": output_digest(metadata_file)},
                "resolution": resolution, "format": o.format, **_versions(), **preset.manifest_settings(o)}
    manifest = build_manifest(final, settings)
    write_report(root, final)
    write_manifest(root, manifest)
    (root / JOURNAL_FILE).unlink(missing_ok=True)
    result = PrepareResult(final, reused, root, manifest, extra_outputs=_unlisted(root, final))
    if o.pairs:
        from .pairs import write_pairs

        result.pairs_csv = write_pairs(root, o.pairs, o.seed) if result.count("written", "test") else None
    return result


def _final_rows(chunks: Sequence[Chunk], rows: Mapping[int, Dict[str, Any]], first_of: Mapping[str, Chunk],
                specs: Mapping[int, str]) -> List[Dict[str, Any]]:
    out = []
    for c in chunks:
        if c.line in rows:
            out.append(rows[c.line])
            continue
        first = rows[first_of[c.name].line]
        same = specs[c.line] == specs[first_of[c.name].line]
        why = (f"same chunk as line {first['line']}" if same else
               f"same name as line {first['line']} but another box or rate; line {first['line']}'s is used "
               f"(the official tool overwrites an mp4 with the later row and keeps the first png folder)")
        out.append({**_row(c, ChunkResult(c.line, "duplicate", detail=why), specs[c.line]),
                    **{k: first[k] for k in ("frames", "path", "sha256", "crop_box")}})
    return out


def _unlisted(root: Path, rows: Sequence[Mapping[str, Any]]) -> List[str]:
    listed = {r["path"] for r in rows if r["path"]}
    out = []
    for part in ("train", "test"):
        folder = root / part
        if folder.is_dir():
            out += [f"{part}/{n}" for n in sorted(os.listdir(folder)) if not n.startswith(".")
                    and f"{part}/{n}" not in listed]
    return out


def _versions() -> Dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    libs = {}
    for dist in ("scikit-image", "imageio", "imageio-ffmpeg", "numpy"):
        try:
            libs[dist] = version(dist)
        except PackageNotFoundError:
            libs[dist] = None
    return {"motionbench_version": __version__, "libraries": libs}


def _progress(enabled: bool, total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="prepare", unit="chunk", disable=not enabled or total == 0)
