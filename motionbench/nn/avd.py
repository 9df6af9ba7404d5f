"""Animation-via-disentanglement MLP shared by MRAA and TPSMM (Siarohin et al., CVPR 2021, Sec. 3.4).

An identity encoder (source motion parameters) and a pose encoder (driving motion parameters) feed a
decoder that predicts the driving pose re-expressed for the source's shape. Layer names and sizes follow
both official ``modules/avd_network.py`` files (``id_encoder.*``, ``pose_encoder.*``, ``decoder.*``), so their
state dicts load 1:1; the methods only differ in how they flatten their motion parameters.

Training is a second stage (``loss.stage=avd``, official ``train_avd.py``): :func:`configure_stage` freezes
everything but the AVD network, and :func:`random_scale` makes the "other shape" poses it learns from.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn

__all__ = ["AVDMLP", "STAGES", "stage_of", "configure_stage", "random_scale"]

STAGES = ("reconstruction", "avd")


def stage_of(loss_cfg: Mapping[str, Any]) -> str:
    """``loss.stage``: ``reconstruction`` (default) or ``avd``."""
    stage = str(loss_cfg.get("stage", "reconstruction"))
    if stage not in STAGES:
        raise ValueError(f"loss.stage must be one of {STAGES}, got '{stage}'")
    return stage


def configure_stage(model: nn.Module, loss_cfg: Mapping[str, Any]) -> None:
    """In the ``avd`` stage only ``model.avd_network`` trains; every other parameter is frozen."""
    avd = stage_of(loss_cfg) == "avd"
    avd_ids = {id(p) for p in model.avd_network.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in avd_ids or not avd)


def random_scale(scale: float, bs: int, like: Tensor) -> Tensor:
    """B×1×2×2 random diagonal scalings diag(U[1-s, 1+s], U[1-s, 1+s]) (official ``random_scale`` of both
    ``train_avd.py``: emulates objects of another shape); apply with ``torch.matmul(theta, ...)``."""
    theta = torch.rand(bs, 2) * (2 * scale) + (1 - scale)
    return torch.diag_embed(theta).unsqueeze(1).to(like)


def _mlp(sizes: Sequence[int], inplace: bool) -> nn.Sequential:
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.BatchNorm1d(b), nn.ReLU(inplace=inplace)]
    return nn.Sequential(*layers)


class AVDMLP(nn.Module):
    """``embed(identity, pose)`` on flattened B×input_size motion parameters → B×input_size."""

    def __init__(self, input_size: int, id_bottle_size: int = 64, pose_bottle_size: int = 64) -> None:
        super().__init__()
        self.id_encoder = _mlp([input_size, 256, 512, 1024, id_bottle_size], inplace=True)
        self.pose_encoder = _mlp([input_size, 256, 512, 1024, pose_bottle_size], inplace=True)
        self.decoder = _mlp([pose_bottle_size + id_bottle_size, 1024, 512, 256, input_size], inplace=False)

    def embed(self, identity: Tensor, pose: Tensor) -> Tensor:
        return self.decoder(torch.cat([self.pose_encoder(pose), self.id_encoder(identity)], dim=1))
