"""Run by tests/test_trainer.py under torchrun (2 processes, gloo), or in one process with the whole global
batch (``single``): a few training steps of the BlendNet plugin with and without BatchNorm, then the weights
are dumped (``<name>-rank<r>.pt``; the
single process also dumps its initial weights, ``<name>-init.pt``)."""
import sys
from pathlib import Path

import torch

from motionbench.core.distributed import DistContext, init_distributed
from motionbench.train.trainer import Trainer, seed_everything
from plugin_src.mbplugin import BlendNet

STEPS, PER_RANK, WORLD = 3, 2, 2
LOSS = {"l1": 1.0, "generator_gan": 1.0, "discriminator_gan": 1.0, "gradient_penalty": {"type": "r1", "weight": 1.0}}


def global_batches():
    """The same global batches on every rank; rank r trains on rows [r*PER_RANK, (r+1)*PER_RANK)."""
    g = torch.Generator().manual_seed(0)
    n = PER_RANK * WORLD
    return [{"source": torch.rand(n, 3, 16, 16, generator=g), "driving": torch.rand(n, 3, 16, 16, generator=g)}
            for _ in range(STEPS)]


def train(name: str, batch_norm: bool, dist: DistContext, out: Path) -> None:
    seed_everything(1234 + dist.rank)  # different init per rank: the broadcast from rank 0 must fix it
    if dist.world_size == 1:
        seed_everything(1234)  # the single-process reference starts from rank 0's init
    model = BlendNet(channels=4, batch_norm=batch_norm)
    if dist.world_size == 1:
        torch.save(model.state_dict(), out / f"{name}-init.pt")
    trainer = Trainer(model, LOSS, {"max_steps": STEPS, "keep_checkpoints": 1, "checkpoint_every": STEPS}, {},
                      out / name, torch.device("cpu"), dist=dist)
    rows = slice(dist.rank * PER_RANK, (dist.rank + 1) * PER_RANK) if dist.enabled else slice(None)
    trainer.fit([{k: v[rows] for k, v in b.items()} for b in global_batches()], STEPS, progress=False)
    torch.save(model.state_dict(), out / f"{name}-rank{dist.rank}.pt")


def main(out: Path, single: bool) -> None:
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    dist = DistContext() if single else init_distributed("gloo")
    train("bn", True, dist, out)
    train("plain", False, dist, out)
    dist.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), len(sys.argv) > 2 and sys.argv[2] == "single")
