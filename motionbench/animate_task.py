"""``task=animate``: animate one source image with one driving video.

Writes ``animate.output`` (the animated video, streamed frame chunk by chunk) and, beside it,
``<output stem>_grid.png`` (rows of source | driving | result at evenly spaced frames). Methods may add
their own figure by implementing ``visualize(source, driving) -> H×W×3 uint8`` (source 1×3×H×W, two
driving frames: the first and the middle one; saved as ``<output stem>_<method>.png``).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List

import numpy as np
import torch

from .build import build_model, resolve_device
from .data.base import DatasetError
from .data.readers import load_image, open_reader
from .data.video import frames_to_tensor
from .runner import effective_cross_mode
from .io_safe import atomic_output
from .train.logging import image_grid, save_png
from .video_out import check_video_output, video_output

log = logging.getLogger("motionbench")

__all__ = ["run_animate_task", "animate_file"]


def animate_file(model, source_path: str, driving_path: str, output: Path, resolution: int, mode: str = "relative",
                 batch_frames: int = 16, max_frames=None, fps=None, device=torch.device("cpu"),
                 grid_rows: int = 4, **animate_kwargs) -> dict:
    """Animate and write the video + grid (atomic, verified); returns {"frames", "video", "grid"}."""
    import imageio.v3 as iio

    if not Path(source_path).is_file():
        raise DatasetError(f"animate.source '{source_path}' does not exist")
    source = frames_to_tensor(load_image(source_path)[None], resolution).to(device)
    reader = open_reader(driving_path)
    total = reader.num_frames if max_frames is None else min(reader.num_frames, int(max_frames))
    show = set(np.linspace(0, total - 1, num=min(grid_rows, total)).round().astype(int).tolist())
    fps = fps or getattr(reader, "fps", None) or 25
    output = check_video_output(output)
    grid_path = output.with_name(f"{output.stem}_grid.png")
    rows: List[List[torch.Tensor]] = []
    model = model.to(device).eval()
    # the grid is written to its temp file before the video is verified and renamed, and renamed after it:
    # a failure in either leaves no new file behind (the grid's own check cannot fail once it is written)
    with torch.inference_mode(), atomic_output(grid_path, iio.imread, "animate grid") as grid_tmp:
        try:
            with video_output(output, fps) as sink:
                state = model.encode_source(source)
                ref = None
                for idx, frames in reader.iter_chunks(batch_frames, stop=total):
                    drv = frames_to_tensor(frames, resolution).to(device)
                    ref = drv[:1] if ref is None else ref
                    out = model.animate(source, drv[None], mode=mode, driving_ref=ref, source_state=state,
                                        **animate_kwargs)[0].clamp(0, 1)
                    for k, i in enumerate(idx):
                        sink.append((out[k].permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8))
                        if i in show:
                            rows.append([source[0].cpu(), drv[k].cpu(), out[k].cpu()])
                if sink.frames != total:
                    raise DatasetError(f"animate.driving '{driving_path}': read {sink.frames} frames, expected {total}")
                iio.imwrite(grid_tmp, image_grid(rows), extension=".png")
        finally:
            reader.close()
    return {"frames": total, "video": str(output), "grid": str(grid_path)}


def run_animate_task(cfg, run_dir: Path) -> dict:
    a = cfg.animate
    if not a.source or not a.driving:
        raise ValueError("task=animate needs animate.source=IMAGE and animate.driving=VIDEO")
    device = resolve_device(cfg.device)
    resolution = int(cfg.dataset.resolution)
    model, ckpt = build_model(cfg.method, cfg.dataset.name, resolution)
    extra = {"find_best_frame": True} if a.find_best_frame else {}
    mode = effective_cross_mode(model, a.mode)
    if mode != a.mode:
        log.warning("method '%s' has no %s mode: animating in %s mode", model.name, a.mode, mode)
    res = animate_file(model, a.source, a.driving, Path(a.output), resolution, mode=mode,
                       batch_frames=a.batch_frames, max_frames=a.max_frames, fps=a.fps, device=device, **extra)
    if hasattr(model, "visualize"):
        src = frames_to_tensor(load_image(a.source)[None], resolution)
        reader = open_reader(a.driving)
        drv = frames_to_tensor(reader.read([0, reader.num_frames // 2]), resolution)
        reader.close()
        with torch.inference_mode():
            fig = model.visualize(src.to(device), drv.to(device))
        res["figure"] = str(save_png(fig, Path(a.output).with_name(f"{Path(a.output).stem}_{model.name}.png")))
    print(f"animated {res['frames']} frames with {cfg.method.name} ({ckpt['tag']}): {res['video']}, grid {res['grid']}"
          + (f", figure {res['figure']}" if "figure" in res else ""))
    return res
