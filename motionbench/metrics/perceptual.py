"""LPIPS through the ``lpips`` package, with weights resolved offline.

The network is ``lpips.LPIPS`` itself (version 0.1, AlexNet trunk by default, VGG16 selectable); only the
loading is motionbench's: the trunk (torchvision ImageNet weights) comes from the torch.hub cache and the
calibrated linear heads from the lpips package, both through :mod:`motionbench.hub.weights`, so nothing is ever
downloaded. Inputs are mapped from [0, 1] to [-1, 1] as LPIPS expects (``input_range`` records it; some
papers fed [0, 1] and under-reported, ``input_range="[0,1]"`` reproduces that for comparison only).
"""
from __future__ import annotations

import contextlib
import io
import re
import warnings
from typing import Any, Dict

import numpy as np
import torch

from .base import FrameBatch, FrameMetric, MetricContext, MetricError
from .common import load_state_dict_file, option, resolve_weight

__all__ = ["LPIPS", "build_lpips"]

_TRUNKS = {"alex": ("alexnet", "lpips_alex_lin"), "vgg": ("vgg16", "lpips_vgg_lin")}


def build_lpips(net: str, context: MetricContext) -> torch.nn.Module:
    """An ``lpips.LPIPS(net=net, version='0.1')`` in eval mode with offline-resolved weights."""
    import lpips

    net = {"alexnet": "alex", "vgg16": "vgg"}.get(net, net)
    if net not in _TRUNKS:
        raise MetricError(f"lpips: unknown net '{net}' (choose 'alex' or 'vgg')")
    trunk_name, lin_name = _TRUNKS[net]
    trunk_path = resolve_weight(trunk_name, context, "lpips")
    lin_path = resolve_weight(lin_name, context, "lpips")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # torchvision's 'pretrained' deprecation inside lpips
        model = lpips.LPIPS(pretrained=False, net=net, version="0.1", pnet_rand=True, verbose=False)
    # trunk: torchvision 'features.<i>.*' -> lpips 'slice<k>.<i>.*' (lpips keeps the feature indices)
    tv = load_state_dict_file(trunk_path)
    mapped = {}
    for key in model.net.state_dict():
        _, idx, leaf = key.split(".")
        src = f"features.{idx}.{leaf}"
        if src not in tv:
            raise MetricError(f"lpips: {trunk_path} has no '{src}'; is it the torchvision {trunk_name} state dict?")
        mapped[key] = tv[src]
    model.net.load_state_dict(mapped, strict=True)
    lin = load_state_dict_file(lin_path)
    result = model.load_state_dict(lin, strict=False)
    lin_missing = sorted(k for k in result.missing_keys if re.match(r"lin\d", k))  # lins.* alias lin<k>.*
    if result.unexpected_keys or lin_missing:
        raise MetricError(f"lpips: {lin_path} does not match the LPIPS {net} linear heads "
                          f"(missing {lin_missing[:4]}, "
                          f"unexpected {result.unexpected_keys[:4]})")
    return model.eval().to(context.device)


class LPIPS(FrameMetric):
    """Learned perceptual distance (Zhang et al. 2018), one value per frame; lower is better."""

    name = "lpips"
    outputs = {"lpips": False}

    def __init__(self, context=None, net: str | None = None, input_range: str = "[-1,1]", batch_size: int = 32,
                 **options: Any) -> None:
        super().__init__(context, **options)
        self.net = str(option({"net": net}, self.context, "net", "alex", global_key="lpips_net"))
        if input_range not in ("[-1,1]", "[0,1]"):
            raise MetricError(f"lpips: input_range must be '[-1,1]' (correct) or '[0,1]', got {input_range!r}")
        self.input_range = input_range
        self.batch_size = int(batch_size)
        self.model = build_lpips(self.net, self.context)

    @torch.no_grad()
    def per_frame(self, batch: FrameBatch) -> Dict[str, np.ndarray]:
        if batch.target is None:
            raise MetricError(f"lpips needs a target frame; video '{batch.video}' has none")
        dev = next(self.model.parameters()).device
        out = []
        for i in range(0, len(batch.generated), self.batch_size):
            g = batch.generated[i:i + self.batch_size].to(dev, torch.float32).clamp(0, 1)
            t = batch.target[i:i + self.batch_size].to(dev, torch.float32).clamp(0, 1)
            if self.input_range == "[-1,1]":
                g, t = g * 2 - 1, t * 2 - 1
            out.append(self.model(g, t).reshape(-1).double().cpu().numpy())
        return {"lpips": np.concatenate(out)}

    def settings(self) -> Dict[str, Any]:
        return {"net": self.net, "version": "0.1", "lpips_input_range": self.input_range,
                "implementation": "lpips.LPIPS", "trunk_weights": _TRUNKS[self.net][0]}
