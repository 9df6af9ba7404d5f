"""The shared trainer: one loop for every method's ``generator_losses`` / ``discriminator_losses``.

Per step: a generator step on the sum of the method's weighted loss terms, then (adversarial methods
with a non-zero discriminator weight) a discriminator step on its terms plus the trainer's gradient
penalty. The GAN stabilisers are config switches every method gets: TTUR (separate G / D
learning rates), spectral norm on D, R1 / WGAN-GP gradient penalty, one-sided label smoothing (passed to
the method's GAN losses through ``loss_cfg``). Checkpoints are atomic and hold everything needed for an
exact resume (model, optimisers, schedulers, AMP scaler, step, RNG states, resolved config).
"""
from __future__ import annotations

import glob
import logging
import os
import random
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch
from torch import Tensor, nn

from ..core.animator import Animator
from ..core.checkpoint import CheckpointError, save_atomic
from ..core.distributed import DistContext
from .distributed import DiscriminatorStep, GeneratorStep, wrap_ddp
from .logging import ScalarLogger, save_sample_grid
from .optim import apply_spectral_norm, build_optimizers

log = logging.getLogger("motionbench")

__all__ = ["Trainer", "TrainingDiverged", "seed_everything", "latest_checkpoint"]


class TrainingDiverged(RuntimeError):
    pass


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def latest_checkpoint(run_dir: Path) -> Optional[Path]:
    files = glob.glob(str(Path(run_dir) / "checkpoints" / "step-*.pt"))
    if not files:
        return None
    return Path(max(files, key=lambda f: int(re.search(r"step-(\d+)\.pt$", f).group(1))))


def _rng_state() -> Dict[str, Any]:
    """RNG states as tensors / plain numbers so that checkpoints load with weights_only=True."""
    version, py_state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": {"version": version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss": gauss},
             "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """Trains ``model`` on batches from ``loader``; ``train_cfg`` is the resolved ``train`` node."""

    def __init__(self, model: Animator, loss_cfg: Mapping[str, Any], train_cfg: Mapping[str, Any],
                 train_defaults: Mapping[str, Any], run_dir: Path, device: torch.device,
                 resolved_config: Optional[Mapping[str, Any]] = None, dist: Optional[DistContext] = None) -> None:
        self.model = model
        self.loss_cfg = dict(loss_cfg)
        self.cfg = dict(train_cfg)
        self.run_dir = Path(run_dir)
        self.device = device
        self.resolved_config = dict(resolved_config or {})
        self.dist = dist or DistContext()
        if self.loss_cfg.get("spectral_norm") and model.discriminator_module() is not None:
            apply_spectral_norm(model.discriminator_module())
        model.configure_training(self.loss_cfg)
        if self.cfg.get("sync_bn"):
            if self.dist.enabled and device.type != "cuda":
                raise ValueError("train.sync_bn=true needs CUDA devices: torch's SyncBatchNorm has no CPU kernel")
            nn.SyncBatchNorm.convert_sync_batchnorm(model)  # replaces the BatchNorm children in place
        model.to(device)
        self.dist.broadcast_module(model)
        disc = model.discriminator_module()
        self.adversarial = bool(model.capabilities.adversarial and disc is not None
                                and float(model.gan_setting(self.loss_cfg, "discriminator_gan")) > 0
                                and float(model.gan_setting(self.loss_cfg, "generator_gan")) > 0)
        # one DDP per step (a single process runs the step modules directly); see .distributed
        find_unused = bool(self.cfg.get("find_unused_parameters"))
        self.g_step = wrap_ddp(self.dist, GeneratorStep(model, self.loss_cfg), None, skip=disc,
                               unused_prefixes=model.unused_parameters, find_unused_parameters=find_unused)
        self.d_step = wrap_ddp(self.dist, DiscriminatorStep(model, self.loss_cfg), disc,
                               find_unused_parameters=find_unused) if self.adversarial else None
        self.opt, self.sched = build_optimizers(model, self.cfg, train_defaults, self.adversarial)
        self.use_amp = bool(self.cfg.get("amp")) and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.step = 0
        self.ckpt_dir = self.run_dir / "checkpoints"

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> Dict[str, Any]:
        return {**self.model.checkpoint_dict(), "optimizers": {k: o.state_dict() for k, o in self.opt.items()},
                "schedulers": {k: s.state_dict() for k, s in self.sched.items()},
                "scaler": self.scaler.state_dict(), "step": self.step, "rng": _rng_state(),
                "resolved_config": self.resolved_config}

    def save(self) -> Optional[Path]:
        if not self.dist.is_main:
            return None
        path = save_atomic(self.state_dict(), self.ckpt_dir / f"step-{self.step:08d}.pt")
        keep = int(self.cfg.get("keep_checkpoints") or 0)
        if keep > 0:
            files = sorted(glob.glob(str(self.ckpt_dir / "step-*.pt")))
            for old in files[:-keep]:
                os.remove(old)
        return path

    def load(self, path: Path) -> None:
        data = Animator.load_file(path)
        missing = [k for k in ("model", "optimizers", "schedulers", "scaler", "step", "rng") if k not in data]
        if missing:
            raise CheckpointError(
                f"train.resume: checkpoint {path} holds no training state (missing {', '.join(missing)}"
                f"{'; it is an inference checkpoint' if 'model' in data else ''}); resume from a "
                f"<run_dir>/checkpoints/step-*.pt file, or start new training from these weights with "
                f"method.checkpoint={path} train.resume=never")
        self.model.load_state_dict_checked(data["model"], path)
        for k, o in self.opt.items():
            o.load_state_dict(data["optimizers"][k])
        for k, s in self.sched.items():
            s.load_state_dict(data["schedulers"][k])
        self.scaler.load_state_dict(data["scaler"])
        self.step = int(data["step"])
        _set_rng_state(data["rng"])

    def maybe_resume(self, resume: str) -> Optional[Path]:
        if resume in ("never", "none", "false", "", None):
            return None
        path = latest_checkpoint(self.run_dir) if resume == "auto" else Path(resume)
        if path is None:
            return None
        self.load(path)
        if self.dist.is_main:
            log.info("resumed from step %d (%s)", self.step, path)
            print(f"resumed from step {self.step} ({path})", flush=True)
        return path

    # ------------------------------------------------------------------ one step
    def _check_finite(self, losses: Mapping[str, Tensor], what: str) -> None:
        bad = [k for k, v in losses.items() if not torch.isfinite(v.detach()).all()]
        if bad:
            last = latest_checkpoint(self.run_dir)
            raise TrainingDiverged(
                f"non-finite {what} loss {', '.join(bad)} at step {self.step + 1}; training stopped. "
                f"Last good checkpoint: {last or 'none written yet'} (lower the learning rate or enable "
                f"train.grad_clip / loss.gradient_penalty)")

    def _backward_step(self, total: Tensor, params: List[nn.Parameter], name: str) -> None:
        opt = self.opt[name]
        self.scaler.scale(total).backward()  # under DDP: gradients averaged over ranks during the backward
        clip = self.cfg.get("grad_clip")
        if clip:
            self.scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, float(clip))
        self.scaler.step(opt)
        self.scaler.update()

    def train_step(self, batch: Mapping[str, Tensor]) -> Dict[str, float]:
        model = self.model
        model.train()
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        g_params = [p for p in model.generator_parameters() if p.requires_grad]
        self.opt["generator"].zero_grad(set_to_none=True)
        model.train_progress = self.step / max(1, int(self.cfg["max_steps"]))  # for step-scheduled losses (TPSMM)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            losses, generated = self.g_step(batch)
        self._check_finite(losses, "generator")
        total = sum(losses.values())
        self._backward_step(total, g_params, "generator")
        logs = {f"g/{k}": float(v.detach()) for k, v in losses.items()}
        if self.adversarial:
            disc = model.discriminator_module()
            d_params = [p for p in disc.parameters() if p.requires_grad]
            self.opt["discriminator"].zero_grad(set_to_none=True)
            detached = {k: (v.detach() if isinstance(v, Tensor) else v) for k, v in generated.items()}
            with torch.autocast(self.device.type, enabled=self.use_amp):
                d_losses = self.d_step(batch, detached)
            if not d_losses:
                raise ValueError(f"method '{model.name}' returned no discriminator loss terms although the trainer "
                                 f"runs a discriminator step (loss.generator_gan and loss.discriminator_gan > 0)")
            self._check_finite(d_losses, "discriminator")
            self._backward_step(sum(d_losses.values()), d_params, "discriminator")
            logs.update({f"d/{k}": float(v.detach()) for k, v in d_losses.items()})
        for s in self.sched.values():
            s.step()
        self.step += 1
        logs["g/total"] = float(total.detach())
        return logs

    # ------------------------------------------------------------------ loop
    def fit(self, batches, max_steps: int, sample_batch: Optional[Mapping[str, Tensor]] = None,
            progress: bool = True) -> Dict[str, float]:
        from tqdm.auto import tqdm

        scalars = ScalarLogger(self.run_dir / "logs") if self.dist.is_main else None
        bar = tqdm(total=max_steps, initial=self.step, desc=f"train {self.model.name}", unit="step",
                   disable=not (progress and self.dist.is_main), dynamic_ncols=True)
        logs: Dict[str, float] = {}
        t0, start = time.perf_counter(), self.step
        every = lambda k: int(self.cfg.get(k) or 0)  # noqa: E731
        try:
            for batch in batches:
                if self.step >= max_steps:
                    break
                logs = self.train_step(batch)
                bar.update(1)
                if self.step % max(1, every("log_every")) == 0 or self.step in (start + 1, max_steps):
                    logs["lr/generator"] = self.opt["generator"].param_groups[0]["lr"]
                    logs["steps_per_s"] = (self.step - start) / max(1e-9, time.perf_counter() - t0)
                    bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in logs.items() if k.startswith("g/")})
                    if scalars:
                        scalars.log(self.step, logs)
                if sample_batch is not None and every("sample_every") and self.step % every("sample_every") == 0 \
                        and self.dist.is_main:
                    save_sample_grid(self.model, sample_batch, self.run_dir / "samples" / f"step-{self.step:08d}.png")
                if every("checkpoint_every") and self.step % every("checkpoint_every") == 0:
                    self.save()
        finally:
            bar.close()
            if scalars:
                scalars.close()
        self.dist.broadcast_module(self.model)  # DDP broadcasts buffers at each forward; end on rank 0's too
        if self.step % max(1, every("checkpoint_every")) != 0:
            self.save()
        if sample_batch is not None and self.dist.is_main:
            save_sample_grid(self.model, sample_batch, self.run_dir / "samples" / f"step-{self.step:08d}.png")
        return logs
