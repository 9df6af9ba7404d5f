"""Real-video datasets in the FOMM layout (taichi, vox, ted, mgif, or any folder).

    root/
      train/  <id>#<clip>.mp4 | .mov | .gif | <video>/ (folder of frames) | <video>.png (horizontal strip)
      test/   ...

Identity is the file-name prefix before ``#`` (FOMM ``id_sampling``). Frames are streamed through the
readers of :mod:`motionbench.data.readers`, resized (anti-aliased) to ``resolution`` and returned as float32
N×3×H×W in [0, 1]. Listing a split opens every video's header (and decodes mp4s once, for an exact frame
count that is cached), so bad files fail at the start of a run, not halfway through it.
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .base import DatasetError, Pair, VideoDataset, VideoRef
from .readers import GIF_EXTS, IMAGE_EXTS, VIDEO_EXTS, MetaCache, VideoReader, open_reader

__all__ = ["FOMMLayoutDataset", "LAYOUT_HELP", "parse_identity", "read_pairs_csv"]

LAYOUT_HELP = """Expected the FOMM layout:
  <root>/
    train/
      <id>#<clip>.mp4          (.mov, .gif also work)
      <id>#<clip>/             (a folder of frames: 0000000.png, 0000001.png, ...)
      <id>#<clip>.png          (a horizontal strip: frames side by side, each frame square)
    test/
      ...
The identity of a video is its name up to the first '#'. Point `dataset.root=...` at such a folder
(the dataset configs read $MOTIONBENCH_DATA, default ./data)."""

_KNOWN_EXTS = VIDEO_EXTS + GIF_EXTS + IMAGE_EXTS


def frames_to_tensor(frames: np.ndarray, resolution: int, crop: str = "center") -> Tensor:
    """N×H×W×3 (uint8 or float in [0,1]) -> float32 N×3×R×R in [0, 1], center-cropped and anti-aliased."""
    t = torch.from_numpy(np.ascontiguousarray(frames))
    t = (t.float() / 255.0 if frames.dtype == np.uint8 else t.float()).permute(0, 3, 1, 2)
    h, w = t.shape[-2:]
    if crop == "center" and h != w:
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        t = t[..., top:top + s, left:left + s]
    r = int(resolution)
    if t.shape[-2:] != (r, r):
        t = F.interpolate(t, size=(r, r), mode="bilinear", align_corners=False, antialias=True).clamp_(0, 1)
    return t.contiguous()


def parse_identity(name: str) -> str:
    """FOMM id: the file name up to the first ``#`` (the whole name, without extension, if there is none)."""
    return name.split("#", 1)[0] if "#" in name else _stem(name)


def _stem(name: str) -> str:
    return name[: -len(os.path.splitext(name)[1])] if name.lower().endswith(_KNOWN_EXTS) else name


def _default_cache_file() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "motionbench", "video_meta.json")


class FOMMLayoutDataset(VideoDataset):
    """Videos under ``root/{train,test}`` in any FOMM format, streamed and resized to ``resolution``.

    Args:
        root: dataset folder holding ``train/`` and ``test/``.
        resolution: output frames are ``resolution``×``resolution``.
        pairs_csv: FOMM pairs CSV (columns ``source``, ``driving``, optional ``frame``) for cross-identity;
            None -> the base class's seeded random pairing of different identities.
        id_sampling: identity = name prefix before ``#``; False -> every video is its own identity.
        max_frames: use at most the first ``max_frames`` frames of each video.
        crop: non-square frames: "center" crops the central square before resizing, "none" stretches.
        strict: an mp4 with decoder errors (truncated) is an error; False uses its decodable frames.
        skip_bad_videos: warn about and skip unreadable videos instead of failing on them.
        cache_dir: folder of the frame-count cache ("auto": $XDG_CACHE_HOME/motionbench; None: memory only).
        name: dataset name for results (default: the root folder's name).
    """

    def __init__(self, root: str, resolution: int = 256, pairs_csv: Optional[str] = None, id_sampling: bool = True,
                 max_frames: Optional[int] = None, crop: str = "center", strict: bool = True,
                 skip_bad_videos: bool = False, cache_dir: Optional[str] = "auto", name: Optional[str] = None) -> None:
        super().__init__(resolution=resolution)  # no **kwargs: a misspelt config key is an error, not ignored
        if self.resolution < 1:
            raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
        if crop not in ("center", "none"):
            raise ValueError(f"crop must be 'center' or 'none', got {crop!r}")
        if max_frames is not None and int(max_frames) < 1:
            raise ValueError(f"max_frames must be >= 1 or None, got {max_frames!r}")
        self.root = os.path.abspath(os.path.expanduser(str(root)))
        self.name = name or os.path.basename(self.root.rstrip(os.sep)) or "folder"
        self.pairs_csv = pairs_csv
        self.id_sampling = bool(id_sampling)
        self.max_frames = None if max_frames is None else int(max_frames)
        self.crop, self.strict, self.skip_bad_videos = crop, bool(strict), bool(skip_bad_videos)
        cache_file = _default_cache_file() if cache_dir == "auto" else (
            os.path.join(str(cache_dir), "video_meta.json") if cache_dir else None)
        self._meta = MetaCache(cache_file)
        self._videos: Dict[str, List[VideoRef]] = {}
        self._readers: Dict[str, VideoReader] = {}  # a few open readers (streams positioned mid-video)
        self._pid = os.getpid()

    # ------------------------------------------------------------------ listing
    def _split_dir(self, split: str) -> str:
        if not os.path.isdir(self.root):
            raise DatasetError(f"dataset root '{self.root}' not found (looked for '{os.path.join(self.root, split)}').\n"
                               + LAYOUT_HELP)
        path = os.path.join(self.root, split)
        if not os.path.isdir(path):
            have = sorted(n for n in os.listdir(self.root) if os.path.isdir(os.path.join(self.root, n)))
            raise DatasetError(f"split folder '{path}' not found (folders in the root: {have or 'none'}).\n" + LAYOUT_HELP)
        return path

    def videos(self, split: str) -> List[VideoRef]:
        if split in self._videos:
            return self._videos[split]
        folder = self._split_dir(split)
        entries = sorted(n for n in os.listdir(folder) if not n.startswith("."))
        names = [n for n in entries if os.path.isdir(os.path.join(folder, n)) or n.lower().endswith(_KNOWN_EXTS)]
        if not names:
            extra = f" (ignored: {entries[:5]})" if entries else ""
            raise DatasetError(f"split '{split}' of dataset '{self.name}' is empty: no videos in '{folder}'{extra}.\n"
                               + LAYOUT_HELP)

        def probe(n: str) -> Tuple[str, Optional[VideoReader], Optional[str]]:
            try:
                return n, open_reader(os.path.join(folder, n), cache=self._meta, strict=self.strict), None
            except DatasetError as e:
                return n, None, str(e)

        try:
            with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:  # ffmpeg runs out of process
                probed = list(pool.map(probe, names))
        finally:
            self._meta.flush()
        errors = [e for _, _, e in probed if e]
        if errors and not self.skip_bad_videos:
            more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
            raise DatasetError(f"{len(errors)} bad video(s) in '{folder}':\n  " + "\n  ".join(errors[:10]) + more
                               + "\n(set skip_bad_videos=true to skip them)")
        for e in errors:
            warnings.warn(f"skipping bad video: {e}", stacklevel=2)
        refs = []
        for n, reader, _ in probed:
            if reader is None:
                continue
            total = reader.num_frames if self.max_frames is None else min(reader.num_frames, self.max_frames)
            ident = parse_identity(n) if self.id_sampling else n
            refs.append(VideoRef(name=n, split=split, identity=ident, num_frames=total, path=reader.path))
            reader.close()
        if not refs:
            raise DatasetError(f"split '{split}' of dataset '{self.name}' has no readable videos in '{folder}'")
        self._videos[split] = refs
        return refs

    def videos_by_identity(self, split: str) -> Dict[str, List[VideoRef]]:
        """Videos grouped by identity (FOMM id_sampling draws one video per identity per epoch)."""
        out: Dict[str, List[VideoRef]] = {}
        for v in self.videos(split):
            out.setdefault(v.identity, []).append(v)
        return out

    # ------------------------------------------------------------------ reading
    def _reader(self, video: VideoRef) -> VideoReader:
        if os.getpid() != self._pid:  # forked DataLoader worker: never share ffmpeg pipes with the parent
            self._readers, self._pid = {}, os.getpid()
        if video.path is None:
            raise DatasetError(f"video '{video.name}' has no path; it does not belong to dataset '{self.name}'")
        reader = self._readers.pop(video.path, None)
        if reader is None:
            reader = open_reader(video.path, cache=self._meta, strict=self.strict)
        self._readers[video.path] = reader  # most recent last
        while len(self._readers) > 4:
            self._readers.pop(next(iter(self._readers))).close()
        return reader

    def _check_indices(self, video: VideoRef, indices: Sequence[int]) -> List[int]:
        idx = [int(i) for i in indices]
        bad = [i for i in idx if i < 0 or i >= video.num_frames]
        if bad:
            raise IndexError(f"frame {bad[0]} out of range for video '{video.path}' ({video.num_frames} frames)")
        return idx

    def read_frames(self, video: VideoRef, indices: Sequence[int]) -> Tensor:
        idx = self._check_indices(video, indices)
        if not idx:
            return torch.zeros(0, 3, self.resolution, self.resolution)
        return self._to_tensor(self._reader(video).read(idx))

    def iter_chunks(self, video: VideoRef, chunk: int = 16, max_frames: Optional[int] = None
                    ) -> Iterator[Tuple[List[int], Tensor]]:
        total = video.num_frames if max_frames is None else min(video.num_frames, max_frames)
        reader = self._reader(video)
        for idx, frames in reader.iter_chunks(chunk, stop=total):
            yield idx, self._to_tensor(frames)

    def _to_tensor(self, frames: np.ndarray) -> Tensor:
        return frames_to_tensor(frames, self.resolution, self.crop)

    def close(self) -> None:
        """Close open video streams."""
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def __getstate__(self) -> Dict[str, Any]:  # picklable for spawned DataLoader workers
        state = dict(self.__dict__)
        state["_readers"] = {}
        return state

    # ------------------------------------------------------------------ pairs
    def pairs(self, split: str = "test", num_pairs: Optional[int] = None, seed: int = 0,
              videos: Optional[Sequence[VideoRef]] = None) -> List[Pair]:
        if not self.pairs_csv:
            return super().pairs(split, num_pairs=num_pairs, seed=seed, videos=videos)
        out = read_pairs_csv(self._csv_path(), self.videos(split), split_dir=os.path.join(self.root, split))
        if videos is not None:  # rows among the selected videos only (benchmark.max_videos)
            names = {v.name for v in videos}
            out = [p for p in out if p.source in names and p.driving in names]
        if num_pairs is not None and num_pairs < len(out):
            keep = np.sort(np.random.default_rng(seed).choice(len(out), size=num_pairs, replace=False))
            out = [out[i] for i in keep]
        return out

    def _csv_path(self) -> str:
        p = os.path.expanduser(str(self.pairs_csv))
        candidates = [p] if os.path.isabs(p) else [os.path.abspath(p), os.path.join(self.root, p)]
        for c in candidates:
            if os.path.isfile(c):
                return c
        raise DatasetError(f"pairs CSV '{self.pairs_csv}' not found (looked for {candidates})")

    def describe(self) -> Dict[str, Any]:
        from ..prepare.report import dataset_manifest_info  # test_videos; manifest_sha256 of a prepared dataset

        return {"name": self.name, "type": "fomm_layout", "root": self.root, "resolution": self.resolution,
                "pairs_csv": self.pairs_csv, "id_sampling": self.id_sampling, "max_frames": self.max_frames,
                "crop": self.crop, **dataset_manifest_info(self.root)}


def read_pairs_csv(csv_path: str, videos: Sequence[VideoRef], split_dir: str = "") -> List[Pair]:
    """FOMM pairs CSV (``source``, ``driving``, optional ``frame``; other columns ignored) -> Pairs.

    Names match a video's name exactly, or by stem (``x.mp4`` in the CSV finds a frame folder ``x`` or a
    strip ``x.png``). Unlike FOMM, which silently drops rows naming absent videos, a missing video is an error.
    """
    import pandas as pd

    try:
        table = pd.read_csv(csv_path)
    except Exception as e:  # pandas raises several types for unreadable CSVs
        raise DatasetError(f"cannot read pairs CSV '{csv_path}': {e}") from e
    missing_cols = [c for c in ("source", "driving") if c not in table.columns]
    if missing_cols:
        raise DatasetError(f"pairs CSV '{csv_path}' lacks column(s) {missing_cols}; has {list(table.columns)}")
    by_name = {v.name: v for v in videos}
    by_stem: Dict[str, List[VideoRef]] = {}
    for v in videos:
        by_stem.setdefault(_stem(v.name), []).append(v)

    def find(name: str) -> Optional[VideoRef]:
        if name in by_name:
            return by_name[name]
        hits = by_stem.get(_stem(name), [])
        return hits[0] if len(hits) == 1 else None

    out, problems = [], []
    for i, row in enumerate(table.itertuples(index=False)):
        line = i + 2  # 1-based, after the header line
        src, drv = str(getattr(row, "source")), str(getattr(row, "driving"))
        frame = _frame_index(getattr(row, "frame")) if "frame" in table.columns else 0
        if frame is None:
            problems.append(f"row {line}: frame '{getattr(row, 'frame')}' is not a whole frame index")
            continue
        vs, vd = find(src), find(drv)
        for col, name, ref in (("source", src, vs), ("driving", drv, vd)):
            if ref is None:
                problems.append(f"row {line}: {col} video '{name}' is not in '{split_dir}'")
        if vs is not None and not 0 <= frame < vs.num_frames:
            problems.append(f"row {line}: frame {frame} is out of range for '{vs.name}' ({vs.num_frames} frames)")
        if vs is not None and vd is not None:
            out.append(Pair(vs.name, vd.name, frame))
    if problems:
        more = f"; ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise DatasetError(f"pairs CSV '{csv_path}' has bad rows: " + "; ".join(problems[:10]) + more)
    if not out:
        raise DatasetError(f"pairs CSV '{csv_path}' has no rows")
    return out


def _frame_index(value: Any) -> Optional[int]:
    """A pairs-CSV ``frame`` cell as an int; None for anything else (1.7, empty, text) -- never truncated."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() else None
