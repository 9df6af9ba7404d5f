"""MRAA region predictor, background motion predictor and AVD network (official ``modules/``).

The region predictor is FOMM's keypoint detector (:class:`~motionbench.methods.fomm.keypoint_detector.KPDetector`)
with its heatmap head named ``regions`` and, instead of the Jacobian head, a PCA of each region's heatmap:
shift = heatmap mean, covar = heatmap covariance, affine = U·diag(√S) from torch's SVD of covar (the signs
of U matter for ``revert_axis_swap``, so it is torch's SVD, not an eigen-decomposition).
"""
from __future__ import annotations

from typing import Dict, Union

import torch
from torch import Tensor, nn

from motionbench.methods.fomm.keypoint_detector import KPDetector
from motionbench.nn.avd import AVDMLP
from motionbench.nn.blocks import Encoder, make_coordinate_grid

__all__ = ["RegionPredictor", "BGMotionPredictor", "AVDNetwork", "region2gaussian"]

Regions = Dict[str, Tensor]


def region2gaussian(center: Tensor, covar: Union[float, Tensor], spatial_size) -> Tensor:
    """``exp(-½ (z−μ)ᵀ Σ⁻¹ (z−μ))`` for B×K×2 centres and B×K×2×2 covariances (or one variance) → B×K×H×W."""
    grid = make_coordinate_grid(spatial_size, center.dtype, center.device)
    lead = center.dim() - 1
    mean_sub = grid.view((1,) * lead + tuple(grid.shape)) - center.view(tuple(center.shape[:lead]) + (1, 1, 2))
    if isinstance(covar, (int, float)):
        return torch.exp(-0.5 * (mean_sub ** 2).sum(-1) / covar)
    inverse = torch.inverse(covar).view(tuple(center.shape[:lead]) + (1, 1, 2, 2))
    under_exp = torch.matmul(torch.matmul(mean_sub.unsqueeze(-2), inverse), mean_sub.unsqueeze(-1))
    return torch.exp(-0.5 * under_exp.sum(dim=(-1, -2)))


class RegionPredictor(KPDetector):
    """Image B×C×H×W in [0, 1] → ``{"shift", "covar", "affine", "heatmap"}`` (+ ``"u"``, ``"d"`` with PCA)."""

    def __init__(self, block_expansion: int, num_regions: int, num_channels: int, max_features: int, num_blocks: int,
                 temperature: float, estimate_affine: bool = False, scale_factor: float = 1, pca_based: bool = False,
                 fast_svd: bool = False, pad: int = 3) -> None:
        if fast_svd:
            raise NotImplementedError("region_predictor_params.fast_svd (torch_batch_svd) is not supported: MRAA's "
                                      "affines depend on the SVD's sign conventions; use fast_svd: false (torch's SVD)")
        super().__init__(block_expansion, num_regions, num_channels, max_features, num_blocks, temperature,
                         estimate_jacobian=estimate_affine and not pca_based, scale_factor=scale_factor,
                         single_jacobian_map=True, pad=pad)
        self.regions = self._modules.pop("kp")  # the official name of the heatmap head
        self.pca_based = pca_based

    @property
    def kp(self) -> nn.Module:  # KPDetector.heatmaps reads the head as ``kp``
        return self.regions

    def forward(self, x: Tensor) -> Regions:
        heatmap = self.heatmaps(x)
        region, feature_map = heatmap["heatmap"], heatmap["feature_map"]
        grid = make_coordinate_grid(region.shape[2:], region.dtype, region.device).view(1, 1, *region.shape[2:], 2)
        weights = region.unsqueeze(-1)
        shift = (weights * grid).sum(dim=(2, 3))
        params: Regions = {"shift": shift, "heatmap": region}
        if self.pca_based:
            mean_sub = grid - shift.unsqueeze(-2).unsqueeze(-2)
            covar = torch.matmul(mean_sub.unsqueeze(-1), mean_sub.unsqueeze(-2)) * weights.unsqueeze(-1)
            params["covar"] = covar.sum(dim=(2, 3))
        if self.jacobian is not None:  # regression-based affine (FOMM-like)
            b, k, h, w = region.shape
            jacobian_map = self.jacobian(feature_map).reshape(b, 1, 4, h, w)
            affine = (region.unsqueeze(2) * jacobian_map).view(b, k, 4, -1).sum(dim=-1).view(b, k, 2, 2)
            params["affine"] = affine
            params["covar"] = torch.matmul(affine, affine.permute(0, 1, 3, 2))
        elif self.pca_based:
            u, s, _ = torch.linalg.svd(params["covar"])
            d = torch.diag_embed(s ** 0.5)
            params.update(affine=torch.matmul(u, d), u=u, d=d)
        return params


class BGMotionPredictor(nn.Module):
    """(source, driving) → B×3×3 background transform of type zero | shift | affine | perspective."""

    HEADS = {"shift": [0.0, 0], "affine": [1.0, 0, 0, 0, 1, 0], "perspective": [1.0, 0, 0, 0, 1, 0, 0, 0]}

    def __init__(self, block_expansion: int, num_channels: int, max_features: int, num_blocks: int,
                 bg_type: str = "zero") -> None:
        super().__init__()
        if bg_type not in ("zero", *self.HEADS):
            raise ValueError(f"bg_predictor_params.bg_type must be zero, shift, affine or perspective, got '{bg_type}'")
        self.bg_type = bg_type
        if bg_type != "zero":
            self.encoder = Encoder(block_expansion, in_features=num_channels * 2, max_features=max_features,
                                   num_blocks=num_blocks)
            init = torch.tensor(self.HEADS[bg_type])
            self.fc = nn.Linear(min(max_features, block_expansion * (2 ** num_blocks)), len(init))
            with torch.no_grad():
                self.fc.weight.zero_()
                self.fc.bias.copy_(init)

    def forward(self, source_image: Tensor, driving_image: Tensor) -> Tensor:
        bs = source_image.shape[0]
        out = torch.eye(3, dtype=source_image.dtype, device=source_image.device).repeat(bs, 1, 1)
        if self.bg_type == "zero":
            return out
        prediction = self.fc(self.encoder(torch.cat([source_image, driving_image], dim=1))[-1].mean(dim=(2, 3)))
        if self.bg_type == "shift":
            out[:, :2, 2] = prediction
        else:
            out[:, :2, :] = prediction[:, :6].view(bs, 2, 3)
            if self.bg_type == "perspective":
                out[:, 2, :2] = prediction[:, 6:].view(bs, 2)
        return out


class AVDNetwork(AVDMLP):
    """Animation via disentanglement on region parameters: ``forward(source, driving)`` → new shift / affine /
    covar (= A·Aᵀ)."""

    def __init__(self, num_regions: int, id_bottle_size: int = 64, pose_bottle_size: int = 64,
                 revert_axis_swap: bool = True) -> None:
        super().__init__((2 + 4) * num_regions, id_bottle_size, pose_bottle_size)
        self.num_regions = num_regions
        self.revert_axis_swap = revert_axis_swap

    @staticmethod
    def region_params_to_emb(x: Regions) -> Tensor:
        affine = x["affine"]
        return torch.cat([x["shift"], affine.reshape(*affine.shape[:2], -1)], dim=-1).reshape(affine.shape[0], -1)

    def forward(self, x_id: Regions, x_pose: Regions) -> Regions:
        if self.revert_axis_swap:
            affine = torch.matmul(x_id["affine"], torch.inverse(x_pose["affine"]))
            x_id = {"affine": x_id["affine"] * torch.sign(affine[:, :, 0:1, 0:1]), "shift": x_id["shift"]}
        emb = self.embed(self.region_params_to_emb(x_id), self.region_params_to_emb(x_pose))
        emb = emb.view(emb.shape[0], self.num_regions, 6)
        affine = emb[:, :, 2:].reshape(emb.shape[0], self.num_regions, 2, 2)
        return {"shift": emb[:, :, :2], "affine": affine, "covar": torch.matmul(affine, affine.permute(0, 1, 3, 2))}
