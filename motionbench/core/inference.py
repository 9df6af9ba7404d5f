"""What the encode-once, chunked inference paths of the methods share: the ``chunk_size`` / ``channels_last``
settings, the fixed-input-size check, the selection of per-source rows for a chunk of driving frames, and the
inference precisions (autocast dtypes); and the official demos' per-frame loop those paths are tested and
benchmarked against (:func:`per_frame_loop`, behind each method's ``Animator.official_animation``)."""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Union

import torch
from torch import Tensor

__all__ = ["ChunkedInference", "select_rows", "PRECISIONS", "resolve_dtype", "is_channels_last", "per_frame_loop"]

#: inference precisions: names (CLI ``benchmark.precision``) -> autocast dtype (None: float32, no autocast)
PRECISIONS: Dict[str, Optional[torch.dtype]] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_dtype(dtype: Union[str, torch.dtype, None]) -> Optional[torch.dtype]:
    """``"bf16"`` / ``"fp16"`` / ``"fp32"`` / a torch dtype -> the autocast dtype (None for float32)."""
    if dtype is None or dtype == torch.float32:
        return None
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float16, torch.bfloat16):
            raise ValueError(f"dtype must be torch.float32, torch.float16 or torch.bfloat16, got {dtype}")
        return dtype
    if dtype not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {dtype!r}")
    return PRECISIONS[dtype]


def select_rows(t: Tensor, owner: Optional[Tensor]) -> Tensor:
    """Rows ``owner`` of a per-source tensor (the source each driving frame of a chunk belongs to); a
    broadcast view, not a copy, when there is one source; ``t`` itself when ``owner`` is None."""
    if owner is None:
        return t
    if t.shape[0] == 1:
        return t.expand(owner.numel(), *t.shape[1:])
    return t.index_select(0, owner)


def is_channels_last(x: Tensor) -> bool:
    """True for a B×C×H×W tensor in NHWC memory format (a network keeps its caller's format where an op such as
    ``grid_sample`` returns NCHW)."""
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def per_frame_loop(driving: Tensor, detect: Callable[[Tensor], Any], render: Callable[[Any], Tensor],
                   frame_times: Optional[List[float]] = None) -> Tensor:
    """The official demos' loop over a T×3×H×W clip, one frame (batch 1) at a time: ``render(detect(frame))``
    gives each 1×3×H×W prediction; ``frame_times`` (a list) receives each iteration's wall time."""
    predictions = []
    for frame_idx in range(driving.shape[0]):
        t0 = time.perf_counter()
        predictions.append(render(detect(driving[frame_idx:frame_idx + 1])))
        if frame_times is not None:
            frame_times.append(time.perf_counter() - t0)
    return torch.cat(predictions)


class ChunkedInference:
    """``chunk_size`` (driving frames per forward pass) and ``channels_last`` (NHWC inference convolutions;
    the weights and the state dict are unchanged, training is unaffected) of an Animator, and the input-size
    check of architectures built for one resolution (``self.size``)."""

    chunk_size: int
    channels_last: bool
    size: Optional[int] = None

    def init_inference(self, chunk_size: int, channels_last: bool = False, size: Optional[int] = None) -> None:
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.chunk_size = int(chunk_size)
        self.channels_last = bool(channels_last)
        if size is not None:
            self.size = int(size)

    def _fmt(self, images: Tensor) -> Tensor:
        """NHWC copy of B×C×H×W images for inference when ``channels_last`` (convs then stay NHWC)."""
        if self.channels_last and not self.training:  # type: ignore[attr-defined]
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def _check_size(self, images: Tensor, what: str = "images") -> None:
        """A clear error when images do not have the architecture's fixed size ``self.size``."""
        if self.size is not None and tuple(images.shape[-2:]) != (self.size, self.size):
            raise ValueError(f"{self.name} ({self.size}×{self.size}) got {what} of size "  # type: ignore[attr-defined]
                             f"{tuple(images.shape[-2:])}; resize them or build the model with size={images.shape[-1]}")
