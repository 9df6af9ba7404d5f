"""Settings shared by the encode-once, batched inference paths of the FOMM family (fomm, tpsmm, mraa)."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["ChunkedInference"]


class ChunkedInference:
    """``chunk_size`` (driving frames per forward pass) and ``channels_last`` (NHWC inference convolutions;
    the weights and the state dict are unchanged, training is unaffected) of an Animator."""

    chunk_size: int
    channels_last: bool

    def init_inference(self, chunk_size: int, channels_last: bool) -> None:
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.chunk_size = int(chunk_size)
        self.channels_last = bool(channels_last)

    def _fmt(self, images: Tensor) -> Tensor:
        """NHWC copy of B×C×H×W images for inference when ``channels_last`` (convs then stay NHWC)."""
        if self.channels_last and not self.training:  # type: ignore[attr-defined]
            return images.contiguous(memory_format=torch.channels_last)
        return images
