"""Training observability: scalars (TensorBoard when installed, CSV otherwise) and sample grids."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import List, Mapping

import numpy as np
import torch
from torch import Tensor

__all__ = ["ScalarLogger", "save_sample_grid", "image_grid", "save_png"]


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


def image_grid(rows: List[List[Tensor]], pad: int = 2) -> np.ndarray:
    """Rows of 3×H×W images in [0,1] -> one H×W×3 uint8 grid with white padding."""
    h, w = rows[0][0].shape[-2:]
    ncol = max(len(r) for r in rows)
    grid = np.ones((len(rows) * (h + pad) + pad, ncol * (w + pad) + pad, 3), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y:y + h, x:x + w] = img.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return (grid * 255 + 0.5).astype(np.uint8)


def save_png(array: np.ndarray, path: Path) -> Path:
    """Write a PNG atomically; the written file is decoded again and its shape checked."""
    import imageio.v3 as iio

    from ..io_safe import OutputError, atomic_output

    def verify(tmp: Path) -> None:
        if iio.imread(tmp).shape != array.shape:
            raise OutputError(f"image {path}: written file does not decode to a {array.shape} image")

    with atomic_output(Path(path), verify, what="image") as tmp:
        iio.imwrite(tmp, array, extension=".png")
    return path


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
