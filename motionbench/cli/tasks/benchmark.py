"""The ``benchmark`` task (the default): one method on one dataset -> results.json, per_video.csv and leaderboard
rows, through the protocol runner (:func:`motionbench.eval.runner.run_benchmark`, sharded under torchrun)."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Dict, List

import torch
from omegaconf import DictConfig, OmegaConf

from ...eval.distributed import eval_context, run_benchmark_sharded
from ...eval.leaderboard import append_leaderboard, check_leaderboard_writable, leaderboard_rows
from ...eval.results import ResultRecord, markdown_table, provenance
from ...files.atomic import write_text_atomic
from ...eval.runner import BenchmarkOptions
from ...eval.stats import DEFAULT_LEVEL
from ...hub.build import build_dataset, build_model, resolve_device, to_dict

log = logging.getLogger("motionbench")

__all__ = ["run_benchmark_task", "leaderboard_summary", "frame_selection"]


def frame_selection(b: DictConfig) -> str:
    """Which test frames a benchmark scores (FID statistics cache key, leaderboard ``selection`` column)."""
    return f"split={b.split},max_videos={b.max_videos},max_frames={b.max_frames},num_pairs={b.num_pairs},seed={b.seed}"


def _metric_objects(cfg: DictConfig, dataset, device: torch.device):
    from ...metrics import build_metrics, default_metrics
    from ...metrics.base import MetricContext

    b = cfg.benchmark
    names = list(b.metrics) if b.metrics is not None else default_metrics(dataset.name)
    options = dict(to_dict(b.options))
    for key in ("keypoints", "identity", "lpips_net", "fid_cache"):
        if b[key] is not None:
            options[key] = b[key]
    ctx = MetricContext(dataset=dataset.name, resolution=dataset.resolution, device=str(device), compat=b.compat,
                        verify_weights=cfg.weights.verify, cache_dir=b.fid_cache,
                        frame_selection=frame_selection(b),
                        dataset_description=dataset.describe() | {"name": dataset.name},
                        options=options)
    return build_metrics(names, ctx, options)


def run_benchmark_task(cfg: DictConfig, run_dir: Path) -> Dict[str, Any]:
    """Benchmark one method on one dataset; writes results.json, per_video.csv and a leaderboard row."""
    t_start = time.perf_counter()
    b = cfg.benchmark
    if b.compat not in ("default", "pose_eval"):
        raise ValueError(f"benchmark.compat must be 'default' or 'pose_eval', got '{b.compat}'")
    ctx, device = eval_context(resolve_device(cfg.device))  # under torchrun: this rank's device
    check_leaderboard_writable(b.leaderboard)  # refused before the run, not after it
    torch.manual_seed(b.seed)
    dataset = build_dataset(cfg.dataset)
    dataset.videos(b.split)  # validate the data first: a missing root is the first thing a user must fix
    model, ckpt = build_model(cfg.method, dataset.name, dataset.resolution, cfg.weights.download, cfg.weights.verify)
    model.to(device)
    if b.precision != "fp32":  # rows of another precision stay apart on the leaderboard: the tag says it
        ckpt["tag"] = f"{ckpt['tag']}@{b.precision}"
    metrics = _metric_objects(cfg, dataset, device)
    opts = BenchmarkOptions(protocols=list(b.protocols), split=b.split, max_videos=b.max_videos,
                            max_frames=b.max_frames, num_pairs=b.num_pairs, batch_frames=b.batch_frames,
                            same_mode=b.same_mode, cross_mode=b.cross_mode, compat=b.compat, seed=b.seed,
                            progress=b.progress, n_boot=b.n_boot)
    with model.precision(b.precision):
        results = run_benchmark_sharded(model, dataset, metrics, opts, device, ctx)
    ctx.close()  # every collective is done; rank 0 writes the record alone
    if results is None:  # a torchrun rank other than 0: rank 0 gathered its share and writes the results
        return {}
    _require_defined(results)
    wall = time.perf_counter() - t_start
    frames = sum(r.frames for r in results.values())
    anim_s = sum(r.animate_seconds for r in results.values())
    record = ResultRecord(
        method=cfg.method.name,
        checkpoint={**ckpt, "tag": b.checkpoint_tag or ckpt["tag"]},
        dataset=dataset.describe() | {"name": dataset.name},
        benchmark={"compat": b.compat, "split": b.split, "same_mode": b.same_mode,
                   "cross_mode": results["cross_identity"].mode if "cross_identity" in results else b.cross_mode,
                   "selection": frame_selection(b), "n_boot": b.n_boot, "ci_level": DEFAULT_LEVEL, "precision": b.precision},
        results={p: r.metrics for p, r in results.items()},
        protocols={p: {"protocol": r.protocol, "mode": r.mode, "frames": r.frames} for p, r in results.items()},
        metric_settings={m.name: m.settings() for m in metrics},
        seeds={"benchmark": b.seed},
        frames=frames,
        processes=ctx.world_size,
        wall_time_s=wall,
        animate_frames_per_s=frames / anim_s if anim_s > 0 else None,
        run_dir=str(run_dir),
        provenance=provenance(device),
        config=OmegaConf.to_container(cfg, resolve=True),
    )
    if b.save_samples:  # K videos per protocol for the HTML report's gallery (motionbench/samples.py)
        from ...eval.samples import save_samples

        with model.precision(b.precision):
            record.samples = [str(p) for p in save_samples(model, dataset, opts, results, b.save_samples,
                                                           run_dir / "samples", device)]
    run_dir.mkdir(parents=True, exist_ok=True)
    record.write(run_dir / "results.json")
    per_video = [row for r in results.values() for row in r.per_video]
    _write_per_video(run_dir / "per_video.csv", per_video)
    board = append_leaderboard(Path(b.leaderboard), leaderboard_rows(record, per_video))
    print()
    for protocol in results:
        print(markdown_table(record, protocol))
        print()
    print(leaderboard_summary(board, dataset.name))
    print(f"results: {run_dir / 'results.json'}\nleaderboard: {board}\n"
          f"wall time {wall:.1f} s, {record.animate_frames_per_s or 0:.1f} animated frames/s")
    return record.to_json()


def _require_defined(results) -> None:
    """No blank leaderboard rows: a protocol where no metric has a finite value (non-finite model output, too
    few frames) is an error. A single metric undefined on every frame (AKD when no joint is found in an
    untrained model's output) is recorded with its undefined-frame count and shown as "not measurable"."""
    from ...metrics.base import MetricError

    for key, r in results.items():
        bad = {n: m for n, m in r.metrics.items() if not m.defined}
        if bad and len(bad) == len(r.metrics):
            what = ", ".join(f"{n} ({m.n_undefined_frames} undefined frames, {m.n} defined)" for n, m in bad.items())
            raise MetricError(f"protocol {key}: no metric has a finite value ({what}) -- non-finite model output "
                              f"or too few frames (frame 0 is not scored); nothing was written")


def leaderboard_summary(board: Path, dataset: str) -> str:
    """The leaderboard's rows for ``dataset`` as markdown tables: the newest row per method, checkpoint,
    protocol, animation mode, compat setting and frame selection (see :func:`~motionbench.eval.leaderboard.load_latest`)."""
    from ...eval.leaderboard import load_latest
    from ...eval.report import markdown

    df, metrics = load_latest(board)
    return f"## leaderboard {board}: {dataset}, newest row per method, checkpoint, mode, compat and frame selection\n\n" + markdown(
        df[df["dataset"] == dataset], metrics)


def _write_per_video(path: Path, rows: List[Dict[str, Any]]) -> None:
    import pandas as pd

    text = pd.DataFrame(rows).to_csv(index=False, float_format="%.6g") if rows else "protocol,video\n"
    write_text_atomic(path, text)
