"""Streaming readers for the video formats of the FOMM layout.

A video is a folder of frames, an .mp4/.mov (any container ffmpeg reads), a .gif, or one horizontal
image strip (frames side by side, frame width = height; FOMM's png format). Readers return frames as
N×H×W×3 numpy arrays, uint8 or float32 in [0, 1] (16-bit images keep their range that way), and never
decode more than the frames asked for — except a strip, which is one image file and is decoded whole.

Conversions (not rejections): grayscale -> RGB; 16-bit -> scaled to [0, 1]; alpha (RGBA, LA, palette
with transparency) is composited over white, which equals FOMM's "drop the alpha channel" wherever the
image is opaque. Every problem raises :class:`DatasetError` naming the file.
"""
from __future__ import annotations

import abc
import json
import os
import re
import subprocess
import tempfile
import threading
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from .base import DatasetError

__all__ = ["VideoReader", "FrameFolderReader", "StripReader", "GifReader", "FFmpegReader", "open_reader",
           "load_image", "natural_key", "VIDEO_EXTS", "IMAGE_EXTS", "GIF_EXTS", "MetaCache"]

VIDEO_EXTS = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")
GIF_EXTS = (".gif",)
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def natural_key(name: str) -> List[object]:
    """Sort key that orders ``frame2.png`` before ``frame10.png`` (same as plain sort for zero-padded names)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _pil_to_array(im: Image.Image) -> np.ndarray:
    """Any PIL mode -> H×W×3, uint8 (8-bit sources) or float32 in [0, 1] (16-bit / float sources)."""
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im).astype(np.float32)
        a = a / (65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0)
        return np.repeat(np.clip(a, 0, 1)[..., None], 3, axis=-1)
    if mode == "F":
        a = np.clip(np.asarray(im, dtype=np.float32), 0, 1)
        return np.repeat(a[..., None], 3, axis=-1)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        out = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    if mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.uint8)


def load_image(path: str) -> np.ndarray:
    """Decode one image file to H×W×3 (see module docstring for the conversions)."""
    try:
        with Image.open(path) as im:
            im.load()
            return _pil_to_array(im)
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, ... on bad files
        raise DatasetError(f"cannot read image '{path}': {e}") from e


def image_size(path: str) -> Tuple[int, int]:
    """(height, width) from the image header only (no pixel decoding)."""
    if os.path.getsize(path) == 0:
        raise DatasetError(f"image '{path}' is empty (0 bytes)")
    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, ... on bad files
        raise DatasetError(f"cannot read image '{path}': {e}") from e


class VideoReader(abc.ABC):
    """One video on disk. ``num_frames`` and ``size`` (H, W) are known after construction (validated)."""

    path: str
    num_frames: int
    size: Tuple[int, int]

    @abc.abstractmethod
    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames ``indices`` (any order, repeats allowed) as N×H×W×3."""

    def iter_chunks(self, chunk: int, stop: Optional[int] = None) -> Iterator[Tuple[List[int], np.ndarray]]:
        """Frames [0, stop) in order, ``chunk`` at a time."""
        total = self.num_frames if stop is None else min(self.num_frames, stop)
        for start in range(0, total, chunk):
            idx = list(range(start, min(total, start + chunk)))
            yield idx, self.read(idx)

    def close(self) -> None:
        """Release decoders / subprocesses (readers can be reopened by reading again)."""

    def _check(self, indices: Sequence[int]) -> List[int]:
        idx = [int(i) for i in indices]
        bad = [i for i in idx if i < 0 or i >= self.num_frames]
        if bad:
            raise IndexError(f"frame {bad[0]} out of range for '{self.path}' ({self.num_frames} frames)")
        return idx


def _stack(frames: List[np.ndarray]) -> np.ndarray:
    if any(f.dtype != np.uint8 for f in frames):
        frames = [f if f.dtype != np.uint8 else f.astype(np.float32) / 255.0 for f in frames]
    return np.stack(frames)


class FrameFolderReader(VideoReader):
    """A folder of image files, one per frame, in natural name order; all frames must share one size."""

    def __init__(self, path: str, cache: Optional["MetaCache"] = None) -> None:
        self.path = path
        names = sorted((n for n in os.listdir(path) if not n.startswith(".") and n.lower().endswith(IMAGE_EXTS)
                        and os.path.isfile(os.path.join(path, n))), key=natural_key)
        if not names:
            raise DatasetError(f"frame folder '{path}' contains no image files ({', '.join(IMAGE_EXTS)})")
        self.files = [os.path.join(path, n) for n in names]
        hit = cache.get(path) if cache is not None else None  # keyed by the folder's mtime: any change re-checks
        if hit is not None and hit.get("frames") == len(self.files):
            self.size, self.num_frames = (int(hit["height"]), int(hit["width"])), len(self.files)
            return
        sizes = [image_size(f) for f in self.files]  # header reads only (~6k/s), and catches junk files early
        first = sizes[0]
        odd = [(f, s) for f, s in zip(self.files, sizes) if s != first]
        if odd:
            f, s = odd[0]
            raise DatasetError(
                f"frame folder '{path}' has mixed frame sizes: '{os.path.basename(self.files[0])}' is "
                f"{first[1]}x{first[0]} but '{os.path.basename(f)}' is {s[1]}x{s[0]} "
                f"({len(odd)} of {len(sizes)} frames differ); all frames of a video must have one size")
        self.size, self.num_frames = first, len(self.files)
        if cache is not None:
            cache.put(path, {"frames": self.num_frames, "height": first[0], "width": first[1]})

    def read(self, indices: Sequence[int]) -> np.ndarray:
        idx = self._check(indices)
        frames = [load_image(self.files[i]) for i in idx]
        for i, f in zip(idx, frames):
            if f.shape[:2] != self.size:
                raise DatasetError(f"frame '{self.files[i]}' is {f.shape[1]}x{f.shape[0]}, expected "
                                   f"{self.size[1]}x{self.size[0]}")
        return _stack(frames)


class StripReader(VideoReader):
    """One image holding the frames side by side (FOMM png format): width = num_frames × height."""

    def __init__(self, path: str, cache: Optional["MetaCache"] = None) -> None:
        self.path = path
        h, w = image_size(path)
        if h == 0 or w % h != 0:
            raise DatasetError(f"image strip '{path}' is {w}x{h}: its width must be a multiple of its height "
                               "(square frames side by side, FOMM's png format)")
        self.size, self.num_frames = (h, h), w // h
        if cache is not None and cache.get(path) is not None:
            return  # verified before, file unchanged
        try:  # chunk CRCs without decompressing: catches truncated / damaged PNGs at listing time
            with Image.open(path) as im:
                im.verify()
        except Exception as e:  # Pillow raises OSError, SyntaxError, struct.error, ... here
            raise DatasetError(f"image strip '{path}' is truncated or corrupt: {e}") from e
        if cache is not None:
            cache.put(path, {"frames": self.num_frames, "height": h, "width": h})

    def _decode(self) -> np.ndarray:
        a = load_image(self.path)
        if a.shape[1] != self.num_frames * self.size[0]:
            raise DatasetError(f"image strip '{self.path}' changed size while reading")
        return a

    def read(self, indices: Sequence[int]) -> np.ndarray:
        idx, h = self._check(indices), self.size[0]
        a = self._decode()
        return np.stack([a[:, i * h:(i + 1) * h] for i in idx])

    def iter_chunks(self, chunk: int, stop: Optional[int] = None) -> Iterator[Tuple[List[int], np.ndarray]]:
        a, h = self._decode(), self.size[0]  # one decode for the whole pass (a strip is one image file)
        total = self.num_frames if stop is None else min(self.num_frames, stop)
        for start in range(0, total, chunk):
            idx = list(range(start, min(total, start + chunk)))
            yield idx, np.stack([a[:, i * h:(i + 1) * h] for i in idx])


class GifReader(VideoReader):
    """An animated GIF, decoded frame by frame with Pillow (which applies the GIF disposal rules)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            with Image.open(path) as im:
                self.num_frames = int(getattr(im, "n_frames", 1))
                self.size = (im.size[1], im.size[0])
                for i in range(self.num_frames):  # one decoding pass (GIFs are small): catches truncation now
                    im.seek(i)
                    im.load()
        except Exception as e:  # Pillow's decoders raise many types (IndexError on some truncated GIFs)
            raise DatasetError(f"cannot read GIF '{path}' (truncated or corrupt?): {e}") from e
        if self.num_frames < 1:
            raise DatasetError(f"GIF '{path}' has no frames")
        self._im: Optional[Image.Image] = None  # kept open between reads: consecutive chunks decode once

    def read(self, indices: Sequence[int]) -> np.ndarray:
        idx = self._check(indices)
        out: Dict[int, np.ndarray] = {}
        try:
            if self._im is None:
                self._im = Image.open(self.path)
            for i in sorted(set(idx)):  # Pillow seeks forward frame by frame (backward restarts at 0)
                self._im.seek(i)
                out[i] = _pil_to_array(self._im)
        except Exception as e:  # see above
            self.close()
            raise DatasetError(f"cannot decode frame of GIF '{self.path}': {e}") from e
        return _stack([out[i] for i in idx])

    def close(self) -> None:
        if self._im is not None:
            self._im.close()
            self._im = None


# ------------------------------------------------------------------------------------------ ffmpeg
class MetaCache:
    """Frame counts / sizes of checked videos (ffmpeg files, frame folders), keyed by (real path, size,
    mtime), so that listing a dataset a second time is cheap. With ``path`` it is kept in a JSON file:
    :meth:`flush` merges this process's new entries into it and replaces it atomically."""

    VERSION = 1  # bump when the stored fields change

    def __init__(self, path: Optional[str] = None) -> None:
        self.path = path
        self._mem: Dict[str, dict] = self._load()
        self._new: Dict[str, dict] = {}
        self._lock = threading.Lock()

    def _load(self) -> Dict[str, dict]:
        if not self.path or not os.path.isfile(self.path):
            return {}
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            return dict(data) if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}  # a broken cache is only a cache

    def __getstate__(self) -> dict:  # picklable (DataLoader workers): the lock is per process
        return {"path": self.path, "_mem": dict(self._mem), "_new": {}}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @staticmethod
    def _key(path: str) -> Tuple[str, list]:
        st = os.stat(path)
        return os.path.realpath(path), [st.st_size, st.st_mtime_ns]

    def get(self, path: str) -> Optional[dict]:
        key, stamp = self._key(path)
        hit = self._mem.get(key)
        return hit if hit is not None and hit.get("stamp") == stamp and hit.get("v") == self.VERSION else None

    def put(self, path: str, meta: dict) -> None:
        key, stamp = self._key(path)
        with self._lock:
            self._mem[key] = self._new[key] = dict(meta, stamp=stamp, v=self.VERSION)

    def flush(self) -> None:
        """Write new entries to the cache file (no-op without a path or new entries; errors are ignored)."""
        with self._lock:
            if not self.path or not self._new:
                return
            try:
                merged = self._load()
                merged.update(self._new)
                folder = os.path.dirname(self.path) or "."
                os.makedirs(folder, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(merged, f)
                os.replace(tmp, self.path)  # atomic: readers never see a half-written file
                self._mem.update(merged)
                self._new.clear()
            except OSError:
                pass


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# Keep every decoded frame as it is: no frame duplication / dropping to a constant output rate.
_PASSTHROUGH = ["-fps_mode", "passthrough"]


class FFmpegReader(VideoReader):
    """.mp4/.mov/... decoded sequentially by an ffmpeg subprocess (imageio-ffmpeg).

    The frame count is exact: ffmpeg decodes the file once (cached in :class:`MetaCache`), and any decoder
    error in that pass (truncated or corrupt file) is a DatasetError. Reading keeps one ffmpeg stream open
    and moves forward through it, so consecutive chunks cost one decode of the video; asking for an
    earlier frame restarts the stream. A jump of more than ``seek_min_frames`` frames in a constant-rate
    video restarts ffmpeg at that frame (input ``-ss`` half a frame early, which is frame-accurate when
    decoding) instead of decoding everything before it. Frames are never all held in memory.
    """

    #: forward jumps shorter than this decode through (ffmpeg decodes ~1-2k frames/s at 256², a restart
    #: costs ~0.1-0.2 s); only constant-frame-rate videos are ever sought
    seek_min_frames: int = 250
    #: ffmpeg output options that decide which frames come out (counting and reading use the same)
    frame_rate_params: Sequence[str] = tuple(_PASSTHROUGH)

    def __init__(self, path: str, cache: Optional[MetaCache] = None, strict: bool = True) -> None:
        self.path = path
        if os.path.getsize(path) == 0:
            raise DatasetError(f"video '{path}' is empty (0 bytes)")
        meta = cache.get(path) if cache is not None else None
        if meta is None:
            meta = self._probe(path, strict, list(self.frame_rate_params))
            if cache is not None:
                cache.put(path, meta)
        self.num_frames, self.size = int(meta["frames"]), (int(meta["height"]), int(meta["width"]))
        self.fps, duration = float(meta.get("fps") or 0.0), float(meta.get("duration") or 0.0)
        self.constant_rate = self.fps > 0 and abs(self.num_frames - duration * self.fps) <= 1.0
        self._gen: Optional[Iterator[bytes]] = None
        self._pos, self._sought = 0, False
        self._last: Optional[Tuple[int, np.ndarray]] = None  # last frame decoded (re-asked for it, no restart)

    @staticmethod
    def _probe(path: str, strict: bool, frame_rate_params: Sequence[str] = tuple(_PASSTHROUGH)) -> dict:
        cmd = [_ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-progress", "pipe:1", "-nostats",
               "-i", path, "-map", "0:v:0", *frame_rate_params, "-f", "null", "-"]
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        err = " | ".join(line.strip() for line in r.stderr.strip().splitlines()[:3])
        frames = [int(m) for m in re.findall(r"^frame=(\d+)", r.stdout, flags=re.M)]
        if not frames:
            raise DatasetError(f"cannot open video '{path}' (truncated, corrupt or not a video): {err or 'no video stream'}")
        if frames[-1] == 0:
            raise DatasetError(f"video '{path}' has no decodable frames (truncated or corrupt?): {err or 'empty stream'}")
        if strict and (err or r.returncode != 0):
            raise DatasetError(f"video '{path}' is truncated or corrupt: ffmpeg reported '{err}' after "
                               f"{frames[-1]} decodable frames (pass strict=false to use those frames)")
        import imageio_ffmpeg

        gen = imageio_ffmpeg.read_frames(path, output_params=list(frame_rate_params))
        try:
            header = next(gen)
        finally:
            gen.close()
        w, h = header["size"]
        return {"frames": frames[-1], "width": int(w), "height": int(h), "fps": float(header.get("fps") or 0),
                "duration": float(header.get("duration") or 0)}

    def _restart(self, start: int = 0) -> None:
        import imageio_ffmpeg

        self.close()
        seek = ["-ss", f"{(start - 0.5) / self.fps:.6f}"] if start > 0 else []
        self._gen = imageio_ffmpeg.read_frames(self.path, input_params=seek, output_params=list(self.frame_rate_params))
        next(self._gen)  # header
        self._pos, self._sought = start, start > 0

    def _next(self) -> np.ndarray:
        assert self._gen is not None
        try:
            raw = next(self._gen)
        except StopIteration:
            self.close()
            how = " (after seeking: the video's timestamps are irregular)" if self._sought else ""
            raise DatasetError(f"video '{self.path}' ended after {self._pos} frames but {self.num_frames} were "
                               f"counted{how or ' (file changed or truncated?)'}") from None
        except RuntimeError as e:
            self.close()
            raise DatasetError(f"cannot decode frame {self._pos} of video '{self.path}': {e}") from e
        self._pos += 1
        h, w = self.size
        return np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        idx = self._check(indices)
        out: Dict[int, np.ndarray] = {}
        if self._last is not None and self._last[0] in idx:  # e.g. the source frame 0, then frames 0..15
            out[self._last[0]] = self._last[1]
        wanted = sorted(set(idx) - set(out))
        if wanted:
            first = wanted[0]
            jump = first - (self._pos if self._gen is not None and first >= self._pos else 0)
            if self.constant_rate and jump > self.seek_min_frames:
                self._restart(first)
            elif self._gen is None or first < self._pos:
                self._restart()
        for i in wanted:
            while self._pos < i:
                self._next()  # decoded and dropped: skipping costs time, not memory
            out[i] = self._next().copy()
        if wanted:
            self._last = (wanted[-1], out[wanted[-1]])  # the frame the stream stands after
        return np.stack([out[i] for i in idx])

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()  # terminates the ffmpeg subprocess
            self._gen = None
        self._pos, self._sought = 0, False

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


def open_reader(path: str, cache: Optional[MetaCache] = None, strict: bool = True) -> VideoReader:
    """The reader for ``path`` by its kind (a folder is a frame folder whatever its name, as in FOMM)."""
    if os.path.isdir(path):
        return FrameFolderReader(path, cache=cache)
    if not os.path.isfile(path):
        raise DatasetError(f"video '{path}' does not exist")
    low = path.lower()
    if os.path.getsize(path) == 0:
        raise DatasetError(f"video '{path}' is empty (0 bytes)")
    if low.endswith(VIDEO_EXTS):
        return FFmpegReader(path, cache=cache, strict=strict)
    if low.endswith(GIF_EXTS):
        return GifReader(path)
    if low.endswith(IMAGE_EXTS):
        return StripReader(path, cache=cache)
    raise DatasetError(f"'{path}' is not a supported video (folder of frames, {', '.join(VIDEO_EXTS + GIF_EXTS)}, "
                       f"or an image strip {', '.join(IMAGE_EXTS)})")
