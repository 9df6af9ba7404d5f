"""Random-init stand-ins for the metric backbones' weight files, for tests and benchmarks on machines
that never downloaded the published weights.

The files have the published names and layouts, so motionbench loads them through its real code paths
(with ``verify_weights=False``: their sha256 differs); the numbers they give are not comparable with
published ones, only with each other.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import torch

__all__ = ["random_fid_inception_state", "write_random_metric_weights"]


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
