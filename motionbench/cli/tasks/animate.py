"""``task=animate``: animate one source image with one driving video.

Writes ``animate.output`` (the animated video, streamed frame chunk by chunk with a progress bar) and,
beside it, ``<output stem>_grid.png`` (rows of source | driving | result at evenly spaced frames). The
model runs at the resolution its checkpoint was trained at (``animate.resolution`` overrides), and a
checkpoint trained on synthetic puppets applied to a real image (or the reverse) is warned about. Methods
may add their own figure by implementing ``visualize(source, driving) -> H×W×3 uint8`` (source 1×3×H×W, two
driving frames: the first and the middle one; saved as ``<output stem>_<method>.png``).

:func:`iter_animation` (several models over one streamed driving clip) is shared with ``task=compare``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ...core.animator import Animator
from ...core.inference import resolve_dtype
from ...data.base import DatasetError
from ...data.readers import open_reader
from ...data.video import frames_to_tensor
from ...eval.runner import AnimationStream, effective_cross_mode
from ...files.atomic import atomic_output
from ...files.media import image_grid, load_image, save_png
from ...files.video_out import check_video_output, video_output
from ...hub.build import build_model, resolve_device

log = logging.getLogger("motionbench")

__all__ = ["run_animate_task", "animate_file", "iter_animation", "working_resolution", "check_domain",
           "looks_like_puppet"]


def working_resolution(model: Animator, requested: Optional[int], fallback: int) -> int:
    """``requested`` (animate.resolution) > the checkpoint's training resolution > the architecture's > fallback;
    warns when a request differs from what the checkpoint was trained at."""
    trained = model.resolution
    if requested:
        if trained and int(requested) != trained:
            log.warning("method '%s': running at %d×%d although its checkpoint was trained at %d×%d",
                        model.name, requested, requested, trained, trained)
        return int(requested)
    return trained or int(fallback)


def looks_like_puppet(image: Tensor) -> bool:
    """True when at least half of the synthetic puppets' reserved-colour joint markers are found in ``image``
    (3×H×W in [0, 1]): real photos and videos have none of them."""
    from ...metrics.markers import MarkerDetector

    _, found = MarkerDetector()(image[None].float().cpu())
    return bool(found[0].sum() >= found.shape[1] / 2)


def check_domain(model: Animator, source: Tensor, tag: str) -> Optional[str]:
    """A warning (also logged) when the checkpoint's training domain visibly differs from the source image."""
    dataset = model.trained_on.get("dataset")
    if not dataset:
        return None
    puppet = looks_like_puppet(source)
    msg = None
    if dataset == "synthetic" and not puppet:
        msg = (f"method '{model.name}' uses checkpoint {tag}, trained on {model.resolution or 64}×{model.resolution or 64} "
               f"SYNTHETIC PUPPETS, but the source image is not a puppet (no joint markers found): expect a "
               f"meaningless result. For real images use an official checkpoint, e.g. method=fomm "
               f"method.checkpoint=official:vox (faces) or official:taichi (bodies); `python -m motionbench weights`")
    elif dataset != "synthetic" and puppet:
        msg = (f"method '{model.name}' uses checkpoint {tag}, trained on '{dataset}', but the source image is a "
               f"synthetic puppet: use a synthetic checkpoint (method.checkpoint=auto dataset=synthetic)")
    if msg:
        log.warning(msg)
    return msg


def iter_animation(models: Sequence[Animator], source_path: str, driving_path: str, resolutions: Sequence[int],
                   modes: Sequence[str], batch_frames: int = 16, max_frames: Optional[int] = None,
                   device: torch.device = torch.device("cpu"), dtype=None, progress: bool = True,
                   desc: str = "animate", **animate_kwargs) -> Iterator[Tuple[List[int], np.ndarray, List[Tensor]]]:
    """Stream the driving clip once and animate it with every model at its own resolution: yields
    ``(frame indices, driving frames N×H×W×3 as decoded, [result N×3×R_m×R_m per model])`` chunk by chunk,
    with a tqdm bar (frames, rate, ETA)."""
    from tqdm.auto import tqdm

    if not Path(source_path).is_file():
        raise DatasetError(f"animate.source '{source_path}' does not exist")
    sources = [load_image(source_path, size=r)[None].to(device) for r in resolutions]
    reader = open_reader(driving_path)
    total = reader.num_frames if max_frames is None else min(reader.num_frames, int(max_frames))
    streams = [AnimationStream(m.to(device), s, mode, dtype=dtype, **animate_kwargs)
               for m, s, mode in zip(models, sources, modes)]
    bar = tqdm(total=total, desc=desc, unit="frame", disable=not progress, dynamic_ncols=True)
    try:
        for idx, frames in reader.iter_chunks(batch_frames, stop=total):
            outs = [stream(frames_to_tensor(frames, r).to(device)) for stream, r in zip(streams, resolutions)]
            bar.update(len(idx))
            yield idx, frames, outs
    finally:
        bar.close()
        reader.close()


def animate_file(model, source_path: str, driving_path: str, output: Path, resolution: int, mode: str = "relative",
                 batch_frames: int = 16, max_frames=None, fps=None, device=torch.device("cpu"),
                 grid_rows: int = 4, dtype=None, progress: bool = True, **animate_kwargs) -> dict:
    """Animate and write the video + grid (atomic, verified); returns {"frames", "video", "grid"}."""
    import imageio.v3 as iio

    if not Path(source_path).is_file():
        raise DatasetError(f"animate.source '{source_path}' does not exist")
    output = check_video_output(output)
    grid_path = output.with_name(f"{output.stem}_grid.png")
    reader = open_reader(driving_path)
    total = reader.num_frames if max_frames is None else min(reader.num_frames, int(max_frames))
    fps = fps or getattr(reader, "fps", None) or 25
    reader.close()
    show = set(np.linspace(0, total - 1, num=min(grid_rows, total)).round().astype(int).tolist())
    source = load_image(source_path, size=resolution)
    rows: List[List[Tensor]] = []
    # the grid is written to its temp file before the video is verified and renamed, and renamed after it:
    # a failure in either leaves no new file behind (the grid's own check cannot fail once it is written)
    with atomic_output(grid_path, iio.imread, "animate grid") as grid_tmp:
        with video_output(output, fps) as sink:
            for idx, frames, (out,) in iter_animation([model], source_path, driving_path, [resolution], [mode],
                                                      batch_frames, total, device, dtype, progress,
                                                      desc=f"animate {model.name}", **animate_kwargs):
                for k, i in enumerate(idx):
                    sink.append((out[k].permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8))
                    if i in show:
                        rows.append([source, frames_to_tensor(frames[k:k + 1], resolution)[0], out[k].cpu()])
            if sink.frames != total:
                raise DatasetError(f"animate.driving '{driving_path}': read {sink.frames} frames, expected {total}")
            iio.imwrite(grid_tmp, image_grid(rows), extension=".png")
    return {"frames": total, "video": str(output), "grid": str(grid_path)}


def run_animate_task(cfg, run_dir: Path) -> dict:
    a = cfg.animate
    if not a.source or not a.driving:
        raise ValueError("task=animate needs animate.source=IMAGE and animate.driving=VIDEO")
    device = resolve_device(cfg.device)
    model, ckpt = build_model(cfg.method, cfg.dataset.name, int(cfg.dataset.resolution), cfg.weights.download,
                              cfg.weights.verify)
    resolution = working_resolution(model, a.resolution, int(cfg.dataset.resolution))
    if not Path(a.source).is_file():
        raise DatasetError(f"animate.source '{a.source}' does not exist")
    check_domain(model, load_image(a.source, size=resolution), ckpt["tag"])
    dtype = resolve_dtype(a.precision)
    extra = {"find_best_frame": True} if a.find_best_frame else {}
    mode = effective_cross_mode(model, a.mode)
    if mode != a.mode:
        log.warning("method '%s' has no %s mode: animating in %s mode", model.name, a.mode, mode)
    res = animate_file(model, a.source, a.driving, Path(a.output), resolution, mode=mode,
                       batch_frames=a.batch_frames, max_frames=a.max_frames, fps=a.fps, device=device, dtype=dtype,
                       progress=a.progress, **extra)
    src = load_image(a.source, size=resolution)[None]
    reader = open_reader(a.driving)
    drv = frames_to_tensor(reader.read([0, reader.num_frames // 2]), resolution)
    reader.close()
    with model.inference():
        fig = model.visualize(src.to(device), drv.to(device))
    if fig is not None:
        res["figure"] = str(save_png(fig, Path(a.output).with_name(f"{Path(a.output).stem}_{model.name}.png")))
    print(f"animated {res['frames']} frames at {resolution}×{resolution} with {cfg.method.name} ({ckpt['tag']}"
          f"{', ' + a.precision if a.precision != 'fp32' else ''}): {res['video']}, grid {res['grid']}"
          + (f", figure {res['figure']}" if "figure" in res else ""))
    return res
