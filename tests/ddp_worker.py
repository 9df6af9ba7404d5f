"""Run by tests/test_trainer.py under torchrun (2 processes, gloo): a few DDP steps, then dump weights."""
import sys
from pathlib import Path

import torch

from motionbench.train.distributed import init_distributed
from motionbench.train.trainer import Trainer, seed_everything
from plugin_src.mbplugin import BlendNet


def main(out: Path) -> None:
    torch.set_num_threads(1)
    dist = init_distributed("gloo")
    seed_everything(1234 + dist.rank)  # different init per rank: broadcast from rank 0 must fix it
    model = BlendNet(channels=4)
    trainer = Trainer(model, {"l1": 1.0, "generator_gan": 1.0, "discriminator_gan": 1.0,
                              "gradient_penalty": {"type": "r1", "weight": 1.0}},
                      {"max_steps": 3, "keep_checkpoints": 1}, {}, out, torch.device("cpu"), dist=dist)
    g = torch.Generator().manual_seed(dist.rank)  # each rank sees different data
    for _ in range(3):
        batch = {"source": torch.rand(2, 3, 16, 16, generator=g), "driving": torch.rand(2, 3, 16, 16, generator=g)}
        trainer.train_step(batch)
    torch.save(model.state_dict(), out / f"rank{dist.rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
