"""``task=compare``: several methods on one source image + driving clip, side by side.

``python -m motionbench task=compare methods=[fomm,lia] animate.source=face.png animate.driving=drive.mp4``
writes ``compare.output`` (an mp4: source | driving | one column per method, each captioned with the method
and its checkpoint) and ``<stem>_grid.png`` (the same columns at evenly spaced frames). Every method runs at
its checkpoint's resolution (``animate.resolution`` overrides) on one streamed pass over the driving clip;
columns are shown at the largest of those resolutions. Checkpoints: ``compare.checkpoints={fomm: official:vox}``,
else ``method.checkpoint`` for the method named by ``method=``, else each method config's default (``auto``).
``compare.gallery=PAGE.html`` also writes the same columns as a self-contained HTML page playing them in sync
(one play / pause / scrub control, as the report's gallery; the column videos are kept in ``<run dir>/gallery/``).
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...core.animator import Animator
from ...core.config import load_conf_yaml
from ...core.inference import resolve_dtype
from ...data.readers import open_reader
from ...data.video import frames_to_tensor
from ...eval.runner import effective_cross_mode
from ...files.media import load_image, save_png, save_video
from ...files.video_out import video_output
from ...hub.build import build_model, resolve_device, to_dict
from .animate import check_domain, iter_animation, working_resolution

log = logging.getLogger("motionbench")

MIN_DISPLAY = 128  # columns are shown at least this large (legible captions; results of 64² checkpoints upscaled)

__all__ = ["run_compare_task", "caption_bar", "side_by_side", "with_caption"]


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # scalable (Pillow >= 10.1 with FreeType)
    except TypeError:
        return ImageFont.load_default()


def caption_bar(labels: Sequence[str], width: int) -> np.ndarray:
    """A white band with one centred caption (may hold a newline) per ``width``-pixel column: H×(n·width)×3 uint8."""
    from PIL import Image, ImageDraw

    font = _font(max(10, width // 16))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def fit(line: str) -> str:  # cut a line that is wider than its column, marking the cut with "…"
        cut = line
        while len(cut) > 1 and probe.textlength(cut if cut == line else cut + "…", font=font) > width - 4:
            cut = cut[:-1]
        return cut if cut == line else cut + "…"

    labels = ["\n".join(fit(line) for line in label.split("\n")) for label in labels]
    boxes = [probe.multiline_textbbox((0, 0), label, font=font) for label in labels]
    height = max(b[3] - b[1] for b in boxes) + 8
    height += height % 2  # even frame sizes for H.264
    img = Image.new("RGB", (width * len(labels), height), "white")
    draw = ImageDraw.Draw(img)
    for i, (label, box) in enumerate(zip(labels, boxes)):
        x = i * width + max(0, (width - (box[2] - box[0])) // 2)
        draw.multiline_text((x, 4 - box[1]), label, fill="black", font=font, align="center")
    return np.asarray(img)


def _fit(frames: Tensor, size: int) -> Tensor:
    frames = frames.detach().float().cpu()
    if frames.shape[-1] != size or frames.shape[-2] != size:
        frames = F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return frames.clamp(0, 1)


def side_by_side(columns: Sequence[Tensor], size: int) -> np.ndarray:
    """N frames of side-by-side columns (each N×3×R×R, resized to ``size``): N×size×(n·size)×3 uint8."""
    row = torch.cat([_fit(col, size) for col in columns], dim=-1)  # N×3×size×(n·size)
    return (row.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)


def with_caption(frames: np.ndarray, bar: np.ndarray) -> np.ndarray:
    """Put the caption band ``bar`` (from :func:`caption_bar`) on top of every frame."""
    return np.concatenate([np.broadcast_to(bar, (frames.shape[0], *bar.shape)), frames], axis=1)


def _grid(rows: List[np.ndarray], bar: np.ndarray, gap: int = 2) -> np.ndarray:
    """The caption band on top of the given rows (each size×(n·size)×3), separated by white gaps."""
    white = np.full((gap, rows[0].shape[1], 3), 255, np.uint8)
    parts = [bar]
    for r in rows:
        parts += [white, r]
    return np.concatenate(parts, axis=0)


def _method_cfg(cfg, name: str) -> Dict[str, Any]:
    """The method's config: the composed ``method`` node for the method named by ``method=``, else its yaml."""
    from ...registries import ANIMATORS

    canonical = ANIMATORS.resolve_name(name)
    if ANIMATORS.resolve_name(cfg.method.name) == canonical:
        mcfg = to_dict(cfg.method)
    else:
        mcfg = load_conf_yaml(f"method/{canonical}.yaml") or {"name": canonical, "checkpoint": "auto"}
        mcfg.setdefault("name", canonical)
    checkpoints = to_dict(cfg.compare.checkpoints)
    for key in (name, canonical):
        if key in checkpoints:
            mcfg["checkpoint"] = checkpoints[key]
    return mcfg


def run_compare_task(cfg, run_dir: Path) -> Dict[str, Any]:
    a, c = cfg.animate, cfg.compare
    names = list(cfg.methods or [])
    if len(names) < 1:
        raise ValueError("task=compare needs methods=[m1,m2,...] (e.g. methods=[fomm,lia])")
    if not a.source or not a.driving:
        raise ValueError("task=compare needs animate.source=IMAGE and animate.driving=VIDEO")
    if not Path(a.source).is_file():
        raise ValueError(f"animate.source '{a.source}' does not exist")
    if c.gallery:  # refused before any work
        from ...eval.htmlreport import check_page_output

        check_page_output(c.gallery, "compare.gallery")
    device = resolve_device(cfg.device)
    fallback = int(cfg.dataset.resolution)
    models: List[Animator] = []
    labels, resolutions, modes, warnings = [], [], [], []
    for name in names:
        model, info = build_model(_method_cfg(cfg, name), cfg.dataset.name, fallback, cfg.weights.download,
                                  cfg.weights.verify)
        res = working_resolution(model, a.resolution, fallback)
        msg = check_domain(model, load_image(a.source, size=res), info["tag"])
        if msg:
            warnings.append(msg)
        models.append(model)
        resolutions.append(res)
        modes.append(effective_cross_mode(model, a.mode))
        labels.append(f"{model.name}\n{info['tag']}")
    size = max(*resolutions, MIN_DISPLAY)
    reader = open_reader(a.driving)
    total = reader.num_frames if a.max_frames is None else min(reader.num_frames, int(a.max_frames))
    fps = a.fps or getattr(reader, "fps", None) or 25
    reader.close()
    show = set(np.linspace(0, total - 1, num=min(int(c.grid_rows), total)).round().astype(int).tolist())
    source = load_image(a.source, size=size)[None]
    all_labels = ["source", "driving", *labels]
    bar = caption_bar(all_labels, size)
    rows: List[np.ndarray] = []
    # compare.gallery: every column but the source also as its own video (run dir/gallery/), for the HTML page
    columns = {f"{j}-{name}": j for j, name in enumerate(["driving", *names], start=1)} if c.gallery else {}

    def frames(sinks):
        for idx, drv, outs in iter_animation(models, a.source, a.driving, resolutions, modes, a.batch_frames, total,
                                             device, resolve_dtype(a.precision), a.progress, desc="compare"):
            plain = side_by_side([source.expand(len(idx), -1, -1, -1), frames_to_tensor(drv, size), *outs], size)
            rows.extend(plain[k] for k, i in enumerate(idx) if i in show)
            for name, j in columns.items():
                for frame in plain[:, :, j * size:(j + 1) * size]:
                    sinks[name].append(frame)
            yield with_caption(plain, bar)

    out = Path(c.output)
    with contextlib.ExitStack() as stack:
        sinks = {name: stack.enter_context(video_output(run_dir / "gallery" / f"{name}.mp4", fps, "compare.gallery"))
                 for name in columns}
        video = save_video(frames(sinks), out, fps=fps)
    grid = save_png(_grid(rows, bar), out.with_name(f"{out.stem}_grid.png"))
    print(f"compared {', '.join(names)} on {total} frames ({size}×{size} columns): {video}, grid {grid}")
    result = {"frames": total, "video": str(video), "grid": str(grid), "resolutions": dict(zip(names, resolutions)),
              "warnings": warnings}
    if c.gallery:
        from ...eval.htmlreport import write_gallery_page

        src = save_png(side_by_side([source], size)[0], run_dir / "gallery" / "0-source.png")
        cells = [("image", src, "source image")] + [("video", run_dir / "gallery" / f"{name}.mp4", label)
                                                    for name, label in zip(columns, ["driving clip", *labels])]
        result["gallery"] = str(write_gallery_page(
            Path(c.gallery), f"{', '.join(names)}: {Path(a.source).name} driven by {Path(a.driving).name}",
            ["source", "driving", *names], Path(a.driving).name, cells, fps))
        print(f"gallery: {result['gallery']}")
    return result
