"""MRAA pixel-wise flow predictor and generator (official ``modules/pixelwise_flow_predictor.py``,
``modules/generator.py``), built on FOMM's dense motion network and occlusion-aware generator.

The generator's state dict is FOMM's with ``dense_motion_network.`` renamed ``pixelwise_flow_predictor.``.
Differences from FOMM: region heatmaps use each region's covariance, sparse motions use the PCA affines
(with ``revert_axis_swap``) and an optional background transform, and with ``skips`` every decoder level
blends the warped, occlusion-masked encoder features with the decoded ones (the last level blends the
warped source image with the decoded image). ``align_corners`` selects the ``grid_sample`` semantics:
False (default) is what MRAA was trained with (torch 1.4); bilinear resizes are unaffected.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from motionbench.core.inference import is_channels_last
from motionbench.methods.fomm.dense_motion import DenseMotionNetwork, sparse_motions
from motionbench.methods.fomm.generator import OcclusionAwareGenerator

from .regions import region2gaussian

__all__ = ["PixelwiseFlowPredictor", "Generator"]

Regions = Dict[str, Tensor]


class PixelwiseFlowPredictor(DenseMotionNetwork):
    """Region parameters → optical flow (B×h×w×2) and occlusion map at ``scale_factor`` resolution."""

    def __init__(self, block_expansion: int, num_blocks: int, max_features: int, num_regions: int, num_channels: int,
                 estimate_occlusion_map: bool = False, scale_factor: float = 1, region_var: float = 0.01,
                 use_covar_heatmap: bool = False, use_deformed_source: bool = True, revert_axis_swap: bool = False,
                 align_corners: bool = False) -> None:
        super().__init__(block_expansion, num_blocks, max_features, num_regions, num_channels,
                         estimate_occlusion_map=estimate_occlusion_map, scale_factor=scale_factor,
                         kp_variance=region_var, align_corners=align_corners, use_deformed_source=use_deformed_source)
        self.use_covar_heatmap = use_covar_heatmap
        self.use_deformed_source = use_deformed_source
        self.revert_axis_swap = revert_axis_swap

    def region_heatmaps(self, spatial_size, driving: Regions, source: Regions) -> Tensor:
        """Eq. 6 with covariances: G(z; driving) − G(z; source), zero background channel → B×(K+1)×1×h×w."""
        cov_d = driving["covar"] if self.use_covar_heatmap else self.kp_variance
        cov_s = source["covar"] if self.use_covar_heatmap else self.kp_variance
        heatmap = (region2gaussian(driving["shift"], cov_d, spatial_size)
                   - region2gaussian(source["shift"], cov_s, spatial_size))
        return torch.cat([heatmap.new_zeros(heatmap.shape[0], 1, *heatmap.shape[2:]), heatmap], dim=1).unsqueeze(2)

    def forward(self, source_image: Tensor, driving_region_params: Regions, source_region_params: Regions,
                bg_params: Optional[Tensor] = None, *, downsampled: bool = False) -> Dict[str, Tensor]:
        if not downsampled:
            source_image = self.downsample(source_image)
        bs, _, h, w = source_image.shape
        heatmap = self.region_heatmaps((h, w), driving_region_params, source_region_params)
        as_kp = [{"value": p["shift"], **({"jacobian": p["affine"]} if "affine" in p else {})}
                 for p in (driving_region_params, source_region_params)]
        motion = sparse_motions((h, w), as_kp[0], as_kp[1], self.revert_axis_swap, bg_params)
        deformed = self.create_deformed_source_image(source_image, motion)
        out = {"heatmap": heatmap, "sparse_motion": motion, "sparse_deformed": deformed}
        inp = torch.cat([heatmap, deformed], dim=2) if self.use_deformed_source else heatmap
        inp = inp.view(bs, -1, h, w)
        if is_channels_last(source_image):
            inp = inp.contiguous(memory_format=torch.channels_last)  # follow the caller's memory format
        prediction = self.hourglass(inp)
        mask = F.softmax(self.mask(prediction), dim=1)
        out["mask"] = mask
        out["optical_flow"] = (motion * mask.unsqueeze(-1)).sum(dim=1)
        if self.occlusion is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(prediction))
        return out


class Generator(OcclusionAwareGenerator):
    """Johnson-style generator driven by region parameters; outputs images in [0, 1]."""

    def __init__(self, num_channels: int, num_regions: int, block_expansion: int, max_features: int,
                 num_down_blocks: int, num_bottleneck_blocks: int,
                 pixelwise_flow_predictor_params: Optional[Mapping[str, Any]] = None, skips: bool = False,
                 revert_axis_swap: bool = True, align_corners: bool = False) -> None:
        super().__init__(num_channels, num_regions, block_expansion, max_features, num_down_blocks,
                         num_bottleneck_blocks, dense_motion_params=None, align_corners=align_corners)
        del self.dense_motion_network  # MRAA's flow network is named pixelwise_flow_predictor
        self.pixelwise_flow_predictor = (
            PixelwiseFlowPredictor(num_regions=num_regions, num_channels=num_channels, revert_axis_swap=revert_axis_swap,
                                   align_corners=align_corners, **dict(pixelwise_flow_predictor_params))
            if pixelwise_flow_predictor_params is not None else None)
        self.skips = skips

    def encode_skips(self, source_image: Tensor) -> List[Tensor]:
        """Encoder outputs, finest first (cacheable per source image)."""
        skips = [self.first(source_image)]
        for block in self.down_blocks:
            skips.append(block(skips[-1]))
        return skips

    def apply_optical(self, input_previous: Optional[Tensor], input_skip: Tensor, motion: Optional[Dict[str, Tensor]]
                      ) -> Tensor:
        """Warp ``input_skip`` by the flow; mask it by the occlusion map and blend in ``input_previous``."""
        if motion is None:
            return input_previous if input_previous is not None else input_skip
        out = self.deform_input(input_skip, motion["optical_flow"])
        occlusion_map = motion.get("occlusion_map")
        if occlusion_map is not None:
            if out.shape[2:] != occlusion_map.shape[2:]:
                occlusion_map = F.interpolate(occlusion_map, size=out.shape[2:], mode="bilinear", align_corners=False)
            out = out * occlusion_map + (input_previous * (1 - occlusion_map) if input_previous is not None else 0)
        if is_channels_last(input_skip):  # keep the decoder in the caller's memory format (grid_sample returns NCHW)
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    def animate_skips(self, skips: List[Tensor], source_image: Tensor, motion: Optional[Dict[str, Tensor]]) -> Tensor:
        """Decode from the encoded source and the motion (the flow predictor's output) → prediction."""
        out = self.apply_optical(None, skips[-1], motion)
        out = self.bottleneck(out)
        for i, block in enumerate(self.up_blocks):
            if self.skips:
                out = self.apply_optical(out, skips[-(i + 1)], motion)
            out = block(out)
        if self.skips:
            out = self.apply_optical(out, skips[0], motion)
        out = torch.sigmoid(self.final(out))
        if self.skips:
            out = self.apply_optical(out, source_image, motion)
        return out

    def forward(self, source_image: Tensor, driving_region_params: Regions, source_region_params: Regions,
                bg_params: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Official forward: ``prediction``, ``deformed``, ``occlusion_map`` and the flow predictor's outputs."""
        motion = None
        output: Dict[str, Tensor] = {}
        if self.pixelwise_flow_predictor is not None:
            motion = self.pixelwise_flow_predictor(source_image, driving_region_params, source_region_params, bg_params)
            output.update(motion)
            output["deformed"] = self.deform_input(source_image, motion["optical_flow"])
        output["prediction"] = self.animate_skips(self.encode_skips(source_image), source_image, motion)
        return output
