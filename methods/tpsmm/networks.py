"""TPSMM's keypoint detector, background motion predictor and AVD network (official ``modules/``).

``KPDetector`` and ``BGMotionPredictor`` are torchvision ResNet-18s under ``fg_encoder`` / ``bg_encoder`` (a
real dependency, as in the official code), so their state dicts equal the official ones. ``AVDNetwork`` is
the MLP shared with MRAA (:class:`motionbench.nn.avd.AVDMLP`) on flattened keypoints.
"""
from __future__ import annotations

from typing import Dict

import torch
from torch import Tensor, nn

from motionbench.nn.avd import AVDMLP

__all__ = ["KPDetector", "BGMotionPredictor", "AVDNetwork"]

KP = Dict[str, Tensor]


def _resnet18(num_outputs: int) -> nn.Module:
    from torchvision.models import resnet18

    return resnet18(weights=None, num_classes=num_outputs)


class KPDetector(nn.Module):
    """Image B×C×H×W in [0, 1] → ``{"fg_kp": B×5K×2}`` in [-1, 1] (sigmoid of a ResNet-18 regression)."""

    def __init__(self, num_tps: int, **_: object) -> None:
        super().__init__()
        self.num_tps = num_tps
        self.fg_encoder = _resnet18(num_tps * 5 * 2)

    def forward(self, image: Tensor) -> KP:
        fg_kp = torch.sigmoid(self.fg_encoder(image)) * 2 - 1
        return {"fg_kp": fg_kp.view(fg_kp.shape[0], self.num_tps * 5, -1)}


class BGMotionPredictor(nn.Module):
    """(source, driving) → B×3×3 affine background transform (third row [0, 0, 1]); starts at the identity."""

    def __init__(self) -> None:
        super().__init__()
        self.bg_encoder = _resnet18(6)
        self.bg_encoder.conv1 = nn.Conv2d(6, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)
        with torch.no_grad():
            self.bg_encoder.fc.weight.zero_()
            self.bg_encoder.fc.bias.copy_(torch.tensor([1.0, 0, 0, 0, 1, 0]))

    def forward(self, source_image: Tensor, driving_image: Tensor) -> Tensor:
        bs = source_image.shape[0]
        prediction = self.bg_encoder(torch.cat([source_image, driving_image], dim=1))
        bottom = torch.tensor([0.0, 0.0, 1.0], dtype=prediction.dtype, device=prediction.device).expand(bs, 1, 3)
        return torch.cat([prediction.view(bs, 2, 3), bottom], dim=1)


class AVDNetwork(AVDMLP):
    """Animation via disentanglement on TPSMM keypoints: ``forward(kp_source, kp_driving) → {"fg_kp"}``."""

    def __init__(self, num_tps: int, id_bottle_size: int = 64, pose_bottle_size: int = 64) -> None:
        super().__init__(5 * 2 * num_tps, id_bottle_size, pose_bottle_size)
        self.num_tps = num_tps

    def forward(self, kp_source: KP, kp_random: KP) -> KP:
        bs = kp_source["fg_kp"].shape[0]
        rec = self.embed(kp_source["fg_kp"].reshape(bs, -1), kp_random["fg_kp"].reshape(bs, -1))
        return {"fg_kp": rec.view(bs, self.num_tps * 5, -1)}
