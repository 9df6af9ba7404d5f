"""The learned puppet pose detector: the synthetic dataset's default keypoint extractor for AKD / MKR.

The marker detector (:mod:`motionbench.data.markers`) needs the 2-px colour markers, which trained models
do not redraw (and which a blur of sigma 1.5 already erases), so on generated frames it finds nothing and
AKD is undefined. This detector is a small U-Net trained on *training-split* renders only (half without
markers, with the degradations generated frames show: blur, desaturation, noise, down/up-sampling, plus
background-only negatives). Per joint it predicts a heatmap whose soft-argmax is the keypoint, and a
confidence (attention-pooled over the heatmap); a joint is *found* when its confidence reaches the
threshold calibrated on held-out training identities whose true visibility is known.

The weights ship with the package (``puppet_pose-v1.pt``, float16, loaded with ``weights_only=True``, its
sha256 recorded in every result); ``benchmarks/train_puppet_pose.py`` trains them and
``benchmarks/eval_puppet_pose.py`` measures the accuracy recorded in the file. The network works at 64²
(the resolution it was trained at): other sizes are resized to 64² and the keypoints scaled back.
"""
from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import KeypointExtractor, MetricError

__all__ = ["PuppetPoseNet", "PuppetPoseDetector", "soft_argmax", "WEIGHTS_FILE", "NET_RESOLUTION"]

WEIGHTS_FILE = "puppet_pose-v1.pt"
NET_RESOLUTION = 64


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def soft_argmax(logits: Tensor) -> Tuple[Tensor, Tensor]:
    """B×K×H×W logits -> (B×K×2 expected pixel coordinates (x, y), B×K×H×W probabilities)."""
    b, k, h, w = logits.shape
    prob = logits.flatten(2).softmax(-1).view(b, k, h, w)
    xs = torch.arange(w, dtype=prob.dtype, device=prob.device)
    ys = torch.arange(h, dtype=prob.dtype, device=prob.device)
    x = (prob.sum(2) * xs).sum(-1)
    y = (prob.sum(3) * ys).sum(-1)
    return torch.stack([x, y], -1), prob


class PuppetPoseNet(nn.Module):
    """U-Net (64² → 8² → 64²) with a heatmap head and an attention-pooled confidence head.

    ``forward(images in [0, 1])`` -> (keypoints B×K×2 pixels, confidence logits B×K, heatmap logits B×K×H×W).
    """

    def __init__(self, num_keypoints: int = 14, channels: Tuple[int, ...] = (16, 32, 64, 96)) -> None:
        super().__init__()
        c0, c1, c2, c3 = channels
        self.num_keypoints = num_keypoints
        self.stem = _block(3, c0)
        self.down1, self.down2, self.down3 = _block(c0, c1, 2), _block(c1, c2, 2), _block(c2, c3, 2)
        self.up2, self.up1, self.up0 = _block(c3 + c2, c2), _block(c2 + c1, c1), _block(c1 + c0, c0)
        self.heatmap = nn.Conv2d(c0, num_keypoints, 1)
        self.confidence = nn.Conv2d(c0, num_keypoints, 1)

    @staticmethod
    def _up(x: Tensor, skip: Tensor, block: nn.Module) -> Tensor:
        return block(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1))

    def forward(self, images: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        x0 = self.stem(images * 2.0 - 1.0)
        x1 = self.down1(x0)
        x2 = self.down2(x1)
        x3 = self.down3(x2)
        y = self._up(self._up(self._up(x3, x2, self.up2), x1, self.up1), x0, self.up0)
        logits = self.heatmap(y)
        kp, prob = soft_argmax(logits)
        conf = (prob * self.confidence(y)).sum((2, 3))
        return kp, conf, logits


def _default_weights() -> Path:
    return Path(str(resources.files("motionbench.metrics").joinpath("weights", WEIGHTS_FILE)))


class PuppetPoseDetector(KeypointExtractor):
    """Keypoints and visibility of synthetic puppets on any image (renders or generated frames).

    Args:
        weights: a weights file (default: the one shipped in the package).
        threshold: confidence (0..1) at which a joint counts as found (default: the calibrated one in the file).
        device: where the network runs.
    """

    name = "puppet_pose"

    def __init__(self, weights: Optional[Union[str, Path]] = None, threshold: Optional[float] = None,
                 device: Union[str, torch.device] = "cpu", batch: int = 256) -> None:
        path = Path(weights) if weights is not None else _default_weights()
        if not path.is_file():
            raise MetricError(f"puppet pose detector: weights file '{path}' not found (the package ships "
                              f"{WEIGHTS_FILE}; train it with benchmarks/train_puppet_pose.py)")
        try:
            data = torch.load(str(path), map_location="cpu", weights_only=True)
            cfg = data["config"]
            self.net = PuppetPoseNet(int(cfg["num_keypoints"]), tuple(int(c) for c in cfg["channels"]))
            self.net.load_state_dict({k: v.float() for k, v in data["state_dict"].items()})
        except Exception as exc:  # noqa: BLE001 - any unreadable/mismatching file is the same user error
            raise MetricError(f"puppet pose detector: cannot load weights '{path}': {exc}") from exc
        self.path = path
        self.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        self.version = str(data.get("version", "unknown"))
        self.accuracy: Dict[str, Any] = dict(data.get("accuracy") or {})
        self.threshold = float(data["threshold"] if threshold is None else threshold)
        self.num_keypoints = self.net.num_keypoints
        self.device = torch.device(device)
        self.batch = int(batch)
        self.net.to(self.device).eval()

    def settings(self) -> Dict[str, Any]:
        """What changes the detections, and the detector's measured accuracy (recorded with AKD/MKR)."""
        return {"name": self.name, "version": self.version, "weights": self.path.name, "sha256": self.sha256,
                "threshold": self.threshold, "net_resolution": NET_RESOLUTION, "accuracy": self.accuracy}

    @torch.no_grad()
    def predict(self, images: Tensor) -> Tuple[Tensor, Tensor]:
        """N×3×H×W in [0, 1] -> (keypoints N×K×2 in the images' pixels, confidence N×K in [0, 1])."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"PuppetPoseDetector expects N×3×H×W images, got shape {tuple(images.shape)}")
        h, w = images.shape[-2:]
        kps, confs = [], []
        for start in range(0, images.shape[0], self.batch):
            x = images[start:start + self.batch].detach().to(self.device, torch.float32)
            if (h, w) != (NET_RESOLUTION, NET_RESOLUTION):
                x = F.interpolate(x, size=(NET_RESOLUTION, NET_RESOLUTION), mode="bilinear", align_corners=False,
                                  antialias=True)
            kp, conf, _ = self.net(x)
            # pixel centres: x_in = (x_net + 0.5) * W / 64 - 0.5
            scale = torch.tensor([w / NET_RESOLUTION, h / NET_RESOLUTION], device=kp.device)
            kps.append(((kp + 0.5) * scale - 0.5).cpu())
            confs.append(conf.sigmoid().cpu())
        if not kps:
            return torch.zeros(0, self.num_keypoints, 2), torch.zeros(0, self.num_keypoints)
        return torch.cat(kps), torch.cat(confs)

    def __call__(self, images: Tensor) -> Tuple[np.ndarray, np.ndarray]:
        """N×3×H×W in [0,1] -> (keypoints N×K×2 float32 pixels, NaN where not found; found N×K bool)."""
        kp, conf = self.predict(images)
        found = (conf >= self.threshold).numpy()
        kp = kp.numpy().astype(np.float32)
        kp[~found] = np.nan
        return kp, found
