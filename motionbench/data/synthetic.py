"""The built-in ``synthetic`` dataset: seeded procedural puppets with exact keypoints and cross-identity GT.

Identities (proportions, clothes, background) and motions (smooth joint-angle / root trajectories) are
drawn from ``numpy`` generators seeded by (seed, split, identity, video), so the same seed gives the same
arrays on any machine and the train and test identities never coincide. Frames are rendered on demand;
only small things (identity and motion parameters, a few backgrounds, the last renders) are cached.

Cross-identity ground truth: :meth:`SyntheticDataset.render_cross` draws the source video's identity in
the driving video's poses, ``absolute`` (the driving pose parameters as they are) or ``relative`` (the
source frame's pose plus the driving pose's change since the driving video's frame 0, in parameter space:
root position, rotation, log-scale and joint angles).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from torch import Tensor

from .base import DatasetError, Pair, VideoDataset, VideoRef, to_float_tensor
from .markers import KEYPOINT_NAMES, MARKER_RADIUS, NUM_KEYPOINTS
from .puppet import POSE_NAMES, Identity, Motion, motion_poses, sample_identity, sample_motion
from .puppet_draw import background, render

__all__ = ["SyntheticDataset"]

_SPLITS = {"train": 1, "test": 2}
_BG_CACHE_BYTES = 64 << 20  # backgrounds kept per dataset (all 256 train identities at 64², ~80 at 256²)
PerSplit = Union[int, Mapping[str, int]]


def _per_split(value: Optional[PerSplit], default: Dict[str, int], what: str) -> Dict[str, int]:
    """An int (same for every split) or a {split: int} mapping -> {split: int}, validated."""
    out = dict(default)
    if isinstance(value, Mapping):
        unknown = set(value) - set(_SPLITS)
        if unknown:
            raise ValueError(f"synthetic: {what} has unknown split(s) {sorted(unknown)}; splits are {list(_SPLITS)}")
        out.update({str(k): v for k, v in value.items()})
    elif value is not None:
        out = {k: value for k in _SPLITS}
    for k, v in out.items():
        if isinstance(v, bool) or int(v) != v or v < 0:
            raise ValueError(f"synthetic: {what}[{k}] must be a non-negative integer, got {v!r}")
        out[k] = int(v)
    return out


class SyntheticDataset(VideoDataset):
    """Articulated 2D puppets; see the module docstring.

    Args:
        resolution: frame size in pixels (square; 64 default, 128 and 256 supported).
        seed: everything (identities, motions, pairs) derives from it.
        identities, videos_per_identity, frames_per_video: per split, an int or ``{"train": .., "test": ..}``.
        figure_height: standing height of a puppet as a fraction of the frame height.
        motion_scale: multiplies the amplitude of rotation, scale and joint-angle motion.
        speed: multiplies the angular speed of every trajectory (periods are 18-64 frames at 1.0).
        markers: draw the coloured joint markers (False: plain puppets, same keypoints).
        num_pairs: cross-identity pairs per split (None: one per video).
    """

    name = "synthetic"
    has_ground_truth = True
    version = "puppets-v1"
    keypoint_names: Tuple[str, ...] = KEYPOINT_NAMES
    num_keypoints: int = NUM_KEYPOINTS
    pose_names: Tuple[str, ...] = POSE_NAMES

    def __init__(self, resolution: int = 64, seed: int = 0, identities: Optional[PerSplit] = None,
                 videos_per_identity: Optional[PerSplit] = None, frames_per_video: Optional[PerSplit] = None,
                 figure_height: float = 0.8, motion_scale: float = 1.0, speed: float = 1.0, markers: bool = True,
                 num_pairs: Optional[int] = None) -> None:
        if isinstance(resolution, bool) or int(resolution) != resolution or not 16 <= int(resolution) <= 1024:
            raise ValueError(f"synthetic: resolution must be an integer in [16, 1024], got {resolution!r}")
        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise ValueError(f"synthetic: seed must be a non-negative integer, got {seed!r}")
        super().__init__(resolution=int(resolution))
        self.seed = int(seed)
        self.identities = _per_split(identities, {"train": 256, "test": 8}, "identities")
        self.videos_per_identity = _per_split(videos_per_identity, {"train": 4, "test": 1}, "videos_per_identity")
        self.frames_per_video = _per_split(frames_per_video, {"train": 64, "test": 32}, "frames_per_video")
        if not 0.1 <= float(figure_height) <= 1.2:
            raise ValueError(f"synthetic: figure_height must be in [0.1, 1.2], got {figure_height!r}")
        self.figure_height = float(figure_height)
        self.motion_scale = float(motion_scale)
        self.speed = float(speed)
        self.markers = bool(markers)
        self.num_pairs = None if num_pairs is None else int(num_pairs)
        self._identity_cache: Dict[Tuple[str, int], Identity] = {}
        self._motion_cache: Dict[Tuple[str, int, int], Motion] = {}
        self._bg_cache: "OrderedDict[Tuple[str, int], np.ndarray]" = OrderedDict()
        self._render_cache: "OrderedDict[tuple, tuple]" = OrderedDict()

    # ------------------------------------------------------------------ videos
    def videos(self, split: str) -> List[VideoRef]:
        if split not in _SPLITS:
            raise DatasetError(f"synthetic: unknown split '{split}'; splits are {list(_SPLITS)}")
        n_id, n_vid, n_fr = self.identities[split], self.videos_per_identity[split], self.frames_per_video[split]
        if n_id * n_vid * n_fr == 0:
            raise DatasetError(f"synthetic: split '{split}' is empty (identities={n_id}, videos_per_identity={n_vid},"
                               f" frames_per_video={n_fr})")
        return [VideoRef(f"{split}_{i:04d}#{v:02d}", split, f"{split}_{i:04d}", n_fr)
                for i in range(n_id) for v in range(n_vid)]

    def _ref(self, name: str) -> VideoRef:
        """VideoRef of a video name (``<split>_<identity>#<video>``), validated."""
        try:
            ident, vid = name.split("#")
            split, idx = ident.rsplit("_", 1)
            i, v = int(idx), int(vid)
        except ValueError:
            raise DatasetError(f"synthetic: '{name}' is not a synthetic video name (like 'test_0003#00')") from None
        if split not in _SPLITS or not (0 <= i < self.identities[split] and 0 <= v < self.videos_per_identity[split]):
            raise DatasetError(f"synthetic: no video '{name}' (split sizes: identities={self.identities}, "
                               f"videos_per_identity={self.videos_per_identity})")
        return VideoRef(name, split, ident, self.frames_per_video[split])

    def _identity(self, split: str, i: int) -> Identity:
        key = (split, i)
        if key not in self._identity_cache:
            self._identity_cache[key] = sample_identity(np.random.default_rng([self.seed, _SPLITS[split], i, 0]))
        return self._identity_cache[key]

    def _motion(self, split: str, i: int, v: int) -> Motion:
        key = (split, i, v)
        if key not in self._motion_cache:
            rng = np.random.default_rng([self.seed, _SPLITS[split], i, 1, v])
            self._motion_cache[key] = sample_motion(rng, speed=self.speed)
        return self._motion_cache[key]

    def _split_ids(self, video: Union[VideoRef, str]) -> Tuple[str, int, int]:
        name = video if isinstance(video, str) else video.name
        ref = self._ref(name)
        return ref.split, int(ref.identity.rsplit("_", 1)[1]), int(name.split("#")[1])

    def _indices(self, video: Union[VideoRef, str], indices: Sequence[int]) -> np.ndarray:
        ref = self._ref(video if isinstance(video, str) else video.name)
        idx = np.asarray(list(indices), np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= ref.num_frames):
            raise DatasetError(f"synthetic: frame indices {idx.tolist()} out of range for '{ref.name}' "
                               f"({ref.num_frames} frames)")
        return idx

    def poses(self, video: Union[VideoRef, str], indices: Sequence[int]) -> np.ndarray:
        """Pose parameters (N×P float64, columns :attr:`pose_names`) of frames ``indices``."""
        split, i, v = self._split_ids(video)
        return motion_poses(self._identity(split, i), self._motion(split, i, v), self._indices(video, indices),
                            self.figure_height, self.motion_scale)

    # ------------------------------------------------------------------ rendering
    def _background(self, split: str, i: int) -> np.ndarray:
        key = (split, i)
        if key not in self._bg_cache:
            self._bg_cache[key] = background(self._identity(split, i), self.resolution)
            while len(self._bg_cache) > max(4, _BG_CACHE_BYTES // self._bg_cache[key].nbytes):
                self._bg_cache.popitem(last=False)
        self._bg_cache.move_to_end(key)
        return self._bg_cache[key]

    def _render(self, key: tuple, split: str, i: int, pose: np.ndarray, with_image: bool):
        """(frames or None, keypoints, visibility, figure masks or None); the last few results are cached."""
        hit = self._render_cache.get(key)
        if hit is not None and (hit[0] is not None or not with_image):
            self._render_cache.move_to_end(key)
            return hit
        ident = self._identity(split, i)
        bg = self._background(split, i) if with_image else None
        out = render(ident, pose, self.resolution, self.figure_height, bg=bg, markers=self.markers,
                     with_image=with_image)
        self._render_cache[key] = out
        while len(self._render_cache) > 4:
            self._render_cache.popitem(last=False)
        return out

    def read_frames(self, video: VideoRef, indices: Sequence[int]) -> Tensor:
        split, i, v = self._split_ids(video)
        idx = self._indices(video, indices)
        frames = self._render(("video", video.name, idx.tobytes()), split, i, self.poses(video, idx), True)[0]
        return to_float_tensor(frames)

    def figure_masks(self, video: VideoRef, indices: Sequence[int]) -> np.ndarray:
        split, i, v = self._split_ids(video)
        idx = self._indices(video, indices)
        return self._render(("video", video.name, idx.tobytes()), split, i, self.poses(video, idx), True)[3].copy()

    def keypoints(self, video: VideoRef, indices: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
        """Ground-truth keypoints (N×K×2 float32 pixels, x then y) and visibility (N×K bool)."""
        split, i, v = self._split_ids(video)
        idx = self._indices(video, indices)
        _, kp, vis, _ = self._render(("video", video.name, idx.tobytes()), split, i, self.poses(video, idx), False)
        return kp.copy(), vis.copy()

    # ------------------------------------------------------------------ cross-identity ground truth
    def pairs(self, split: str = "test", num_pairs: Optional[int] = None, seed: Optional[int] = None,
              videos: Optional[Sequence[VideoRef]] = None) -> List[Pair]:
        """Deterministic cross-identity pairs (source frame 0) among ``videos`` (default: the whole split).

        Drawn in rounds: each round is a seeded permutation of the videos as sources, matched to a seeded
        permutation of drivers with a different identity each, so every video drives as often as it is driven.
        """
        vids = self.videos(split) if videos is None else list(videos)
        num = self.num_pairs if num_pairs is None else num_pairs
        num = len(vids) if num is None else int(num)
        ids = np.array([v.identity for v in vids])
        if len(set(ids)) < 2:
            return []
        rng = np.random.default_rng([self.seed, _SPLITS[split], 2, 0 if seed is None else int(seed)])
        out: List[Pair] = []
        while len(out) < num:
            for _ in range(1000):  # drivers: a permutation with no same-identity pair, when one is found
                drivers = rng.permutation(len(vids))
                if not np.any(ids[drivers] == ids):
                    break
            sources = rng.permutation(len(vids))
            for a in sources:
                b = drivers[a]
                if ids[b] == ids[a]:  # no clean permutation found: any other identity
                    others = np.flatnonzero(ids != ids[a])
                    b = others[int(rng.integers(len(others)))]
                out.append(Pair(vids[a].name, vids[b].name, 0))
                if len(out) >= num:
                    break
        return out

    def _cross_pose(self, pair: Pair, indices: Sequence[int], mode: str) -> np.ndarray:
        driving = self.poses(pair.driving, indices)
        if mode == "absolute":
            return driving
        if mode == "relative":
            return self.poses(pair.source, [pair.source_frame]) + driving - self.poses(pair.driving, [0])
        raise ValueError(f"synthetic: mode must be 'absolute' or 'relative', got {mode!r}")

    def render_cross(self, pair: Pair, indices: Sequence[int], mode: str = "relative") -> Tensor:
        """The source video's identity in the driving video's poses (N×3×H×W in [0, 1])."""
        split, i, _ = self._split_ids(pair.source)
        key = ("cross", pair, mode, self._indices(pair.driving, indices).tobytes())
        frames = self._render(key, split, i, self._cross_pose(pair, indices, mode), True)[0]
        return to_float_tensor(frames)

    def cross_figure_masks(self, pair: Pair, indices: Sequence[int], mode: str = "relative") -> np.ndarray:
        split, i, _ = self._split_ids(pair.source)
        key = ("cross", pair, mode, self._indices(pair.driving, indices).tobytes())
        return self._render(key, split, i, self._cross_pose(pair, indices, mode), True)[3].copy()

    def cross_keypoints(self, pair: Pair, indices: Sequence[int], mode: str = "relative") -> Tuple[np.ndarray, np.ndarray]:
        """Keypoints (N×K×2 pixels) and visibility (N×K; off-frame or covered = False) of :meth:`render_cross`."""
        split, i, _ = self._split_ids(pair.source)
        key = ("cross", pair, mode, self._indices(pair.driving, indices).tobytes())
        _, kp, vis, _ = self._render(key, split, i, self._cross_pose(pair, indices, mode), False)
        return kp.copy(), vis.copy()

    def describe(self) -> Dict[str, Any]:
        return {"name": self.name, "version": self.version, "resolution": self.resolution, "seed": self.seed,
                "identities": dict(self.identities), "videos_per_identity": dict(self.videos_per_identity),
                "frames_per_video": dict(self.frames_per_video), "figure_height": self.figure_height,
                "motion_scale": self.motion_scale, "speed": self.speed, "markers": self.markers,
                "num_pairs": self.num_pairs, "num_keypoints": self.num_keypoints,
                "keypoint_names": list(self.keypoint_names), "marker_radius": MARKER_RADIUS,
                "anti_aliasing": "analytic 1-px box coverage; background supersampled"}
