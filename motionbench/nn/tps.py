"""Random affine + thin-plate-spline warps for equivariance losses (FOMM Sec. 3.3, ``modules/model.py``).

A :class:`RandomTPS` draws one warp per batch element: ``theta = I + N(0, sigma_affine)`` (2×3) plus TPS
coefficients ``N(0, sigma_tps)`` on a ``points_tps``² control grid. It warps frames (``transform_frame``),
maps keypoint coordinates (``warp_coordinates``) and gives the warp's Jacobian at given coordinates.
The radial term is ``kernel="l1"`` (FOMM, MRAA: d² log(d + 1e-6) with d the L1 distance to the control
points) or ``kernel="r2"`` (TPSMM: r² log(r² + 1e-9) with r² the squared Euclidean distance).

:func:`keypoint_tps_grids` fits TPSMM's thin-plate splines through groups of 5 keypoint pairs (paper Eq. 2)
and samples them on a coordinate grid.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .blocks import make_coordinate_grid

__all__ = ["RandomTPS", "keypoint_tps_grids", "transform_grid", "equivariance_losses", "DEFAULT_TRANSFORM"]


class RandomTPS:
    """One random warp per batch element; coordinates in [-1, 1] (x, y)."""

    def __init__(self, bs: int, sigma_affine: float, sigma_tps: Optional[float] = None,
                 points_tps: Optional[int] = None, *, generator: Optional[torch.Generator] = None,
                 device: Optional[torch.device] = None, dtype: torch.dtype = torch.float32, kernel: str = "l1") -> None:
        if kernel not in ("l1", "r2"):
            raise ValueError(f"kernel must be 'l1' or 'r2', got {kernel!r}")
        self.kernel = kernel
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
            if self.kernel == "l1":
                distances = torch.abs(distances).sum(-1)
                result = distances ** 2
                result = result * torch.log(distances + 1e-6)
            else:
                result = (distances ** 2).sum(-1)
                result = result * torch.log(result + 1e-9)
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


def keypoint_tps_grids(kp_driving: Tensor, kp_source: Tensor, spatial_size: Tuple[int, int]) -> Tensor:
    """TPSMM's K thin-plate splines mapping driving to source coordinates, sampled on an H×W grid.

    ``kp_driving`` / ``kp_source`` are B×(5K)×2; each consecutive group of 5 pairs defines one spline
    (regularised by 0.01·I as in the official code). Returns B×K×H×W×2 sampling grids.
    """
    bs = kp_driving.shape[0]
    kp_1, kp_2 = kp_driving.view(bs, -1, 5, 2), kp_source.view(bs, -1, 5, 2)
    groups, n = kp_1.shape[1], kp_1.shape[2]
    k = torch.norm(kp_1[:, :, :, None] - kp_1[:, :, None, :], dim=4, p=2) ** 2
    k = k * torch.log(k + 1e-9)
    kp_1p = torch.cat([kp_1, kp_1.new_ones(bs, groups, n, 1)], 3)
    p = torch.cat([kp_1p, kp_1.new_zeros(bs, groups, 3, 3)], 2)
    lhs = torch.cat([torch.cat([k, kp_1p.permute(0, 1, 3, 2)], 2), p], 3)
    lhs = lhs + torch.eye(lhs.shape[2], dtype=lhs.dtype, device=lhs.device).expand(lhs.shape) * 0.01
    rhs = torch.cat([kp_2, kp_2.new_zeros(bs, groups, 3, 2)], 2)
    param = torch.matmul(torch.inverse(lhs), rhs)
    theta = param[:, :, n:, :].permute(0, 1, 3, 2)  # B×K×2×3 affine part
    weights = param[:, :, :n, :]  # B×K×5×2 radial weights

    h, w = int(spatial_size[0]), int(spatial_size[1])
    coordinates = make_coordinate_grid((h, w), kp_1.dtype, kp_1.device).view(1, h * w, 2)
    transformed = torch.matmul(theta[:, :, :, :2], coordinates.permute(0, 2, 1)) + theta[:, :, :, 2:]
    distances = coordinates.view(1, 1, 1, -1, 2) - kp_1.view(bs, groups, -1, 1, 2)
    result = (distances ** 2).sum(-1)
    result = result * torch.log(result + 1e-9)
    result = torch.matmul(result.permute(0, 1, 3, 2), weights)
    return (transformed.permute(0, 1, 3, 2) + result).view(bs, groups, h, w, 2)


def transform_grid(grid: Tensor, matrices: Tensor) -> Tensor:
    """Apply B×3×3 projective ``matrices`` (background motion of TPSMM / MRAA) to B×1×H×W×2 coordinates."""
    bs = grid.shape[0]
    homogeneous = torch.cat([grid, torch.ones_like(grid[..., :1])], dim=-1)
    out = torch.matmul(matrices.view(bs, 1, 1, 1, 3, 3), homogeneous.unsqueeze(-1)).squeeze(-1)
    return out[..., :2] / out[..., 2:3]


#: FOMM's random transform of the equivariance losses (official ``train_params.transform_params``)
DEFAULT_TRANSFORM = {"sigma_affine": 0.05, "sigma_tps": 0.005, "points_tps": 5}


def equivariance_losses(detect: Callable[[Tensor], Tuple[Tensor, Optional[Tensor]]], frames: Tensor, value: Tensor,
                        jacobian: Optional[Tensor], cfg: Mapping[str, Any], *,
                        names: Tuple[str, str] = ("equivariance_value", "equivariance_jacobian"),
                        align_corners: bool = True, kernel: str = "l1", sign_fix: bool = False) -> Dict[str, Tensor]:
    """FOMM's keypoint equivariance under a random affine + TPS warp T of ``frames`` (shared by FOMM, LWGAN,
    MRAA and TPSMM): ``|kp(x) − T(kp(T(x)))|`` and, for local affine frames, ``|I − J(x)⁻¹ ∇T J(T(x))|``.

    ``detect(frames) -> (keypoints B×K×2, jacobians B×K×2×2 or None)``; ``value`` / ``jacobian`` are the
    keypoints of ``frames``; the weights are ``cfg[names[0]]`` / ``cfg[names[1]]`` (0 = off) and
    ``cfg["transform_params"]`` overrides :data:`DEFAULT_TRANSFORM`. ``sign_fix``: MRAA's axis-swap
    reversal (the sign of the first element) before comparing with the identity.
    """
    w_value, w_jac = float(cfg.get(names[0], 0)), float(cfg.get(names[1], 0))
    if not (w_value or w_jac):
        return {}
    params = dict(DEFAULT_TRANSFORM, **dict(cfg.get("transform_params") or {}))
    tr = RandomTPS(frames.shape[0], device=frames.device, dtype=frames.dtype, kernel=kernel, **params)
    t_value, t_jac = detect(tr.transform_frame(frames, align_corners=align_corners))
    out: Dict[str, Tensor] = {}
    if w_value:
        out[names[0]] = w_value * torch.abs(value - tr.warp_coordinates(t_value)).mean()
    if w_jac:
        if jacobian is None or t_jac is None:
            raise ValueError(f"{names[1]} needs local affine frames (FOMM: common_params.estimate_jacobian: true)")
        rel = torch.matmul(torch.inverse(jacobian), torch.matmul(tr.jacobian(t_value), t_jac))
        if sign_fix:
            rel = rel * torch.sign(rel[:, :, 0:1, 0:1])
        eye = torch.eye(2, dtype=rel.dtype, device=rel.device).view(1, 1, 2, 2)
        out[names[1]] = w_jac * torch.abs(eye - rel).mean()
    return out
