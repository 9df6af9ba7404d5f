"""The official metadata CSV of AliaksandrSiarohin/video-preprocessing and its two rules.

Format (``taichi-metadata.csv``, ``vox-metadata.csv``, the TED-talks ``ted384-metadata.csv``)::

    video_id,start,end,bbox,fps,width,height,partition[,person_id]

``start`` / ``end`` are frame indices at the reference frame rate ``fps``; ``bbox`` is ``L-T-R-B`` in pixels
of the reference ``width`` × ``height``. The rules, as ``load_videos.py`` (function ``run``) applies them to
each decoded frame ``i`` of a video whose container reports ``fps`` frames per second:

* frame ``i`` belongs to a chunk when ``i * ref_fps >= start * fps and i * ref_fps < end * fps``
  (:func:`chunk_frames`, the same float comparisons);
* each box side is scaled as ``int(side / (ref_size / actual_size))`` (:func:`scale_box`); numpy slicing
  then clamps right/bottom to the frame. motionbench clamps all four sides to the frame.
* the reference fps, size, partition and person id of *every* chunk of a video are those of the video's
  first row; the chunk is named ``[person_id#]<video_id parts reversed, joined by #>#start#end.mp4`` with
  ``start`` / ``end`` zero-padded to 6 digits (:func:`official_name`); the video file is
  ``<video_id up to the first '#'>.mp4``.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ..data.base import DatasetError

__all__ = ["METADATA_COLUMNS", "OPTIONAL_COLUMNS", "Chunk", "read_metadata", "chunk_frames", "scale_box",
           "official_name", "Box"]

METADATA_COLUMNS = ("video_id", "start", "end", "bbox", "fps", "width", "height", "partition")
OPTIONAL_COLUMNS = ("person_id",)
PARTITIONS = ("train", "test")
Box = Tuple[int, int, int, int]


@dataclass(frozen=True)
class Chunk:
    """One metadata row, with the per-video values the official tool applies (its video's first row)."""

    line: int  # line in the CSV (the header is line 1)
    video_id: str
    start: int
    end: int
    bbox: Box  # L, T, R, B in reference pixels
    ref_fps: float
    ref_width: int
    ref_height: int
    partition: str  # the partition the chunk is written to (its video's first row's)
    person_id: Optional[str] = None
    notes: Tuple[str, ...] = field(default=(), compare=False)  # where this row's own values were overridden

    @property
    def file_id(self) -> str:
        """The video file's stem: the video id up to the first ``#``."""
        return self.video_id.split("#")[0]

    @property
    def name(self) -> str:
        return official_name(self.video_id, self.start, self.end, self.person_id)

    def spec(self) -> str:
        """Everything that defines this chunk's pixels (the report's key for skipping finished chunks)."""
        return (f"{self.file_id}|{self.partition}|{self.start}|{self.end}|{'-'.join(map(str, self.bbox))}|"
                f"{self.ref_fps!r}|{self.ref_width}x{self.ref_height}")


def official_name(video_id: str, start: int, end: int, person_id: Optional[str] = None) -> str:
    """``[person_id#]`` + the ``#``-separated parts of ``video_id`` in reverse order + ``#start#end.mp4``."""
    first = f"{person_id}#" if person_id else ""
    return f"{first}{'#'.join(video_id.split('#')[::-1])}#{str(start).zfill(6)}#{str(end).zfill(6)}.mp4"


def chunk_frames(start: int, end: int, fps: float, ref_fps: float) -> range:
    """Frame indices ``i`` of a video at ``fps`` with ``start*fps <= i*ref_fps < end*fps`` (the official test,
    evaluated with the same float products at the range's edges)."""
    lo, hi = start * fps, end * fps

    def first_at_or_above(bound: float) -> int:
        i = max(0, math.floor(bound / ref_fps) - 2)  # float error is far below 2 frames
        while i * ref_fps < bound:
            i += 1
        return i

    first = first_at_or_above(lo)
    stop = first_at_or_above(hi)  # the first i with i*ref_fps >= end*fps is excluded
    return range(first, max(first, stop))


def scale_box(bbox: Box, ref_width: int, ref_height: int, width: int, height: int) -> Box:
    """The reference box in a ``width`` × ``height`` frame: ``int(side / (ref / actual))``, clamped to the frame."""
    left, top, right, bot = bbox
    sx, sy = ref_width / width, ref_height / height
    left, right = int(left / sx), int(right / sx)
    top, bot = int(top / sy), int(bot / sy)
    return (min(max(left, 0), width), min(max(top, 0), height), min(max(right, 0), width), min(max(bot, 0), height))


def _parse_bbox(text: object) -> Optional[Box]:
    parts = str(text).strip().split("-")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    left, top, right, bot = map(int, parts)
    return left, top, right, bot


def _int_cell(value: object) -> Optional[int]:
    f = _float(value)
    return int(f) if f is not None and f.is_integer() else None


def read_metadata(path: str, source_hint: str = "") -> List[Chunk]:
    """Every row of a metadata CSV as a :class:`Chunk`; a file that does not match the format is refused with
    one :class:`DatasetError` naming the file, the expected columns and the bad rows (first ten)."""
    import pandas as pd

    hint = f" ({source_hint})" if source_hint else ""
    if not os.path.isfile(path):
        raise DatasetError(f"metadata CSV '{path}' not found{hint}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as e:  # pandas raises several types for unreadable CSVs
        raise DatasetError(f"cannot read metadata CSV '{path}': {e}") from e
    missing = [c for c in METADATA_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(
            f"metadata CSV '{path}' does not have the video-preprocessing columns: expected "
            f"{','.join(METADATA_COLUMNS)}[,person_id], found {','.join(map(str, table.columns)) or 'no header'} "
            f"(missing {', '.join(missing)}){hint}")
    if table.empty:
        raise DatasetError(f"metadata CSV '{path}' has a header but no rows")
    if len(table) > 1 and set(table["start"].str.strip()) == {"0"} and set(table["end"].str.strip()) == {"0"}:
        raise DatasetError(f"metadata CSV '{path}': every row has start = end = 0. This is the broken "
                           "ted-metadata.csv published with snap-research/articulated-animation; use the corrected "
                           "ted384-metadata.csv linked from issue #12 of that repository")
    rows, problems = _parse_rows(table)
    if problems:
        more = f"; ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise DatasetError(f"metadata CSV '{path}' has bad rows: " + "; ".join(problems[:10]) + more)
    return _apply_first_row_rule([r for r in rows if r is not None])


def _parse_rows(table) -> Tuple[List[Optional[tuple]], List[str]]:
    has_person = "person_id" in table.columns
    rows: List[Optional[tuple]] = []
    problems: List[str] = []
    for i, rec in enumerate(table.to_dict("records")):
        line = i + 2
        bad: List[str] = []
        vid = str(rec["video_id"]).strip()
        start, end = _int_cell(rec["start"]), _int_cell(rec["end"])
        box = _parse_bbox(rec["bbox"])
        fps, width, height = _float(rec["fps"]), _int_cell(rec["width"]), _int_cell(rec["height"])
        part = str(rec["partition"]).strip()
        if not vid:
            bad.append("empty video_id")
        if start is None or end is None or start < 0:
            bad.append(f"start/end '{rec['start']}'/'{rec['end']}' are not frame indices")
        elif end <= start:
            bad.append(f"end {end} <= start {start}")
        if box is None:
            bad.append(f"bbox '{rec['bbox']}' is not L-T-R-B (four non-negative integers)")
        if fps is None or fps <= 0:
            bad.append(f"fps '{rec['fps']}' is not a positive number")
        if width is None or height is None or width <= 0 or height <= 0:
            bad.append(f"width/height '{rec['width']}'/'{rec['height']}' are not positive integers")
        if part not in PARTITIONS:
            bad.append(f"partition '{part}' is not train or test")
        if bad:
            problems.append(f"line {line}: " + ", ".join(bad))
            rows.append(None)
            continue
        person = str(rec["person_id"]).strip() if has_person else None
        rows.append((line, start, end, vid, box, fps, width, height, part, person or None))
    return rows, problems


def _float(value: object) -> Optional[float]:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _apply_first_row_rule(rows: Sequence[tuple]) -> List[Chunk]:
    first: Dict[str, tuple] = {}
    for r in rows:
        first.setdefault(r[3], r)
    out = []
    for line, start, end, vid, box, fps, width, height, part, person in rows:
        f = first[vid]
        notes = []
        for what, own, used in (("partition", part, f[8]), ("person_id", person, f[9]), ("fps", fps, f[5]),
                                ("width", width, f[6]), ("height", height, f[7])):
            if own != used:
                notes.append(f"{what} {own!r} in this row, {used!r} used (every chunk of a video takes its first "
                             f"row's, line {f[0]}, as the official load_videos.py)")
        out.append(Chunk(line=line, video_id=vid, start=start, end=end, bbox=box, ref_fps=f[5], ref_width=f[6],
                         ref_height=f[7], partition=f[8], person_id=f[9], notes=tuple(notes)))
    return out
