"""Optimisers, LR schedules and the GAN stabilisers the trainer applies to every method."""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Tuple

import torch
from torch import Tensor, nn

__all__ = ["build_optimizers", "make_scheduler", "apply_spectral_norm", "gradient_penalty"]


def _pick(cfg: Mapping[str, Any], defaults: Mapping[str, Any], key: str, fallback: Any) -> Any:
    """train config value, else the method's official ``train_defaults`` value, else ``fallback``."""
    value = cfg.get(key)
    if value is None:
        value = defaults.get(key, fallback)
    return value


def make_scheduler(opt: torch.optim.Optimizer, cfg: Mapping[str, Any], defaults: Mapping[str, Any]) -> torch.optim.lr_scheduler.LambdaLR:
    """``none`` | ``multistep`` (milestones as fractions of max_steps, ×gamma) | ``linear`` (decay to
    final_lr_fraction) | ``cosine``. Stepped once per training step; a LambdaLR so it checkpoints."""
    kind = cfg.get("scheduler") or "none"
    if kind == "none":
        kind = defaults.get("scheduler", "none")
    total = max(1, int(cfg["max_steps"]))
    milestones = list(cfg.get("milestones") or defaults.get("milestones") or [])
    gamma = float(cfg.get("gamma") if cfg.get("gamma") is not None else defaults.get("gamma", 0.1))
    final = float(cfg.get("final_lr_fraction") if cfg.get("final_lr_fraction") is not None else 0.05)
    if kind == "none":
        fn = lambda step: 1.0  # noqa: E731
    elif kind == "multistep":
        steps = [int(m * total) if m <= 1 else int(m) for m in milestones]
        fn = lambda step: gamma ** sum(step >= s for s in steps)  # noqa: E731
    elif kind == "linear":
        fn = lambda step: 1.0 - (1.0 - final) * min(1.0, step / total)  # noqa: E731
    elif kind == "cosine":
        fn = lambda step: final + (1 - final) * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total)))  # noqa: E731
    else:
        raise ValueError(f"train.scheduler must be none, multistep, linear or cosine, got '{kind}'")
    return torch.optim.lr_scheduler.LambdaLR(opt, fn)


def build_optimizers(model, cfg: Mapping[str, Any], defaults: Mapping[str, Any], adversarial: bool
                     ) -> Tuple[Dict[str, torch.optim.Optimizer], Dict[str, Any]]:
    """Adam for the generator side and (adversarial methods) the discriminator: TTUR = separate lrs."""
    lr_g = float(_pick(cfg, defaults, "lr_generator", 2e-4))
    betas_g = tuple(_pick(cfg, defaults, "betas_generator", (0.5, 0.999)))
    opts = {"generator": torch.optim.Adam([p for p in model.generator_parameters() if p.requires_grad],
                                          lr=lr_g, betas=betas_g)}
    if adversarial:
        lr_d = float(_pick(cfg, defaults, "lr_discriminator", lr_g))
        betas_d = tuple(_pick(cfg, defaults, "betas_discriminator", betas_g))
        opts["discriminator"] = torch.optim.Adam(
            [p for p in model.discriminator_module().parameters() if p.requires_grad], lr=lr_d, betas=betas_d)
    return opts, {k: make_scheduler(o, cfg, defaults) for k, o in opts.items()}


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral norm on every conv / linear weight of the discriminator that does not have it yet."""
    from torch.nn.utils.parametrizations import spectral_norm
    from torch.nn.utils.parametrize import is_parametrized

    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear)) and not is_parametrized(m, "weight") \
                and not hasattr(m, "weight_orig"):
            spectral_norm(m)
    return module


def gradient_penalty(model, kind: str, batch: Mapping[str, Tensor], generated: Mapping[str, Tensor]) -> Tensor:
    """``r1``: E‖∇D(real)‖² (Mescheder et al.); ``wgan-gp``: E(‖∇D(x̂)‖ − 1)² on real/fake interpolates.
    Real and fake images are the method's :meth:`~motionbench.core.animator.Animator.discriminator_inputs`."""
    real, fake = model.discriminator_inputs(batch, generated)
    if kind == "r1":
        x = real.detach().requires_grad_(True)
    elif kind in ("wgan-gp", "wgan_gp"):
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
        x = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    else:
        raise ValueError(f"loss.gradient_penalty.type must be none, r1 or wgan-gp, got '{kind}'")
    logits = model.discriminator_logits(x, batch, generated)
    grads = torch.autograd.grad(sum(l.sum() for l in logits), x, create_graph=True)[0]
    norm2 = grads.pow(2).flatten(1).sum(1)
    return norm2.mean() if kind == "r1" else ((norm2 + 1e-12).sqrt() - 1).pow(2).mean()
