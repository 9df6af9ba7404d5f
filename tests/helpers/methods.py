"""Tiny models, random inputs and weight-free loss configs for the method tests (64×64, random init, CPU)."""
from __future__ import annotations

from typing import Any, Dict, Tuple

import torch

import motionbench
from motionbench.core.config import load_conf_yaml
from motionbench.registries import ANIMATORS


def tiny(name: str) -> motionbench.Animator:
    """Method ``name`` in its ``tiny`` preset (its default without one), seeded, in eval mode."""
    preset = "tiny" if "tiny" in ANIMATORS.get(name).presets() else None
    torch.manual_seed(0)
    return motionbench.create_animator(name, preset=preset)


def clip(b: int = 2, t: int = 3, s: int = 64, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Seeded random sources B×3×S×S and driving clips B×T×3×S×S in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, s, s, generator=g), torch.rand(b, t, 3, s, s, generator=g)


def loss_cfg(method: str, **overrides: Any) -> Dict[str, Any]:
    """The method's loss config (``conf/loss/<method>.yaml``) with the weight-free pixel pyramid (tests never
    download VGG19), ``overrides`` on top."""
    return {**dict(load_conf_yaml(f"loss/{method}.yaml")), "perceptual_kind": "pixel", **overrides}
