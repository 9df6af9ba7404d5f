"""The ``train`` task: builds the dataset, model, trainer and data loader from the composed config and runs
the shared trainer (:mod:`motionbench.train.trainer`)."""
from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger("motionbench")

__all__ = ["run_train_task", "default_run_dir"]


def default_run_dir(method: str, dataset: str, resolution: int) -> Path:
    """Stable per (method, dataset) so that re-running the same command resumes (train.resume=auto)."""
    return Path("runs") / f"{method}-{dataset}{resolution}"


def run_train_task(cfg, hydra_dir: Path) -> Path:
    """Train ``cfg.method`` on ``cfg.dataset``'s train split; returns the exported final checkpoint."""
    import torch
    from omegaconf import OmegaConf
    from torch.utils.data import DataLoader, default_collate

    from ...hub.build import build_dataset, build_model, resolve_device, to_dict
    from ...train.data import FramePairDataset, StepBatchSampler
    from ...core.distributed import init_distributed
    from ...train.trainer import Trainer, seed_everything

    tcfg = to_dict(cfg.train)
    dist = init_distributed(tcfg.get("ddp_backend", "auto"))
    device = resolve_device(cfg.device)
    if device.type == "cuda" and dist.enabled:
        device = torch.device("cuda", torch.cuda.current_device())
    seed = int(tcfg.get("seed", 0))
    seed_everything(seed)
    if tcfg.get("deterministic"):
        torch.use_deterministic_algorithms(True, warn_only=True)
    dataset = build_dataset(cfg.dataset)
    method_cfg = to_dict(cfg.method)
    if method_cfg.get("checkpoint") == "auto":  # training starts from scratch unless a file is named
        method_cfg["checkpoint"] = None
    model, _ = build_model(method_cfg, dataset.name, dataset.resolution)
    if not model.capabilities.trainable:
        raise ValueError(f"method '{model.name}' has nothing to train")
    model.trained_on = {"dataset": dataset.name, "resolution": int(dataset.resolution)}  # saved in every checkpoint
    run_dir = Path(tcfg["run_dir"]) if tcfg.get("run_dir") else default_run_dir(model.name, dataset.name, dataset.resolution)
    run_dir.mkdir(parents=True, exist_ok=True)
    if dist.is_main:
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    trainer = Trainer(model, to_dict(cfg.loss), tcfg, method_cfg.get("train_defaults") or {}, run_dir, device,
                      resolved_config=OmegaConf.to_container(cfg, resolve=True), dist=dist)
    trainer.maybe_resume(str(tcfg.get("resume", "auto")))
    pairs = FramePairDataset(dataset, "train", tcfg.get("num_repeats", 1), seed, tcfg.get("augment"),
                             with_other="other" in model.training_inputs)
    max_steps = int(tcfg["max_steps"])
    sampler = StepBatchSampler(len(pairs), int(tcfg["batch_size"]), seed, start_step=trainer.step,
                               max_steps=max_steps, rank=dist.rank, world_size=dist.world_size)
    # an own generator: creating the loader's iterator draws its workers' base seed from ``generator``, and
    # from the global RNG without one -- after a resume that draw would shift the restored random stream
    loader = DataLoader(pairs, batch_sampler=sampler, num_workers=int(tcfg.get("num_workers") or 0),
                        persistent_workers=False, generator=torch.Generator().manual_seed(seed))
    sample_batch = default_collate([pairs.sample(i, 0) for i in range(min(4, len(pairs)))])
    t0 = time.perf_counter()
    start = trainer.step
    trainer.fit(loader, max_steps, sample_batch)
    final = run_dir / "final.pt"
    if dist.is_main:
        model.save_checkpoint(final, inference_only=True, train_steps=trainer.step,
                              train_seconds=time.perf_counter() - t0)
        print(f"trained {model.name} steps {start}->{trainer.step} in {time.perf_counter() - t0:.1f} s; "
              f"checkpoints in {run_dir / 'checkpoints'}, inference checkpoint (no discriminator) {final}", flush=True)
    dist.close()
    return final
