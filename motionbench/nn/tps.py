"""Random affine + thin-plate-spline warps for equivariance losses (FOMM Sec. 3.3, ``modules/model.py``).

A :class:`RandomTPS` draws one warp per batch element: ``theta = I + N(0, sigma_affine)`` (2×3) plus TPS
coefficients ``N(0, sigma_tps)`` on a ``points_tps``² control grid. It warps frames (``transform_frame``),
maps keypoint coordinates (``warp_coordinates``) and gives the warp's Jacobian at given coordinates.
The TPS radial term uses the L1 distance to the control points, as the official code does.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .blocks import make_coordinate_grid

__all__ = ["RandomTPS"]


class RandomTPS:
    """One random warp per batch element; coordinates in [-1, 1] (x, y)."""

    def __init__(self, bs: int, sigma_affine: float, sigma_tps: Optional[float] = None,
                 points_tps: Optional[int] = None, *, generator: Optional[torch.Generator] = None,
                 device: Optional[torch.device] = None, dtype: torch.dtype = torch.float32) -> None:
        noise = torch.normal(mean=0.0, std=sigma_affine * torch.ones(bs, 2, 3), generator=generator)
        self.theta = (noise + torch.eye(2, 3).view(1, 2, 3)).to(device=device, dtype=dtype)
        self.bs = bs
        self.tps = sigma_tps is not None and points_tps is not None
        if self.tps:
            self.control_points = make_coordinate_grid((points_tps, points_tps), dtype, device).view(1, -1, 2)
            params = torch.normal(mean=0.0, std=sigma_tps * torch.ones(bs, 1, points_tps ** 2), generator=generator)
            self.control_params = params.to(device=device, dtype=dtype)

    def transform_frame(self, frame: Tensor, align_corners: bool = True) -> Tensor:
        """Warp B×C×H×W frames (reflection padding)."""
        h, w = frame.shape[2:]
        grid = make_coordinate_grid((h, w), frame.dtype, frame.device).view(1, h * w, 2)
        grid = self.warp_coordinates(grid).view(self.bs, h, w, 2)
        return F.grid_sample(frame, grid, padding_mode="reflection", align_corners=align_corners)

    def warp_coordinates(self, coordinates: Tensor) -> Tensor:
        """Map B×N×2 (or 1×N×2) coordinates through the warp."""
        theta = self.theta.to(coordinates).unsqueeze(1)
        transformed = torch.matmul(theta[:, :, :, :2], coordinates.unsqueeze(-1)) + theta[:, :, :, 2:]
        transformed = transformed.squeeze(-1)
        if self.tps:
            control_points = self.control_points.to(coordinates)
            control_params = self.control_params.to(coordinates)
            distances = coordinates.view(coordinates.shape[0], -1, 1, 2) - control_points.view(1, 1, -1, 2)
            distances = torch.abs(distances).sum(-1)
            result = distances ** 2
            result = result * torch.log(distances + 1e-6)
            result = result * control_params
            result = result.sum(dim=2).view(self.bs, coordinates.shape[1], 1)
            transformed = transformed + result
        return transformed

    def jacobian(self, coordinates: Tensor) -> Tensor:
        """B×N×2×2 Jacobian of the warp at ``coordinates`` (differentiable w.r.t. them, as in training)."""
        with torch.enable_grad():
            if not coordinates.requires_grad:
                coordinates = coordinates.detach().requires_grad_(True)
            new = self.warp_coordinates(coordinates)
            grad_x = torch.autograd.grad(new[..., 0].sum(), coordinates, create_graph=True)[0]
            grad_y = torch.autograd.grad(new[..., 1].sum(), coordinates, create_graph=True)[0]
        return torch.cat([grad_x.unsqueeze(-2), grad_y.unsqueeze(-2)], dim=-2)
