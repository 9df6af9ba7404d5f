"""Cut the chunks of one downloaded video: decode it once, in order, and stream each chunk's cropped and
resized frames into its output (:class:`~motionbench.prepare.output.ChunkOutput`).

Decoding goes through motionbench's ffmpeg reader with ffmpeg's constant-rate output (``-fps_mode cfr``):
what video-preprocessing's ``imageio.get_reader`` gets from ffmpeg's default for raw-video output, so that a
variable-frame-rate video yields the same frames (duplicated or dropped to the nominal rate) and frame ``i``
is the frame the official rule means. The video is decoded from its start without seeking, as the official
tool does; only the frames of pending chunks are kept, a block at a time.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..data.base import DatasetError
from ..data.readers import FFmpegReader
from .metadata import Chunk, chunk_frames, scale_box
from .output import ChunkOutput, resize_crop

__all__ = ["STATUSES", "ChunkResult", "VideoJob", "ConstantRateReader", "open_video", "extract_video"]

#: report statuses: written, or why a chunk is not in the dataset
STATUSES = ("written", "missing_video", "truncated", "unreadable", "empty_crop", "no_frames", "duplicate")
BLOCK = 32  # frames decoded per read


class ConstantRateReader(FFmpegReader):
    """An ffmpeg reader that outputs frames at the video's nominal constant rate (``-fps_mode cfr``) and never
    seeks (a seek would restart the constant-rate timeline elsewhere). Not for a shared :class:`MetaCache`:
    its frame counts of variable-rate videos differ from the pass-through reader's."""

    frame_rate_params = ("-fps_mode", "cfr")
    seek_min_frames = sys.maxsize


@dataclass
class VideoJob:
    """The pending chunks of one video (``path`` None: the video was not found)."""

    video_id: str
    path: Optional[str]
    chunks: List[Chunk]
    output: str
    fmt: str
    resolution: int


@dataclass
class ChunkResult:
    """What became of one chunk; ``path`` is relative to the dataset root, ``box`` is the crop in video pixels."""

    line: int
    status: str
    frames: int = 0
    path: str = ""
    sha256: str = ""
    box: str = ""
    detail: str = ""


def _message(error: Exception) -> str:
    """An error's text without ffmpeg's per-run object addresses (``[in#0 @ 0x55d1...]``): reports are reproducible."""
    return re.sub(r" @ 0x[0-9a-f]+", "", str(error))


def open_video(path: str) -> Tuple[FFmpegReader, List[str]]:
    """The reader for ``path`` and notes on how it is decoded; DatasetError when nothing can be decoded."""
    notes: List[str] = []
    try:
        reader: FFmpegReader = ConstantRateReader(path, strict=True)
    except DatasetError as strict_error:
        reader = ConstantRateReader(path, strict=False)  # raises when no frame at all is decodable
        notes.append(f"decoder errors: {_message(strict_error)}")
    if not reader.constant_rate:
        notes.append(f"variable frame rate: the container reports {reader.fps:g} fps, ffmpeg's constant-rate "
                     f"output has {reader.num_frames} frames (indexed as the official tool indexes them)")
    if reader.fps <= 0:
        reader.close()
        raise DatasetError(f"video '{path}' reports no frame rate; the chunk rule needs one")
    return reader, notes


def _plan(job: VideoJob, reader: FFmpegReader, notes: Sequence[str]):
    height, width = reader.size
    results: Dict[int, ChunkResult] = {}
    pending: List[Tuple[Chunk, range, Tuple[int, int, int, int]]] = []
    for c in job.chunks:
        idx = chunk_frames(c.start, c.end, reader.fps, c.ref_fps)
        box = scale_box(c.bbox, c.ref_width, c.ref_height, width, height)
        res = ChunkResult(c.line, "", box="-".join(map(str, box)), detail="; ".join([*c.notes, *notes]))
        video = f"{width}x{height} at {reader.fps:g} fps, {reader.num_frames} frames"
        if not idx:
            res.status = "no_frames"
            res.detail = _join(res.detail, f"no frame of the video ({video}) falls in [start, end) at {c.ref_fps:g} fps")
        elif box[2] <= box[0] or box[3] <= box[1]:
            res.status = "empty_crop"
            res.detail = _join(res.detail, f"bbox {'-'.join(map(str, c.bbox))} of {c.ref_width}x{c.ref_height} is "
                                            f"empty in the {width}x{height} video")
        elif idx.stop > reader.num_frames:
            res.status, res.frames = "truncated", max(0, reader.num_frames - idx.start)
            res.detail = _join(res.detail, f"needs frames {idx.start}-{idx.stop - 1}, the video ({video}) ends first")
        else:
            pending.append((c, idx, box))
        results[c.line] = res
    return results, sorted(pending, key=lambda p: (p[1].start, p[0].line))


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _segments(pending) -> List[Tuple[int, int]]:
    out: List[List[int]] = []
    for _, idx, _ in pending:
        if out and idx.start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], idx.stop)
        else:
            out.append([idx.start, idx.stop])
    return [(a, b) for a, b in out]


def extract_video(job: VideoJob) -> List[ChunkResult]:
    """Write every pending chunk of ``job``; one :class:`ChunkResult` per chunk, in ``job.chunks`` order."""
    if job.path is None:
        return [ChunkResult(c.line, "missing_video", detail=_join("; ".join(c.notes), f"no video file for "
                                                                   f"'{c.file_id}'")) for c in job.chunks]
    try:
        reader, notes = open_video(job.path)
    except DatasetError as e:
        return [ChunkResult(c.line, "unreadable", detail=_join("; ".join(c.notes), _message(e))) for c in job.chunks]
    try:
        results, pending = _plan(job, reader, notes)
        _write(job, reader, pending, results)
    finally:
        reader.close()
    return [results[c.line] for c in job.chunks]


def _write(job: VideoJob, reader: FFmpegReader, pending, results: Dict[int, ChunkResult]) -> None:
    root = Path(job.output)
    waiting = list(pending)  # sorted by first frame
    active: List[Tuple[Chunk, range, Tuple[int, int, int, int], ChunkOutput]] = []
    try:
        for seg_start, seg_stop in _segments(pending):
            for b in range(seg_start, seg_stop, BLOCK):
                block = list(range(b, min(seg_stop, b + BLOCK)))
                frames = reader.read(block)
                for i, frame in zip(block, frames):
                    while waiting and waiting[0][1].start == i:
                        c, idx, box = waiting.pop(0)
                        out = ChunkOutput(root / c.partition / c.name, job.fmt, reader.fps)
                        active.append((c, idx, box, out))
                    for c, idx, box, out in active:
                        out.append(resize_crop(frame, box, job.resolution))
                    for entry in [a for a in active if a[1].stop - 1 == i]:
                        c, idx, box, out = entry
                        active.remove(entry)
                        res = results[c.line]
                        res.frames, res.sha256 = out.commit()
                        res.status, res.path = "written", f"{c.partition}/{c.name}"
    except DatasetError as e:  # decoding failed part-way: every unfinished chunk is unreadable
        for c, idx, box, out in active:
            out.abort()
        for c, *_ in [*active, *waiting]:
            res = results[c.line]
            res.status, res.detail = "unreadable", _join(res.detail, f"decoding failed part-way: {_message(e)}")
    except BaseException:
        for *_, out in active:
            out.abort()
        raise

