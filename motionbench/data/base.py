"""Dataset interface shared by the synthetic renderer and the real-video (FOMM layout) datasets.

A dataset is a set of videos per split. Frames are streamed: nothing needs a whole video in memory.
Frames leave the dataset as float32 tensors in [0, 1], shape N×3×H×W, at the configured resolution.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["VideoRef", "Pair", "VideoDataset", "DatasetError"]


class DatasetError(ValueError):
    """Bad or missing data; the message names the file or folder and the problem."""


@dataclass(frozen=True)
class VideoRef:
    """One video of a split. ``identity`` is the FOMM id (file-name prefix before ``#``)."""

    name: str
    split: str
    identity: str
    num_frames: int
    path: Optional[str] = None  # file or folder on disk (None for rendered videos)


@dataclass(frozen=True)
class Pair:
    """A cross-identity pair: the source image is frame ``source_frame`` of ``source``; ``driving`` drives."""

    source: str
    driving: str
    source_frame: int = 0


class VideoDataset(abc.ABC):
    """Base class of datasets. Subclasses implement :meth:`videos` and :meth:`read_frames`."""

    name: str = "dataset"
    #: True when the dataset can render ground truth for cross-identity animation (synthetic only)
    has_ground_truth: bool = False

    def __init__(self, resolution: int = 64, **kwargs: Any) -> None:
        self.resolution = int(resolution)

    # ------------------------------------------------------------------ required
    @abc.abstractmethod
    def videos(self, split: str) -> List[VideoRef]:
        """Videos of ``split`` ("train" or "test"); raises DatasetError when the split is empty/missing."""

    @abc.abstractmethod
    def read_frames(self, video: VideoRef, indices: Sequence[int]) -> Tensor:
        """Frames ``indices`` of ``video`` as float32 N×3×H×W in [0, 1] at ``resolution``."""

    # ------------------------------------------------------------------ provided
    def iter_chunks(self, video: VideoRef, chunk: int = 16, max_frames: Optional[int] = None) -> Iterator[Tuple[List[int], Tensor]]:
        """Stream a video in chunks of frames: yields (indices, N×3×H×W)."""
        total = video.num_frames if max_frames is None else min(video.num_frames, max_frames)
        for start in range(0, total, chunk):
            idx = list(range(start, min(total, start + chunk)))
            yield idx, self.read_frames(video, idx)

    def video(self, split: str, name: str) -> VideoRef:
        for v in self.videos(split):
            if v.name == name:
                return v
        raise DatasetError(f"{self.name}: no video named '{name}' in split '{split}'")

    def pairs(self, split: str = "test", num_pairs: Optional[int] = None, seed: int = 0,
              videos: Optional[Sequence[VideoRef]] = None) -> List[Pair]:
        """Cross-identity pairs among ``videos`` (default: the whole split). Default: a seeded random
        pairing of videos with different identities."""
        vids = self.videos(split) if videos is None else list(videos)
        rng = np.random.default_rng(seed)
        out: List[Pair] = []
        if len({v.identity for v in vids}) < 2:
            return out
        order = rng.permutation(len(vids))
        for i in order:
            others = [j for j in range(len(vids)) if vids[j].identity != vids[i].identity]
            j = others[int(rng.integers(len(others)))]
            out.append(Pair(vids[i].name, vids[j].name, 0))
            if num_pairs is not None and len(out) >= num_pairs:
                break
        return out

    # ------------------------------------------------------------------ ground truth (synthetic)
    def keypoints(self, video: VideoRef, indices: Sequence[int]) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """Ground-truth keypoints in pixels (N×K×2, x then y) and visibility (N×K bool), if known."""
        return None

    def figure_masks(self, video: VideoRef, indices: Sequence[int]) -> Optional[np.ndarray]:
        """How much of each pixel the figure covers (N×H×W float32 in [0, 1]), if known (synthetic)."""
        return None

    def cross_figure_masks(self, pair: Pair, indices: Sequence[int], mode: str = "relative") -> Optional[np.ndarray]:
        """Figure masks of :meth:`render_cross`'s frames, if known."""
        return None

    def render_cross(self, pair: Pair, indices: Sequence[int], mode: str = "relative") -> Tensor:
        """Ground truth for cross-identity animation: the source identity in the driving poses."""
        raise NotImplementedError(f"dataset '{self.name}' has no cross-identity ground truth")

    def cross_keypoints(self, pair: Pair, indices: Sequence[int], mode: str = "relative") -> Tuple[np.ndarray, np.ndarray]:
        """Ground-truth keypoints (pixels, N×K×2) and visibility (N×K) of :meth:`render_cross`'s frames."""
        raise NotImplementedError(f"dataset '{self.name}' has no cross-identity ground truth")

    def describe(self) -> Dict[str, Any]:
        """Settings recorded in results.json."""
        return {"name": self.name, "resolution": self.resolution}


def to_float_tensor(frames: np.ndarray) -> Tensor:
    """N×H×W×3 uint8 (or float in [0,1]) -> float32 N×3×H×W in [0, 1]."""
    arr = np.asarray(frames)
    t = torch.from_numpy(np.ascontiguousarray(arr))
    t = t.float() / 255.0 if arr.dtype == np.uint8 else t.float()
    return t.permute(0, 3, 1, 2).contiguous()
