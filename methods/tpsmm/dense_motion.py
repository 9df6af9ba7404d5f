"""TPSMM dense motion network: K thin-plate-spline warps + a background affine → contribution maps →
optical flow and multi-resolution occlusion masks (official ``modules/dense_motion.py``).

Built from motionbench's shared blocks (hourglass with instance norms, anti-alias downsampling, keypoint
gaussians, :func:`~motionbench.nn.tps.keypoint_tps_grids`); state dict equal to the official one. Every
``grid_sample`` uses ``align_corners=True``, as the official code does (TPSMM has one semantics only).
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motionbench.nn.blocks import AntiAliasInterpolation2d, Hourglass, UpBlock2d, kp2gaussian, make_coordinate_grid
from motionbench.nn.tps import keypoint_tps_grids, transform_grid

__all__ = ["DenseMotionNetwork", "dropout_softmax"]

KP = Dict[str, Tensor]


def dropout_softmax(x: Tensor, p: float) -> Tensor:
    """Softmax over dim 1 that drops each TPS contribution (never the background) with probability ``p``
    (paper Eq. 7-8, official ``dropout_softmax``; the official code rescales a copy it then discards, so the
    kept logits are not rescaled here either)."""
    drop = (torch.rand(x.shape[0], x.shape[1], device=x.device) < (1 - p)).to(x.dtype)
    drop[:, 0] = 1
    x = x - x.max(1, keepdim=True).values
    x_exp = x.exp() * drop[:, :, None, None]
    return x_exp / (x_exp.sum(dim=1, keepdim=True) + 1e-6)


class DenseMotionNetwork(nn.Module):
    """``forward(source, kp_driving, kp_source, bg_param)`` → deformation (B×h×w×2, backward flow),
    contribution maps, deformed sources and the occlusion maps (coarse to fine)."""

    def __init__(self, block_expansion: int, num_blocks: int, max_features: int, num_tps: int, num_channels: int,
                 scale_factor: float = 0.25, bg: bool = False, multi_mask: bool = True, kp_variance: float = 0.01
                 ) -> None:
        super().__init__()
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor)
        self.scale_factor = scale_factor
        self.multi_mask = multi_mask
        self.hourglass = Hourglass(block_expansion, in_features=num_channels * (num_tps + 1) + num_tps * 5 + 1,
                                   max_features=max_features, num_blocks=num_blocks, norm="instance")
        out_channels = self.hourglass.out_channels
        self.maps = nn.Conv2d(out_channels[-1], num_tps + 1, kernel_size=(7, 7), padding=(3, 3))
        if multi_mask:
            self.up_nums = int(math.log(1 / scale_factor, 2))
            self.occlusion_num = 4
            channel = [out_channels[-1] // (2 ** i) for i in range(self.up_nums)]
            self.up = nn.ModuleList(UpBlock2d(c, c // 2, kernel_size=3, padding=1, norm="instance") for c in channel)
            channel = [out_channels[-i - 1] for i in range(self.occlusion_num - self.up_nums)[::-1]]
            channel += [out_channels[-1] // (2 ** (i + 1)) for i in range(self.up_nums)]
            self.occlusion = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=(7, 7), padding=(3, 3)) for c in channel)
        else:
            self.occlusion = nn.ModuleList([nn.Conv2d(out_channels[-1], 1, kernel_size=(7, 7), padding=(3, 3))])
        self.num_tps = num_tps
        self.bg = bg
        self.kp_variance = kp_variance

    def downsample(self, source_image: Tensor) -> Tensor:
        """The source at the motion resolution (cacheable per source image)."""
        return self.down(source_image) if self.scale_factor != 1 else source_image

    def create_heatmap_representations(self, spatial_size, kp_driving: KP, kp_source: KP) -> Tensor:
        heatmap = (kp2gaussian(kp_driving["fg_kp"], spatial_size, self.kp_variance)
                   - kp2gaussian(kp_source["fg_kp"], spatial_size, self.kp_variance))
        return torch.cat([heatmap.new_zeros(heatmap.shape[0], 1, *heatmap.shape[2:]), heatmap], dim=1)

    def create_transformations(self, spatial_size, kp_driving: KP, kp_source: KP, bg_param: Optional[Tensor]
                               ) -> Tensor:
        """B×(K+1)×h×w×2: the (affine) background grid, then the K TPS warps driving → source."""
        kp_d = kp_driving["fg_kp"]
        bs, (h, w) = kp_d.shape[0], spatial_size
        driving_to_source = keypoint_tps_grids(kp_d, kp_source["fg_kp"], (h, w))
        identity = make_coordinate_grid((h, w), kp_d.dtype, kp_d.device).view(1, 1, h, w, 2).expand(bs, 1, h, w, 2)
        if bg_param is not None:
            identity = transform_grid(identity, bg_param)
        return torch.cat([identity, driving_to_source], dim=1)

    def create_deformed_source_image(self, source_image: Tensor, transformations: Tensor) -> Tensor:
        bs, c, h, w = source_image.shape
        k1 = transformations.shape[1]
        repeated = source_image.unsqueeze(1).expand(bs, k1, c, h, w).reshape(bs * k1, c, h, w)
        deformed = F.grid_sample(repeated, transformations.reshape(bs * k1, h, w, 2), align_corners=True)
        return deformed.view(bs, k1, c, h, w)

    def forward(self, source_image: Tensor, kp_driving: KP, kp_source: KP, bg_param: Optional[Tensor] = None,
                dropout_p: float = 0.0, *, downsampled: bool = False) -> Dict[str, object]:
        """``dropout_p`` > 0 applies the training-time TPS dropout; ``downsampled=True``: ``source_image``
        already comes from :meth:`downsample` (fast path)."""
        if not downsampled:
            source_image = self.downsample(source_image)
        bs, _, h, w = source_image.shape
        heatmap = self.create_heatmap_representations((h, w), kp_driving, kp_source)
        transformations = self.create_transformations((h, w), kp_driving, kp_source, bg_param)
        deformed_source = self.create_deformed_source_image(source_image, transformations)
        out: Dict[str, object] = {"deformed_source": deformed_source, "heatmap": heatmap,
                                  "transformations": transformations}
        inp = torch.cat([heatmap, deformed_source.view(bs, -1, h, w)], dim=1)
        if source_image.is_contiguous(memory_format=torch.channels_last) and not source_image.is_contiguous():
            inp = inp.contiguous(memory_format=torch.channels_last)  # follow the caller's memory format
        prediction: List[Tensor] = self.hourglass(inp, all_levels=True)
        logits = self.maps(prediction[-1])
        maps = dropout_softmax(logits, dropout_p) if dropout_p > 0 else F.softmax(logits, dim=1)
        out["contribution_maps"] = maps
        out["deformation"] = (transformations * maps.unsqueeze(-1)).sum(dim=1)
        occlusion_map = []
        if self.multi_mask:
            for i in range(self.occlusion_num - self.up_nums):
                level = prediction[self.up_nums - self.occlusion_num + i]
                occlusion_map.append(torch.sigmoid(self.occlusion[i](level)))
            feature = prediction[-1]
            for i in range(self.up_nums):
                feature = self.up[i](feature)
                occlusion_map.append(torch.sigmoid(self.occlusion[i + self.occlusion_num - self.up_nums](feature)))
        else:
            occlusion_map.append(torch.sigmoid(self.occlusion[0](prediction[-1])))
        out["occlusion_map"] = occlusion_map
        return out
