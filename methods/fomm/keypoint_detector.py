"""FOMM keypoint detector: hourglass heatmaps, soft-argmax keypoints, heatmap-pooled local Jacobians.

State dict and maths equal the official ``modules/keypoint_detector.py`` (``predictor.*``, ``kp.*``,
``jacobian.*``, ``down.weight``). ``pad`` is the padding of the 7×7 heads: the official configs use 0, so the
heatmap is 6 pixels smaller than the (downsampled) input while its coordinates are read as if it covered
it; small presets choose ``pad: 3``, so that the heatmaps of their small inputs cover the whole input.
"""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motionbench.nn.blocks import AntiAliasInterpolation2d, Hourglass, make_coordinate_grid

__all__ = ["KPDetector"]


class KPDetector(nn.Module):
    """Image B×C×H×W in [0, 1] → ``{"value": B×K×2 in [-1, 1] (x, y), "jacobian": B×K×2×2}``."""

    def __init__(self, block_expansion: int, num_kp: int, num_channels: int, max_features: int, num_blocks: int,
                 temperature: float, estimate_jacobian: bool = False, scale_factor: float = 1,
                 single_jacobian_map: bool = False, pad: int = 0) -> None:
        super().__init__()
        self.predictor = Hourglass(block_expansion, in_features=num_channels, max_features=max_features,
                                   num_blocks=num_blocks)
        self.kp = nn.Conv2d(self.predictor.out_filters, num_kp, kernel_size=(7, 7), padding=pad)
        if estimate_jacobian:
            self.num_jacobian_maps = 1 if single_jacobian_map else num_kp
            self.jacobian = nn.Conv2d(self.predictor.out_filters, 4 * self.num_jacobian_maps, kernel_size=(7, 7),
                                      padding=pad)
            # identity initialisation: every local affine transform starts as the identity
            with torch.no_grad():
                self.jacobian.weight.zero_()
                self.jacobian.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0] * self.num_jacobian_maps))
        else:
            self.jacobian = None
        self.num_kp = num_kp
        self.temperature = temperature
        self.scale_factor = scale_factor
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor)

    @staticmethod
    def gaussian2kp(heatmap: Tensor) -> Tensor:
        """Soft-argmax: expected (x, y) under each B×K×H×W probability map."""
        grid = make_coordinate_grid(heatmap.shape[2:], heatmap.dtype, heatmap.device)
        return (heatmap.unsqueeze(-1) * grid.view(1, 1, *grid.shape)).sum(dim=(2, 3))

    def heatmaps(self, x: Tensor) -> Dict[str, Tensor]:
        """Feature map and softmax heatmaps (temperature-scaled) of an image batch."""
        if self.scale_factor != 1:
            x = self.down(x)
        feature_map = self.predictor(x)
        prediction = self.kp(feature_map)
        b, k, h, w = prediction.shape
        heatmap = F.softmax(prediction.view(b, k, -1) / self.temperature, dim=2).view(b, k, h, w)
        return {"feature_map": feature_map, "heatmap": heatmap}

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        maps = self.heatmaps(x)
        heatmap = maps["heatmap"]
        out = {"value": self.gaussian2kp(heatmap)}
        if self.jacobian is not None:
            b, k, h, w = heatmap.shape
            jacobian_map = self.jacobian(maps["feature_map"]).reshape(b, self.num_jacobian_maps, 4, h, w)
            jacobian = (heatmap.unsqueeze(2) * jacobian_map).view(b, k, 4, -1).sum(dim=-1)
            out["jacobian"] = jacobian.view(b, k, 2, 2)
        return out
