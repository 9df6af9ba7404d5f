"""A video file written atomically and verified: frames stream into a temporary file, which is re-opened
and its frames counted before it is renamed into place (libx264 refuses an odd frame size; unchecked, that
leaves a 0-byte mp4 that looks written). Codecs that need even sizes get frames padded by one edge pixel,
with a warning that says so.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from .atomic import OutputError, atomic_output, check_output_file

log = logging.getLogger("motionbench")

__all__ = ["VIDEO_EXTENSIONS", "check_video_output", "count_frames", "VideoSink", "video_output"]

#: what imageio writes: ffmpeg containers (H.264 and friends need even sizes) and GIF
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif")
_EVEN_SIZE = (".mp4", ".mov", ".avi", ".mkv", ".webm")


def check_video_output(path, what: str = "animate.output") -> Path:
    """A writable video path with an extension imageio can write (refused before any work otherwise)."""
    out = check_output_file(path, what)
    if out.suffix.lower() not in VIDEO_EXTENSIONS:
        raise OutputError(f"{what}={path}: unsupported video extension '{out.suffix or '(none)'}'; "
                          f"use one of {', '.join(VIDEO_EXTENSIONS)}")
    return out


def count_frames(path: Path) -> int:
    """Decode the whole file and count its frames (metadata can lie about a truncated file)."""
    import imageio.v3 as iio

    return sum(1 for _ in iio.imiter(path))


class VideoSink:
    """Appends H×W×3 uint8 frames to an imageio writer, padding odd sizes for even-size codecs."""

    def __init__(self, writer, even: bool, target: Path) -> None:
        self.writer, self.even, self.target, self.frames = writer, even, target, 0
        self.padded: Optional[tuple] = None

    def append(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self.even and (h % 2 or w % 2):
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            if self.padded is None:
                self.padded = (w, h, frame.shape[1], frame.shape[0])
                log.warning("%s: the codec needs even frame sizes; %dx%d frames are padded to %dx%d (edge pixels "
                            "repeated)", self.target, *self.padded)
        self.writer.append_data(frame)
        self.frames += 1


@contextlib.contextmanager
def video_output(path, fps: float, what: str = "animate.output") -> Iterator[VideoSink]:
    """Yield a :class:`VideoSink`; on leaving, the temporary file is closed, fsynced, re-opened and its
    frame count checked against the frames appended, then renamed over ``path``. On any failure nothing
    is left behind."""
    import imageio.v2 as imageio

    path = check_video_output(path, what)
    even = path.suffix.lower() in _EVEN_SIZE
    sink: Optional[VideoSink] = None

    def verify(tmp: Path) -> None:
        try:
            n = count_frames(tmp)
        except Exception as exc:  # noqa: BLE001 - any decoder error means a broken file
            raise OutputError(f"{what}: the written video {path} cannot be decoded ({exc}); nothing was written") from exc
        if sink is None or n != sink.frames:
            raise OutputError(f"{what}: the written video {path} has {n} frames, expected "
                              f"{0 if sink is None else sink.frames} (codec or disk failure); nothing was written")

    with atomic_output(path, verify, what) as tmp:
        kwargs = {"fps": fps, "macro_block_size": 1} if even else {"duration": 1000.0 / fps, "loop": 0}
        writer = imageio.get_writer(str(tmp), **kwargs)
        try:
            sink = VideoSink(writer, even, path)
            yield sink
        finally:
            writer.close()
        if sink.frames == 0:
            raise OutputError(f"{what}: no frames to write to {path}")
