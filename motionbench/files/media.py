"""What users hold -> what animators take: images and clips from files, PIL, numpy and uint8 tensors.

Inside motionbench images are float32 tensors in [0, 1] (sources B×3×H×W, clips B×T×3×H×W). This module is
the one place where anything else is converted, at the public door (:meth:`Animator.animate`,
:meth:`Animator.encode_source`) and in the public helpers :func:`load_image`, :func:`load_video`,
:func:`iter_video` and :func:`save_video`.

Accepted ("media"): a file path (image; for clips also a video, a GIF, a folder of frames or a FOMM image
strip), a PIL image, a numpy array (uint8, or float in [0, 1]) H×W×3 / T×H×W×3 / B×T×H×W×3, a uint8 tensor in
the same channels-last layout or torchvision's channels-first one (``read_image`` / ``read_video``
output), or a list of PIL images / arrays (a clip). Media are centre-cropped to a square and resized
(anti-aliased) to the working resolution. Float tensors are the inner contract and are taken as they are
(3×H×W / B×3×H×W sources, B×3×H×W frames / B×T×3×H×W clips). Everything else, NaN/Inf, and values outside
[0, 1] (floats in 0-255 are refused, not clamped) raise ``ValueError`` saying what was expected.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from ..data.readers import IMAGE_EXTS, _pil_to_array, load_image as _read_image, open_reader
from ..data.video import frames_to_tensor

__all__ = ["load_image", "load_video", "iter_video", "save_video", "image_grid", "save_png", "to_source", "to_clip", "is_media"]

PathLike = Union[str, os.PathLike]
_TOL = 1e-3  # float slack at the [0, 1] borders (resampling, float16 round-off); clamped away afterwards
EXPECTED = ("a float tensor in [0, 1] (source 3×H×W / B×3×H×W, driving B×3×H×W / B×T×3×H×W), a uint8 or "
            "[0, 1]-float array H×W×3 / T×H×W×3, a uint8 tensor (H×W×3 or 3×H×W layout), a PIL image, "
            "or a file path (image, video, GIF, frame folder)")


def _pil_types() -> tuple:
    from PIL import Image

    return (Image.Image,)


def is_media(x: Any) -> bool:
    """True for everything but float tensors (which are already in the inner format)."""
    return not (isinstance(x, Tensor) and x.is_floating_point())


def _check_values(t: Tensor, what: str) -> Tensor:
    if t.numel() == 0:
        raise ValueError(f"{what} is empty (shape {tuple(t.shape)})")
    if not torch.isfinite(t).all():
        raise ValueError(f"{what} contains NaN or Inf values; expected finite values in [0, 1]")
    lo, hi = float(t.min()), float(t.max())
    if hi > 1 + _TOL:
        hint = " (looks like 0-255: divide by 255, or pass uint8)" if hi <= 255 + _TOL else ""
        raise ValueError(f"{what} has values up to {hi:.4g}; expected floats in [0, 1]{hint}")
    if lo < -_TOL:
        hint = " (looks like [-1, 1]: use (x + 1) / 2)" if lo >= -1 - _TOL else ""
        raise ValueError(f"{what} has values down to {lo:.4g}; expected floats in [0, 1]{hint}")
    return t.clamp(0, 1) if (hi > 1 or lo < 0) else t


def _array_to_hwc_float(a: np.ndarray, what: str) -> np.ndarray:
    """numpy uint8 / float array, channels last -> float32 in [0, 1] (range-checked)."""
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if np.issubdtype(a.dtype, np.floating):
        out = _check_values(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)), what)
        return out.numpy()
    raise ValueError(f"{what}: numpy arrays must be uint8 (0-255) or float in [0, 1], got dtype {a.dtype}")


def _media_frames(x: Any, what: str, clip: bool) -> Tuple[np.ndarray, bool]:
    """Media other than video files -> (channels-last float32 frames ...×H×W×3, batched). ``batched`` is True
    for B×T×H×W×3 clips and B×H×W×3 source batches (arrays / tensors only)."""
    if isinstance(x, (str, os.PathLike)):
        path = str(x)
        if not os.path.exists(path):
            raise ValueError(f"{what}: file '{path}' does not exist")
        if os.path.isdir(path) or not path.lower().endswith(IMAGE_EXTS):
            raise ValueError(f"{what}: '{path}' is not an image file ({', '.join(IMAGE_EXTS)})")
        return _array_to_hwc_float(_read_image(path), what), False
    if isinstance(x, _pil_types()):
        return _array_to_hwc_float(_pil_to_array(x), what), False
    if isinstance(x, (list, tuple)) and x and clip:
        frames = [_media_frames(f, f"{what}[{i}]", clip=False)[0] for i, f in enumerate(x)]
        if len({f.shape for f in frames}) != 1:
            raise ValueError(f"{what}: frames of different sizes {sorted({f.shape for f in frames})}")
        return np.stack(frames), False
    if isinstance(x, Tensor) and x.dtype == torch.uint8:
        t = x.detach().cpu()
        if t.dim() >= 3 and t.shape[-1] != 3 and t.shape[-3] == 3:  # torchvision layout ...×3×H×W
            t = t.movedim(-3, -1)
        x = t.numpy()
    if isinstance(x, np.ndarray):
        if x.ndim < 3 or x.shape[-1] != 3:
            raise ValueError(f"{what}: arrays must be channels-last H×W×3 or T×H×W×3 (RGB), got shape {x.shape}")
        max_dim = 5 if clip else 4
        if x.ndim > max_dim:
            raise ValueError(f"{what}: array of shape {x.shape} has too many dimensions (at most {max_dim})")
        return _array_to_hwc_float(x, what), x.ndim == max_dim
    kind = f"tensor of dtype {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
    raise ValueError(f"{what}: cannot use a {kind}; expected {EXPECTED}")


def _resize(frames: np.ndarray, size: Optional[int]) -> Tensor:
    """N×H×W×3 float -> N×3×R×R (centre crop + anti-aliased resize; no resize when ``size`` is None)."""
    if size is None:
        return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous()
    return frames_to_tensor(frames, int(size))


def to_source(x: Any, size: Optional[int] = None, what: str = "source") -> Tuple[Tensor, bool]:
    """A source image -> (float tensor B×3×H×W (or B×N×3×H×W) in [0, 1], batched). Media are resized to
    ``size`` (None: kept square-cropped at their own size); float tensors are checked, not resized."""
    if not is_media(x):
        if x.dim() == 3:
            return _check_values(x, what).unsqueeze(0), False
        if x.dim() in (4, 5):
            return _check_values(x, what), True
        raise ValueError(f"{what}: float tensors must be 3×H×W or B×3×H×W, got shape {tuple(x.shape)}")
    frames, batched = _media_frames(x, what, clip=False)
    if frames.ndim == 3:
        frames = frames[None]
    if size is None:
        size = min(frames.shape[1:3])
    return _resize(frames, size), batched


def to_clip(x: Any, size: Optional[int] = None, what: str = "driving") -> Tuple[Tensor, bool, bool]:
    """A driving clip -> (float tensor B×T×3×H×W in [0, 1], single_frame, batched)."""
    if not is_media(x):
        if x.dim() == 4:
            return _check_values(x, what).unsqueeze(1), True, True
        if x.dim() == 5:
            return _check_values(x, what), False, True
        raise ValueError(f"{what}: float tensors must be B×3×H×W or B×T×3×H×W, got shape {tuple(x.shape)}")
    if isinstance(x, (str, os.PathLike)):  # decoded and resized chunk by chunk: only the resized clip is held
        if not os.path.exists(x):
            raise ValueError(f"{what}: file '{x}' does not exist")
        if size is None:
            reader = open_reader(str(x))
            size = min(reader.size)
            reader.close()
        return load_video(x, size).unsqueeze(0), False, False
    frames, batched = _media_frames(x, what, clip=True)
    single = frames.ndim == 3
    if single:
        frames = frames[None]
    if size is None:
        size = min(frames.shape[-3:-1])
    if batched:
        b, t = frames.shape[:2]
        out = _resize(frames.reshape(b * t, *frames.shape[2:]), size)
        return out.view(b, t, *out.shape[1:]), False, True
    return _resize(frames, size).unsqueeze(0), single, False


# ---------------------------------------------------------------------------------------- public helpers
def load_image(path: PathLike, size: Optional[int] = None) -> Tensor:
    """An image file -> float32 3×H×W in [0, 1]; with ``size``, centre-cropped and resized to size×size."""
    return _resize(_array_to_hwc_float(_read_image(str(path)), f"image '{path}'")[None], size)[0]


def iter_video(path: PathLike, chunk: int = 16, size: Optional[int] = None, max_frames: Optional[int] = None
               ) -> Iterator[Tensor]:
    """Stream a video as float32 chunks of ≤ ``chunk`` frames, T×3×H×W in [0, 1] (resized to ``size`` if given):
    a long clip is never held in memory whole."""
    reader = open_reader(str(path))
    try:
        for _, frames in reader.iter_chunks(int(chunk), stop=max_frames):
            yield _resize(_array_to_hwc_float(frames, f"video '{path}'"), size)
    finally:
        reader.close()


def load_video(path: PathLike, size: Optional[int] = None, max_frames: Optional[int] = None) -> Tensor:
    """A whole video -> float32 T×3×H×W in [0, 1] (see :func:`iter_video` for long clips)."""
    return torch.cat(list(iter_video(path, 64, size, max_frames)), 0)


def _to_uint8_frames(frames: Any) -> np.ndarray:
    """T×3×H×W / 3×H×W float tensor in [0, 1] or T×H×W×3 uint8 array -> T×H×W×3 uint8."""
    if isinstance(frames, Tensor) and frames.is_floating_point():
        t = frames.detach().float().cpu()
        if t.dim() == 3:
            t = t[None]
        if t.dim() != 4 or t.shape[1] != 3:
            raise ValueError(f"save_video: float tensors must be T×3×H×W, got shape {tuple(frames.shape)}")
        return (t.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
    a, _ = _media_frames(frames, "save_video frames", clip=True)
    a = a[None] if a.ndim == 3 else a
    return (a * 255 + 0.5).astype(np.uint8)


def save_video(frames: Union[Tensor, np.ndarray, Iterable[Any]], path: PathLike, fps: float = 25.0) -> Path:
    """Write a video (any container imageio-ffmpeg writes, or .gif). ``frames`` is a T×3×H×W float tensor in
    [0, 1], a T×H×W×3 uint8 array, or an iterable of such chunks (streamed: written as they come, so a long
    animation never sits in memory). The file appears only when complete and verified
    (:func:`motionbench.files.video_out.video_output`: temporary file, fsync, re-opened and its frames counted);
    H.264 and friends need even sizes, so odd ones get one edge row/column repeated (with a warning)."""
    from .video_out import video_output

    if fps <= 0:
        raise ValueError(f"save_video: fps must be > 0, got {fps}")
    chunks = [frames] if isinstance(frames, (Tensor, np.ndarray)) else frames
    with video_output(path, fps, what="save_video") as sink:
        for chunk in chunks:
            for frame in _to_uint8_frames(chunk):
                sink.append(frame)
        if sink.frames == 0:
            raise ValueError(f"save_video: no frames to write to {path}")
    return Path(path)


def image_grid(rows: List[List[Tensor]], pad: int = 2) -> np.ndarray:
    """Rows of 3×H×W images in [0,1] -> one H×W×3 uint8 grid with white padding."""
    h, w = rows[0][0].shape[-2:]
    ncol = max(len(r) for r in rows)
    grid = np.ones((len(rows) * (h + pad) + pad, ncol * (w + pad) + pad, 3), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y:y + h, x:x + w] = img.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return (grid * 255 + 0.5).astype(np.uint8)


def save_png(array: np.ndarray, path: Path) -> Path:
    """Write a PNG atomically; the written file is decoded again and its shape checked."""
    import imageio.v3 as iio

    from .atomic import OutputError, atomic_output

    def verify(tmp: Path) -> None:
        if iio.imread(tmp).shape != array.shape:
            raise OutputError(f"image {path}: written file does not decode to a {array.shape} image")

    with atomic_output(Path(path), verify, what="image") as tmp:
        iio.imwrite(tmp, array, extension=".png")
    return path
