"""One prepared chunk on disk: an H.264 mp4 (yuv420p, what motionbench's reader reads back) or a folder of
PNG frames (``0000000.png``, ``0000001.png``, ... as video-preprocessing's ``util.save`` names them).

Both are written atomically (:func:`motionbench.files.video_out.video_output`, :func:`motionbench.files.atomic.atomic_folder`):
frames stream into a temporary file / folder that is verified (frames decoded again and counted) and only then
renamed into place, so an interrupted run leaves no half chunk. A folder chunk keeps the official name, ``.mp4``
suffix included (FOMM's training loader globs ``<id>*.mp4`` whatever the format).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from ..files.atomic import OutputError, atomic_folder
from ..hub.weights import sha256_of
from ..files.video_out import video_output

__all__ = ["FORMATS", "ChunkOutput", "output_digest", "resize_crop"]

FORMATS = ("mp4", "png")


def resize_crop(frame: np.ndarray, box: Tuple[int, int, int, int], resolution: int) -> np.ndarray:
    """``frame[top:bot, left:right]`` resized to ``resolution``² as video-preprocessing does it:
    ``skimage.transform.resize(crop, shape, anti_aliasing=True)`` (bilinear, Gaussian pre-filter of
    sigma ``(scale - 1) / 2``), then ``img_as_ubyte``."""
    from skimage import img_as_ubyte
    from skimage.transform import resize

    left, top, right, bot = box
    crop = frame[top:bot, left:right]
    if crop.shape[:2] == (resolution, resolution):
        return np.ascontiguousarray(crop)
    return img_as_ubyte(resize(crop, (resolution, resolution), anti_aliasing=True))


def output_digest(path: os.PathLike) -> Optional[str]:
    """sha256 of a chunk: of the file, or for a frame folder of the lines ``<frame name> <sha256>\\n`` in name
    order. None when ``path`` does not exist."""
    path = Path(path)
    if path.is_file():
        return sha256_of(path)
    if not path.is_dir():
        return None
    h = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        h.update(f"{name} {sha256_of(path / name)}\n".encode())
    return h.hexdigest()


def _check_png_folder(folder: Path, expected: int, shape: Tuple[int, int, int]) -> None:
    """Decode every frame again with motionbench's frame-folder reader and check count and size."""
    from ..data.readers import FrameFolderReader

    reader = FrameFolderReader(str(folder))
    decoded = reader.read(range(reader.num_frames)) if reader.num_frames == expected else None
    if decoded is None or decoded.shape[1:] != tuple(shape):
        raise OutputError(f"frame folder {folder} reads back as {reader.num_frames} frames of "
                          f"{reader.size[1]}x{reader.size[0]}, expected {expected} of {shape[1]}x{shape[0]}")


class ChunkOutput:
    """Frames appended one at a time to ``path``; :meth:`commit` renames the verified result into place and
    returns ``(frames, sha256)``, :meth:`abort` discards it. Used as a context manager it aborts on error."""

    def __init__(self, path: Path, fmt: str, fps: float) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
        self.path, self.fmt, self.frames = Path(path), fmt, 0
        self._stack = contextlib.ExitStack()
        self._shape: Optional[Tuple[int, int, int]] = None
        if fmt == "mp4":
            self._sink = self._stack.enter_context(video_output(self.path, fps, what=f"chunk {self.path.name}"))
        else:
            self._folder = self._stack.enter_context(atomic_folder(self.path, self._verify_folder,
                                                                   what=f"chunk {self.path.name}"))

    def _verify_folder(self, tmp: Path) -> None:
        _check_png_folder(tmp, self.frames, self._shape or (0, 0, 3))

    def append(self, frame: np.ndarray) -> None:
        if self.fmt == "mp4":
            self._sink.append(frame)
        else:
            from PIL import Image

            Image.fromarray(frame).save(self._folder / f"{self.frames:07d}.png")
        self._shape = frame.shape
        self.frames += 1

    def commit(self) -> Tuple[int, str]:
        self._stack.close()  # verify + rename into place
        digest = output_digest(self.path)
        assert digest is not None
        return self.frames, digest

    def abort(self) -> None:
        exc = OutputError(f"chunk {self.path.name} aborted")
        self._stack.__exit__(type(exc), exc, None)  # the writers remove their temporary file / folder

    def __enter__(self) -> "ChunkOutput":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
