"""Training data: two frames of one video per sample (FOMM protocol), deterministic by (seed, step).

Which frames a sample holds is a pure function of ``(seed, epoch, index)``, never of worker scheduling or
of where a run was interrupted; the batch order is a seeded permutation per epoch. That is what makes
resuming a killed run reach exactly the weights of an uninterrupted one.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from ..data.base import VideoDataset, VideoRef

__all__ = ["FramePairDataset", "StepBatchSampler", "augment_pair"]


class FramePairDataset(Dataset):
    """Item ``i`` (``num_repeats`` passes over the training videos): ``source``/``driving`` frames of one
    video, plus (``with_other``) ``other``, a frame of a different identity (cross-identity losses)."""

    def __init__(self, dataset: VideoDataset, split: str = "train", num_repeats: int = 1, seed: int = 0,
                 augment: Optional[Mapping[str, Any]] = None, with_other: bool = False) -> None:
        self.dataset = dataset
        self.videos: List[VideoRef] = dataset.videos(split)
        self.num_repeats = max(1, int(num_repeats))
        self.seed = int(seed)
        self.augment = dict(augment or {})
        self.epoch = 0
        self.with_other = with_other
        ids = [v.identity for v in self.videos]
        self._others = [[j for j, o in enumerate(ids) if o != i] or [k] for k, i in enumerate(ids)]

    def __len__(self) -> int:
        return len(self.videos) * self.num_repeats

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def sample(self, index: int, epoch: int) -> Dict[str, Tensor]:
        rng = np.random.default_rng([self.seed, epoch, index])
        k = index % len(self.videos)
        video = self.videos[k]
        n = video.num_frames
        a, b = (rng.choice(n, size=2, replace=False) if n > 1 else (0, 0))
        frames = self.dataset.read_frames(video, [int(a), int(b)])
        sample = {"source": frames[0], "driving": frames[1]}
        if self.with_other:
            other_video = self.videos[self._others[k][int(rng.integers(len(self._others[k])))]]
            sample["other"] = self.dataset.read_frames(other_video, [int(rng.integers(other_video.num_frames))])[0]
        return augment_pair(sample, self.augment, rng)

    def __getitem__(self, item) -> Dict[str, Tensor]:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        return self.sample(int(index), int(epoch))


def augment_pair(sample: Dict[str, Tensor], cfg: Mapping[str, Any], rng: np.random.Generator) -> Dict[str, Tensor]:
    """FOMM-style augmentation applied identically to the frames of a sample:
    ``flip`` (horizontal), ``time_flip`` (swap source and driving), ``jitter`` (brightness/contrast/
    saturation/hue strength, one draw per sample)."""
    keys = ("source", "driving")
    if cfg.get("flip") and rng.random() < 0.5:
        sample = {k: v.flip(-1) for k, v in sample.items()}
    if cfg.get("time_flip") and rng.random() < 0.5:
        sample = {**sample, keys[0]: sample[keys[1]], keys[1]: sample[keys[0]]}
    strength = float(cfg.get("jitter") or 0.0)
    if strength > 0:
        from torchvision.transforms import functional as TF

        b, c, s = (1 + strength * (2 * rng.random(3) - 1)).tolist()
        h = 0.5 * strength * (2 * rng.random() - 1)
        h = max(-0.5, min(0.5, h))

        def jit(x: Tensor) -> Tensor:
            x = TF.adjust_brightness(x, b)
            x = TF.adjust_contrast(x, c)
            x = TF.adjust_saturation(x, s)
            return TF.adjust_hue(x, h).clamp(0, 1)

        sample = {k: jit(v) for k, v in sample.items()}
    return sample


class StepBatchSampler(Sampler):
    """Yields ``[(epoch, index), ...]`` batches from step ``start_step`` on; epoch permutations are seeded.

    With ``world_size`` > 1 each rank takes its own slice of every global batch (DDP).
    """

    def __init__(self, length: int, batch_size: int, seed: int, start_step: int = 0, max_steps: Optional[int] = None,
                 rank: int = 0, world_size: int = 1) -> None:
        self.length, self.batch_size, self.seed = length, batch_size, seed
        self.start_step, self.max_steps = start_step, max_steps
        self.rank, self.world_size = rank, world_size
        self.global_batch = batch_size * world_size
        self.steps_per_epoch = max(1, length // self.global_batch)

    def batch_at(self, step: int) -> List[tuple]:
        epoch, offset = divmod(step, self.steps_per_epoch)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.length, generator=g)
        if self.length < self.global_batch:  # tiny datasets: wrap around
            perm = perm.repeat(self.global_batch // self.length + 1)
        start = offset * self.global_batch + self.rank * self.batch_size
        return [(epoch, int(i)) for i in perm[start:start + self.batch_size]]

    def __iter__(self) -> Iterator[List[tuple]]:
        step = self.start_step
        while self.max_steps is None or step < self.max_steps:
            yield self.batch_at(step)
            step += 1

    def __len__(self) -> int:
        return max(0, (self.max_steps or 0) - self.start_step)
