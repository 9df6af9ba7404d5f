"""FOMM occlusion-aware generator: encode the source, warp its features by the dense motion, mask by the
occlusion map, residual bottleneck, decode, sigmoid.

State dict and maths equal the official ``modules/generator.py``. :meth:`encode`, :meth:`animate_features`
and :meth:`decode` split the forward pass so that the animator encodes a source once and animates many
driving frames from the cached features (the official demo re-encodes the source for every frame).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motionbench.core.inference import is_channels_last
from motionbench.nn.blocks import DownBlock2d, ResBlock2d, SameBlock2d, UpBlock2d

from .dense_motion import DenseMotionNetwork

__all__ = ["OcclusionAwareGenerator"]

KP = Dict[str, Tensor]


class OcclusionAwareGenerator(nn.Module):
    """Johnson-style generator driven by keypoints; outputs images in [0, 1]."""

    def __init__(self, num_channels: int, num_kp: int, block_expansion: int, max_features: int,
                 num_down_blocks: int, num_bottleneck_blocks: int, estimate_occlusion_map: bool = False,
                 dense_motion_params: Optional[Mapping[str, Any]] = None, estimate_jacobian: bool = False,
                 align_corners: bool = True) -> None:
        super().__init__()
        if dense_motion_params is not None:
            self.dense_motion_network = DenseMotionNetwork(num_kp=num_kp, num_channels=num_channels,
                                                           estimate_occlusion_map=estimate_occlusion_map,
                                                           align_corners=align_corners, **dense_motion_params)
        else:
            self.dense_motion_network = None
        self.first = SameBlock2d(num_channels, block_expansion, kernel_size=(7, 7), padding=(3, 3))
        self.down_blocks = nn.ModuleList(
            DownBlock2d(min(max_features, block_expansion * (2 ** i)), min(max_features, block_expansion * (2 ** (i + 1))),
                        kernel_size=(3, 3), padding=(1, 1))
            for i in range(num_down_blocks))
        self.up_blocks = nn.ModuleList(
            UpBlock2d(min(max_features, block_expansion * (2 ** (num_down_blocks - i))),
                      min(max_features, block_expansion * (2 ** (num_down_blocks - i - 1))),
                      kernel_size=(3, 3), padding=(1, 1))
            for i in range(num_down_blocks))
        self.bottleneck = nn.Sequential()
        in_features = min(max_features, block_expansion * (2 ** num_down_blocks))
        for i in range(num_bottleneck_blocks):
            self.bottleneck.add_module("r" + str(i), ResBlock2d(in_features, kernel_size=(3, 3), padding=(1, 1)))
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=(7, 7), padding=(3, 3))
        self.estimate_occlusion_map = estimate_occlusion_map
        self.num_channels = num_channels
        self.align_corners = align_corners

    def deform_input(self, inp: Tensor, deformation: Tensor) -> Tensor:
        """Backward-warp ``inp`` by ``deformation`` (resized bilinearly to ``inp``'s size when needed)."""
        _, h_old, w_old, _ = deformation.shape
        h, w = inp.shape[2:]
        if (h_old, w_old) != (h, w):
            deformation = F.interpolate(deformation.permute(0, 3, 1, 2), size=(h, w), mode="bilinear",
                                        align_corners=False).permute(0, 2, 3, 1)
        return F.grid_sample(inp, deformation, align_corners=self.align_corners)

    def encode(self, source_image: Tensor) -> Tensor:
        """Source features at 1/2^num_down_blocks resolution (cacheable per source image)."""
        out = self.first(source_image)
        for block in self.down_blocks:
            out = block(out)
        return out

    def decode(self, features: Tensor) -> Tensor:
        """Bottleneck + decoder + sigmoid → image in [0, 1]."""
        out = self.bottleneck(features)
        for block in self.up_blocks:
            out = block(out)
        return torch.sigmoid(self.final(out))

    def animate_features(self, features: Tensor, source_image: Tensor, kp_driving: KP, kp_source: KP, *,
                         source_downsampled: bool = False, with_deformed: bool = True) -> Dict[str, Tensor]:
        """Warp encoded source ``features`` by the motion kp_source → kp_driving and decode.

        ``source_image`` is the full-resolution source, or (``source_downsampled=True``) the dense motion
        network's downsampled one; ``with_deformed`` also warps the full-resolution source (visualisation;
        needs the full-resolution image).
        """
        output: Dict[str, Tensor] = {}
        out = features
        if self.dense_motion_network is not None:
            motion = self.dense_motion_network(source_image, kp_driving=kp_driving, kp_source=kp_source,
                                               downsampled=source_downsampled)
            output.update(motion)
            deformation = motion["deformation"]
            out = self.deform_input(out, deformation)
            occlusion_map = motion.get("occlusion_map")
            if occlusion_map is not None:
                if out.shape[2:] != occlusion_map.shape[2:]:
                    occlusion_map = F.interpolate(occlusion_map, size=out.shape[2:], mode="bilinear",
                                                  align_corners=False)
                out = out * occlusion_map
            if is_channels_last(features):  # keep the decoder in the caller's memory format (grid_sample returns NCHW)
                out = out.contiguous(memory_format=torch.channels_last)
            if with_deformed:
                if source_downsampled:
                    raise ValueError("with_deformed=True needs the full-resolution source image")
                output["deformed"] = self.deform_input(source_image, deformation)
        output["prediction"] = self.decode(out)
        return output

    def forward(self, source_image: Tensor, kp_driving: KP, kp_source: KP) -> Dict[str, Tensor]:
        """Official forward: ``prediction``, ``mask``, ``sparse_deformed``, ``occlusion_map``, ``deformed``,
        ``deformation``."""
        return self.animate_features(self.encode(source_image), source_image, kp_driving, kp_source)
