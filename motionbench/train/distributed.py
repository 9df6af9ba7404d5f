"""Multi-process training under ``torchrun``: torch.nn.parallel.DistributedDataParallel (gloo on CPU, nccl
on GPU).

A method's training step is two calls (``generator_losses``, ``discriminator_losses``), so, as the official
FOMM and LWGAN trainers do with their ``GeneratorFullModel`` / ``DiscriminatorFullModel``, each step is a
module whose ``forward`` returns that step's losses (:class:`GeneratorStep`, :class:`DiscriminatorStep`),
and each is wrapped in its own DDP: gradients are averaged with DDP's bucketed all-reduce, overlapped with
the backward pass, and buffers are broadcast from rank 0 at every forward. Each wrapper ignores the other
side's parameters and buffers (the generator step runs the discriminator for its GAN term, but only the
discriminator step's gradients train it) and the parameters a method declares unused
(``Animator.unused_parameters``), so ``find_unused_parameters`` is needed only by a configuration whose
forward skips parameters depending on the batch or the loss config (``train.find_unused_parameters=true``).
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, Optional, Set, Tuple

from torch import Tensor, nn

from ..core.distributed import DistContext

__all__ = ["GeneratorStep", "DiscriminatorStep", "wrap_ddp"]


class GeneratorStep(nn.Module):
    """``forward(batch) -> (losses, generated)``: the method's weighted generator loss terms."""

    def __init__(self, model: nn.Module, loss_cfg: Mapping[str, Any]) -> None:
        super().__init__()
        self.model, self.loss_cfg = model, loss_cfg

    def forward(self, batch: Mapping[str, Tensor]) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        return self.model.generator_losses(batch, self.loss_cfg)


class DiscriminatorStep(nn.Module):
    """``forward(batch, generated) -> losses``: the method's discriminator terms plus the trainer's gradient
    penalty (``loss.gradient_penalty``) on the detached generated outputs."""

    def __init__(self, model: nn.Module, loss_cfg: Mapping[str, Any]) -> None:
        super().__init__()
        self.model, self.loss_cfg = model, loss_cfg

    def forward(self, batch: Mapping[str, Tensor], generated: Mapping[str, Any]) -> Dict[str, Tensor]:
        from .optim import gradient_penalty

        losses = dict(self.model.discriminator_losses(batch, generated, self.loss_cfg))
        gp = self.loss_cfg.get("gradient_penalty") or {}
        if gp.get("type", "none") != "none" and float(gp.get("weight", 0)) > 0:
            losses["gradient_penalty"] = float(gp["weight"]) * gradient_penalty(self.model, gp["type"], batch, generated)
        return losses


def _tensor_ids(module: Optional[nn.Module]) -> Set[int]:
    if module is None:
        return set()
    return {id(t) for t in module.parameters()} | {id(t) for t in module.buffers()}


def wrap_ddp(ctx: DistContext, step: nn.Module, train_only: Optional[nn.Module], skip: Optional[nn.Module] = None,
             unused_prefixes: Iterable[str] = (), find_unused_parameters: bool = False) -> nn.Module:
    """``step`` in DistributedDataParallel over ``ctx``'s process group (unchanged in a single process), training
    only the tensors of ``train_only`` (None: all) minus those of ``skip`` and the parameters named by
    ``unused_prefixes`` (relative to ``step.model``)."""
    if not ctx.enabled:
        return step
    keep = _tensor_ids(train_only) if train_only is not None else None
    drop = _tensor_ids(skip)
    prefixes = tuple(f"model.{p}" for p in unused_prefixes)
    named = list(step.named_parameters()) + list(step.named_buffers())
    ignore = [n for n, t in named if (keep is not None and id(t) not in keep) or id(t) in drop
              or n.startswith(prefixes)]
    nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(step, ignore)
    device = next(step.parameters()).device
    return nn.parallel.DistributedDataParallel(
        step, device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=find_unused_parameters)

