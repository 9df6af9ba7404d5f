"""Random-init stand-ins for the metric backbones' weight files, for tests and benchmarks on machines
that never downloaded the published weights.

The files have the published names and layouts, so motionbench loads them through its real code paths
(with ``verify_weights=False``: their sha256 differs); the numbers they give are not comparable with
published ones, only with each other.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Dict

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["random_fid_inception_state", "write_random_metric_weights", "seeded_random_state", "random_i3d_state",
           "random_iresnet_state", "standin_torchscript_i3d", "save_torchscript"]


def random_fid_inception_state(seed: int = 0) -> Dict[str, torch.Tensor]:
    """State dict of pytorch-fid's FID Inception architecture with a seeded random init.

    He-initialised convolutions and near-identity BatchNorms keep the pool3 features informative (a
    default init collapses them).
    """
    import pytorch_fid.inception as pfi

    captured = {}
    orig_load, orig_url = torch.nn.Module.load_state_dict, pfi.load_state_dict_from_url
    torch.nn.Module.load_state_dict = lambda self, sd, *a, **k: captured.setdefault("m", self)
    pfi.load_state_dict_from_url = lambda *a, **k: {}
    try:
        torch.manual_seed(seed)
        pfi.fid_inception_v3()
    finally:
        torch.nn.Module.load_state_dict, pfi.load_state_dict_from_url = orig_load, orig_url
    sd = captured["m"].state_dict()
    for k, v in sd.items():
        if k.endswith("conv.weight"):
            sd[k] = torch.randn_like(v) * (2.0 / v[0].numel()) ** 0.5
        elif k.endswith("running_var"):
            sd[k] = 0.8 + 0.4 * torch.rand_like(v)
        elif k.endswith("running_mean"):
            sd[k] = 0.05 * torch.randn_like(v)
        elif k.endswith("bn.weight"):
            sd[k] = torch.ones_like(v)
        elif k.endswith("bn.bias"):
            sd[k] = 0.05 * torch.randn_like(v)
    return sd


def write_random_metric_weights(torch_home: Path, seed: int = 0) -> Path:
    """Write random AlexNet (LPIPS trunk) and FID Inception files into ``torch_home/hub/checkpoints``.

    Returns that folder. Point ``TORCH_HOME`` at ``torch_home`` and run with ``weights.verify=false``.
    """
    import torchvision

    from .hub import weights

    folder = Path(torch_home) / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), folder / weights.WEIGHTS["alexnet"].filename)
    torch.save(random_fid_inception_state(seed), folder / weights.WEIGHTS["fid_inception"].filename)
    return folder


def seeded_random_state(state: Dict[str, Tensor], seed: int = 0) -> Dict[str, Tensor]:
    """Random values for every tensor of ``state`` (keys and shapes only are used), reproducible across
    machines and torch versions: numpy's PCG64 draws tensor after tensor in sorted key order, so any
    implementation with the same parameter names and shapes gets the same weights.

    He-normal convolution / linear weights, near-identity BatchNorms (weight 1, bias and running mean
    N(0, 0.05²), running variance U(0.8, 1.2)), PReLU slopes 0.25, small biases: deep stacks keep
    informative activations.
    """
    rng = np.random.default_rng(seed)
    out: Dict[str, Tensor] = {}
    for key in sorted(state):
        v = state[key]
        shape, leaf = tuple(v.shape), key.rsplit(".", 1)[-1]
        if not v.is_floating_point():
            out[key] = v.clone()
            continue
        if leaf == "weight" and len(shape) >= 2:
            arr = rng.standard_normal(shape) * (2.0 / int(np.prod(shape[1:]))) ** 0.5
        elif leaf == "running_var":
            arr = rng.uniform(0.8, 1.2, shape)
        elif leaf == "weight" and ".prelu" in "." + key:
            arr = np.full(shape, 0.25)
        elif leaf == "weight":  # BatchNorm scale
            arr = np.ones(shape)
        else:  # biases, running means
            arr = 0.05 * rng.standard_normal(shape)
        out[key] = torch.from_numpy(arr.astype(np.float32))
    return out


def random_i3d_state(seed: int = 0) -> Dict[str, Tensor]:
    """State dict of :class:`motionbench.metrics.i3d.InceptionI3d` (the layout of VideoGPT's
    ``i3d_pretrained_400.pt``) with :func:`seeded_random_state` values."""
    from .metrics.i3d import InceptionI3d

    return seeded_random_state(InceptionI3d(400).state_dict(), seed)


def random_iresnet_state(arch: str = "r50", seed: int = 0) -> Dict[str, Tensor]:
    """State dict of an arcface_torch iresnet (:class:`motionbench.metrics.arcface.IResNet`) with
    :func:`seeded_random_state` values."""
    from .metrics.arcface import iresnet

    return seeded_random_state(iresnet(arch).state_dict(), seed)


class _I3DStandIn(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False) -> Tensor:
        x = x.float()
        if rescale:
            x = x / 255.0 * 2.0 - 1.0
        if resize:
            x = F.interpolate(x, size=[x.shape[2], 224, 224], mode="trilinear", align_corners=False)
        logits = self.net(x)
        return logits if return_features else F.softmax(logits, dim=1)


def standin_torchscript_i3d(state: Dict[str, Tensor]) -> torch.jit.ScriptModule:
    """A TorchScript module with the call signature of StyleGAN-V's ``i3d_torchscript.pt`` —
    ``forward(x, rescale=False, resize=False, return_features=False)`` — around an InceptionI3d carrying
    ``state``: ``rescale`` maps [0, 255] to [−1, 1] (x / 255 · 2 − 1, as the published module does),
    ``resize`` resizes to T×224×224 (trilinear; not claimed to be the published module's resize),
    ``return_features`` returns the logits instead of their softmax. Save it with :func:`save_torchscript`."""
    from .metrics.i3d import InceptionI3d

    net = InceptionI3d(400)
    net.load_state_dict(state)
    with warnings.catch_warnings():  # "torch.jit.script is deprecated": the published file is TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.script(_I3DStandIn(net.eval()))


def save_torchscript(module: torch.jit.ScriptModule, path: Path) -> None:
    """``torch.jit.save`` without its deprecation warning (the published I3D file is TorchScript)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(module, str(path))
