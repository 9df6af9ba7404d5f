"""What the encode-once, chunked inference paths of the methods share: the ``chunk_size`` / ``channels_last``
settings, the fixed-input-size check, and the selection of per-source rows for a chunk of driving frames."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

__all__ = ["ChunkedInference", "select_rows"]


def select_rows(t: Tensor, owner: Optional[Tensor]) -> Tensor:
    """Rows ``owner`` of a per-source tensor (the source each driving frame of a chunk belongs to); a
    broadcast view, not a copy, when there is one source; ``t`` itself when ``owner`` is None."""
    if owner is None:
        return t
    if t.shape[0] == 1:
        return t.expand(owner.numel(), *t.shape[1:])
    return t.index_select(0, owner)


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
