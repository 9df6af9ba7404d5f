"""The CLI tasks, one module each, and the one table ``task=<name>`` is dispatched through (:mod:`motionbench.cli.app`).

* ``benchmark`` (:mod:`.benchmark`): score a method on a dataset -> results.json, per_video.csv, leaderboard rows.
  (:func:`motionbench.eval.runner.run_benchmark` is the protocol runner it calls; ``run_benchmark_task`` is the task.)
* ``animate`` (:mod:`.animate`), ``compare`` (:mod:`.compare`): animate one source with a driving clip.
* ``train`` (:mod:`.train`): the shared trainer.
* ``prepare`` (:mod:`.prepare`): downloaded videos + metadata CSV -> a FOMM-layout dataset (:mod:`motionbench.prepare`).
* ``list`` / ``weights`` (:mod:`.listing`); the ``leaderboard`` sub-command is :func:`motionbench.eval.report.main`.
"""
from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any, Callable

__all__ = ["TASKS", "run_task"]

#: task name -> "module:function(cfg, run_dir)"
TASKS = {
    "benchmark": "benchmark:run_benchmark_task",
    "animate": "animate:run_animate_task",
    "compare": "compare:run_compare_task",
    "train": "train:run_train_task",
    "prepare": "prepare:run_prepare_task",
    "list": "listing:run_list_task",
    "weights": "listing:run_weights_task",
}


def run_task(name: str, cfg: Any, run_dir: Path) -> Any:
    """Run task ``name`` (imported on first use, so ``list`` does not load torch's model code)."""
    if name not in TASKS:
        raise ValueError(f"unknown task '{name}' (choose {', '.join(TASKS)})")
    module, func = TASKS[name].split(":")
    fn: Callable[[Any, Path], Any] = getattr(import_module(f"{__name__}.{module}"), func)
    return fn(cfg, run_dir)
