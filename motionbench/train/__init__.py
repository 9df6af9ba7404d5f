"""The shared trainer (task=train)."""
from __future__ import annotations


def run_train_task(cfg, run_dir):
    raise NotImplementedError("task=train: the shared trainer is not wired yet (issue 6)")
