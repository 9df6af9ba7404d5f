"""Config checks run before any work: every value a user can get wrong is refused up front with
one message naming the key, the bad value and the fix, instead of a ZeroDivisionError mid-run, a blank
leaderboard row, or a write error after the whole benchmark has run.
"""
from __future__ import annotations

import inspect
from typing import Any, Iterable, Optional

import torch

__all__ = ["ConfigValueError", "validate_config", "check_device"]


class ConfigValueError(ValueError):
    """A config value that cannot work; the message names the key and how to fix it."""


def _positive(node: Any, prefix: str, keys: Iterable[str], optional: bool = False) -> None:
    for key in keys:
        value = node.get(key)
        if value is None and optional:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            what = "a positive number" + (" or null (no limit)" if optional else "")
            raise ConfigValueError(f"{prefix}.{key}={value}: must be {what}")


def _non_negative(node: Any, prefix: str, keys: Iterable[str]) -> None:
    for key in keys:
        value = node.get(key)
        if value is not None and value < 0:
            raise ConfigValueError(f"{prefix}.{key}={value}: must be >= 0")


def check_device(name: str) -> torch.device:
    """``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` / ``mps``, and only if this machine has it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise ConfigValueError(f"device={name}: unknown device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigValueError(f"device={name}: CUDA is not available on this machine; use device=cpu or device=auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigValueError(f"device={name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigValueError(f"device={name}: MPS is not available on this machine; use device=cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigValueError(f"device={name}: unsupported device type '{dev.type}'; use auto, cpu or cuda")
    return dev


def _check_method(method: Any) -> Any:
    from ..registries import ANIMATORS

    cls = ANIMATORS.get(method.name)
    preset = method.get("preset", "auto")
    if preset not in (None, "auto"):
        known = sorted(cls.presets())
        if preset not in known:
            raise ConfigValueError(f"method.preset={preset}: method '{cls.name}' has no such preset "
                                   f"(known: {', '.join(known) or 'none'}; or method.preset=auto)")
    return cls


def _check_dataset(dataset: Any) -> None:
    if "resolution" in dataset:
        _positive(dataset, "dataset", ["resolution"])
    for key in ("identities", "videos_per_identity", "frames_per_video"):
        node = dataset.get(key)
        for split, value in (node.items() if hasattr(node, "items") else []):
            low = 2 if key == "frames_per_video" else 1
            if value is not None and value < low:
                why = " (frame 0 is the source: a video needs a second frame to score)" if low == 2 else ""
                raise ConfigValueError(f"dataset.{key}.{split}={value}: must be >= {low}{why}")


def _check_benchmark(cfg: Any) -> None:
    from ..eval.leaderboard import check_leaderboard_writable
    from ..eval.runner import PROTOCOLS

    b = cfg.benchmark
    _positive(b, "benchmark", ["batch_frames"])
    _positive(b, "benchmark", ["max_videos", "max_frames", "num_pairs"], optional=True)
    _non_negative(b, "benchmark", ["seed", "n_boot"])
    unknown = [p for p in b.protocols if p not in PROTOCOLS]
    if unknown or not b.protocols:
        raise ConfigValueError(f"benchmark.protocols={list(b.protocols)}: choose one or more of {list(PROTOCOLS)}")
    if b.compat not in ("default", "pose_eval"):
        raise ConfigValueError(f"benchmark.compat={b.compat}: must be 'default' or 'pose_eval'")
    for key in ("same_mode", "cross_mode"):
        if b[key] not in ("absolute", "relative", "avd"):
            raise ConfigValueError(f"benchmark.{key}={b[key]}: must be absolute, relative or avd")
    check_leaderboard_writable(b.leaderboard)


def _check_animate(cfg: Any, cls: type) -> None:
    from ..eval.runner import effective_cross_mode
    from ..files.video_out import check_video_output

    a = cfg.animate
    _positive(a, "animate", ["batch_frames"])
    _positive(a, "animate", ["max_frames", "fps", "resolution"], optional=True)
    if a.mode not in ("absolute", "relative", "avd"):
        raise ConfigValueError(f"animate.mode={a.mode}: must be absolute, relative or avd")
    check_video_output(a.output)
    if a.find_best_frame:
        takes = "find_best_frame" in inspect.signature(cls.animate_state).parameters
        mode = effective_cross_mode(cls, a.mode)
        if not takes or mode != "relative":
            why = (f"method '{cls.name}' has no find_best_frame option" if not takes
                   else f"it needs relative mode and method '{cls.name}' animates in {mode} mode")
            raise ConfigValueError(f"animate.find_best_frame=true: {why}; drop animate.find_best_frame")


def _check_train(cfg: Any) -> None:
    t = cfg.train
    _positive(t, "train", ["batch_size", "max_steps", "num_repeats"])
    _non_negative(t, "train", ["seed", "num_workers", "checkpoint_every", "sample_every", "log_every",
                               "keep_checkpoints"])


def validate_config(cfg: Any) -> Optional[torch.device]:
    """Check the composed config of ``cfg.task`` before any work; returns the device (None for list/weights)."""
    if cfg.task not in ("benchmark", "animate", "train"):
        return None
    device = check_device(cfg.device)
    _check_dataset(cfg.dataset)
    cls = _check_method(cfg.method)
    if cfg.task == "benchmark":
        _check_benchmark(cfg)
    elif cfg.task == "animate":
        _check_animate(cfg, cls)
    else:
        _check_train(cfg)
    return device
