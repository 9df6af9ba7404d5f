"""FOMM dense motion network: keypoints → K+1 sparse motions → masks → dense backward flow + occlusion.

Same state dict and maths as the official ``modules/dense_motion.py``. ``align_corners`` selects the
``grid_sample`` semantics: True is torch 1.0's behaviour, which the official weights were trained with
(the coordinate grid spans [-1, 1] at pixel centres, so only True makes the background warp the identity);
False is what the unmodified official code does on torch ≥ 1.3.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motionbench.nn.blocks import AntiAliasInterpolation2d, Hourglass, kp2gaussian, make_coordinate_grid
from motionbench.nn.tps import transform_grid

__all__ = ["DenseMotionNetwork", "sparse_motions"]

KP = Dict[str, Tensor]


def sparse_motions(spatial_size: Sequence[int], kp_driving: KP, kp_source: KP, revert_axis_swap: bool = False,
                   bg_params: Optional[Tensor] = None) -> Tensor:
    """Eq. 4: T_k(z) = kp_s + J_s J_d⁻¹ (z − kp_d) for each keypoint, plus the identity (background).

    Returns B×(K+1)×H×W×2 sampling grids (driving → source coordinates). MRAA options: ``revert_axis_swap``
    multiplies J_s J_d⁻¹ by the sign of its [0, 0] element (undoes SVD axis swaps); ``bg_params`` (B×3×3)
    moves the background grid.
    """
    h, w = int(spatial_size[0]), int(spatial_size[1])
    value_d, value_s = kp_driving["value"], kp_source["value"]
    bs, num_kp = value_d.shape[:2]
    identity = make_coordinate_grid((h, w), value_s.dtype, value_s.device).view(1, 1, h, w, 2)
    grid = identity - value_d.view(bs, num_kp, 1, 1, 2)
    if "jacobian" in kp_driving:
        jacobian = torch.matmul(kp_source["jacobian"], torch.inverse(kp_driving["jacobian"]))
        if revert_axis_swap:
            jacobian = jacobian * torch.sign(jacobian[:, :, 0:1, 0:1])
        grid = torch.matmul(jacobian[:, :, None, None], grid.unsqueeze(-1)).squeeze(-1)
    driving_to_source = grid + value_s.view(bs, num_kp, 1, 1, 2)
    background = identity.expand(bs, 1, h, w, 2)
    if bg_params is not None:
        background = transform_grid(background, bg_params)
    return torch.cat([background, driving_to_source], dim=1)


class DenseMotionNetwork(nn.Module):
    """Predicts the dense motion (B×h×w×2 grid) and occlusion map (B×1×h×w) at ``scale_factor`` resolution."""

    def __init__(self, block_expansion: int, num_blocks: int, max_features: int, num_kp: int, num_channels: int,
                 estimate_occlusion_map: bool = False, scale_factor: float = 1, kp_variance: float = 0.01,
                 align_corners: bool = True, use_deformed_source: bool = True) -> None:
        super().__init__()
        in_features = (num_kp + 1) * (num_channels * int(use_deformed_source) + 1)  # heatmaps (+ deformed sources)
        self.hourglass = Hourglass(block_expansion=block_expansion, in_features=in_features,
                                   max_features=max_features, num_blocks=num_blocks)
        self.mask = nn.Conv2d(self.hourglass.out_filters, num_kp + 1, kernel_size=(7, 7), padding=(3, 3))
        self.occlusion = (nn.Conv2d(self.hourglass.out_filters, 1, kernel_size=(7, 7), padding=(3, 3))
                          if estimate_occlusion_map else None)
        self.num_kp = num_kp
        self.scale_factor = scale_factor
        self.kp_variance = kp_variance
        self.align_corners = align_corners
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor)

    def downsample(self, source_image: Tensor) -> Tensor:
        """The source at the motion resolution (cacheable per source image)."""
        return self.down(source_image) if self.scale_factor != 1 else source_image

    def create_heatmap_representations(self, spatial_size: Sequence[int], kp_driving: KP, kp_source: KP) -> Tensor:
        """Eq. 6: H_k(z) = G(z; kp_d) − G(z; kp_s), with a zero background channel → B×(K+1)×1×H×W."""
        heatmap = (kp2gaussian(kp_driving["value"], spatial_size, self.kp_variance)
                   - kp2gaussian(kp_source["value"], spatial_size, self.kp_variance))
        zeros = heatmap.new_zeros(heatmap.shape[0], 1, *heatmap.shape[2:])
        return torch.cat([zeros, heatmap], dim=1).unsqueeze(2)

    def create_deformed_source_image(self, source_image: Tensor, motions: Tensor) -> Tensor:
        """Eq. 7: the source warped by each sparse motion → B×(K+1)×C×H×W."""
        bs, c, h, w = source_image.shape
        k1 = motions.shape[1]
        repeated = source_image.unsqueeze(1).expand(bs, k1, c, h, w).reshape(bs * k1, c, h, w)
        deformed = F.grid_sample(repeated, motions.reshape(bs * k1, h, w, 2), align_corners=self.align_corners)
        return deformed.view(bs, k1, c, h, w)

    def forward(self, source_image: Tensor, kp_driving: KP, kp_source: KP, *, downsampled: bool = False
                ) -> Dict[str, Tensor]:
        """``downsampled=True``: ``source_image`` already comes from :meth:`downsample` (fast path)."""
        if not downsampled:
            source_image = self.downsample(source_image)
        bs, _, h, w = source_image.shape
        heatmap = self.create_heatmap_representations((h, w), kp_driving, kp_source)
        motions = sparse_motions((h, w), kp_driving, kp_source)
        deformed_source = self.create_deformed_source_image(source_image, motions)
        out = {"sparse_deformed": deformed_source}

        inp = torch.cat([heatmap, deformed_source], dim=2).view(bs, -1, h, w)
        if source_image.is_contiguous(memory_format=torch.channels_last) and not source_image.is_contiguous():
            inp = inp.contiguous(memory_format=torch.channels_last)  # follow the caller's memory format
        prediction = self.hourglass(inp)
        mask = F.softmax(self.mask(prediction), dim=1)
        out["mask"] = mask
        out["deformation"] = (motions * mask.unsqueeze(-1)).sum(dim=1)
        if self.occlusion is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(prediction))
        return out
