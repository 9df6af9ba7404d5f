"""Animation-via-disentanglement MLP shared by MRAA and TPSMM (Siarohin et al., CVPR 2021, Sec. 3.4).

An identity encoder (source motion parameters) and a pose encoder (driving motion parameters) feed a
decoder that predicts the driving pose re-expressed for the source's shape. Layer names and sizes follow
both official ``modules/avd_network.py`` files (``id_encoder.*``, ``pose_encoder.*``, ``decoder.*``), so their
state dicts load 1:1; the methods only differ in how they flatten their motion parameters.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["AVDMLP"]


def _mlp(sizes, inplace: bool) -> nn.Sequential:
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
