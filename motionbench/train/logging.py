"""Training observability: scalars (TensorBoard when installed, CSV otherwise) and sample grids."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor

from ..files.media import image_grid, save_png

__all__ = ["ScalarLogger", "save_sample_grid"]


class ScalarLogger:
    """``log(step, {name: value})`` to TensorBoard event files, or to ``scalars.csv`` (long format:
    step,name,value) when the tensorboard package is not installed."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.writer = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(folder))
        except ImportError:
            self._file = open(folder / "scalars.csv", "a", newline="")
            self._csv = csv.writer(self._file)
            if self._file.tell() == 0:
                self._csv.writerow(["step", "name", "value"])

    def log(self, step: int, values: Mapping[str, float]) -> None:
        for k, v in values.items():
            if self.writer is not None:
                self.writer.add_scalar(k, v, step)
            else:
                self._csv.writerow([step, k, f"{v:.6g}"])
        if self.writer is None:
            self._file.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        else:
            self._file.close()


@torch.no_grad()
def save_sample_grid(model, batch: Mapping[str, Tensor], path: Path, max_rows: int = 4) -> Path:
    """source | driving | result, one row per sample (model put back in its previous mode)."""
    was_training = model.training
    model.eval()
    try:
        src, drv = batch["source"][:max_rows], batch["driving"][:max_rows]
        dev = next(iter(model.parameters()), torch.empty(0)).device
        out = model.animate(src.to(dev), drv.to(dev)).cpu()
    finally:
        model.train(was_training)
    return save_png(image_grid([[s, d, o] for s, d, o in zip(src, drv, out)]), path)
