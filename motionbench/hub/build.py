"""Build models, datasets and metrics from composed configs (shared by the CLI tasks and the trainer)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import torch
from omegaconf import DictConfig, OmegaConf

from ..core.animator import Animator
from ..data.base import VideoDataset
from ..registries import ANIMATORS, DATASETS
from .pretrained import get_official, parse_official, resolve_official
from .weights import sha256_of

log = logging.getLogger("motionbench")

__all__ = ["to_dict", "resolve_device", "build_dataset", "resolve_preset", "resolve_checkpoint", "build_model",
           "builtin_checkpoint_dir"]


def to_dict(cfg: Any) -> Dict[str, Any]:
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dict(cfg or {})


def resolve_device(name: str) -> torch.device:
    """``auto`` / ``cpu`` / ``cuda[:N]``; one that this machine lacks is a :class:`~motionbench.cli.validate.ConfigValueError`."""
    from ..cli.validate import check_device

    return check_device(name)


def build_dataset(dataset_cfg: Any) -> VideoDataset:
    """``DATASETS[type](**everything except name/type)``; ``name`` is kept as the dataset's name."""
    cfg = to_dict(dataset_cfg)
    kind = cfg.pop("type", None) or cfg.get("name")
    name = cfg.pop("name", kind)
    ds = DATASETS.get(kind)(**cfg)
    ds.name = name
    return ds


def resolve_preset(cls: type, preset: str, dataset_name: str, resolution: int) -> Optional[str]:
    """``auto`` -> "<dataset>-<resolution>" if the method has it, "tiny" on synthetic, else its default."""
    presets = cls.presets()
    if preset != "auto":
        return preset
    for candidate in (f"{dataset_name}-{resolution}", "tiny" if dataset_name == "synthetic" else None):
        if candidate and candidate in presets:
            return candidate
    return cls.default_preset


def builtin_checkpoint_dir() -> Path:
    """Trained synthetic checkpoints shipped with the source tree (benchmarks/checkpoints), or
    ``$MOTIONBENCH_CHECKPOINTS``."""
    env = os.environ.get("MOTIONBENCH_CHECKPOINTS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "benchmarks" / "checkpoints"


def resolve_checkpoint(method: str, checkpoint: Optional[str], dataset_name: str, resolution: int,
                       download: bool = False, verify: bool = True) -> Optional[Path]:
    """``auto`` -> the committed ``<method>-<dataset><resolution>.pt`` if there is one, else None;
    ``official:<tag>`` -> that file of the official-checkpoint catalogue (:mod:`motionbench.hub.pretrained`)."""
    if checkpoint in (None, "", "none", "null"):
        return None
    if checkpoint == "auto":
        path = builtin_checkpoint_dir() / f"{method}-{dataset_name}{resolution}.pt"
        if path.is_file():
            return path
        return None
    tag = parse_official(checkpoint)
    if tag is not None:
        return resolve_official(method, tag, download=download, verify=verify)[0]
    return Path(checkpoint).expanduser()


def build_model(method_cfg: Any, dataset_name: str, resolution: int, download: bool = False,
                verify: bool = True) -> Tuple[Animator, Dict[str, Any]]:
    """The animator of ``method_cfg`` plus checkpoint info ``{"path", "sha256", "tag", "preset"}``.

    The model's ``trained_on`` (dataset, resolution) comes from the checkpoint, the official catalogue, or,
    for the committed ``<method>-<dataset><resolution>.pt`` files, their name."""
    cfg = to_dict(method_cfg)
    name = ANIMATORS.resolve_name(cfg["name"])
    cls = ANIMATORS.get(name)
    official = parse_official(cfg.get("checkpoint"))
    entry = get_official(name, official) if official is not None else None
    preset = cfg.get("preset", "auto")
    preset = entry.preset if (entry is not None and preset == "auto") else resolve_preset(cls, preset, dataset_name, resolution)
    params = cfg.get("params") or {}
    ckpt = resolve_checkpoint(name, cfg.get("checkpoint"), dataset_name, resolution, download=download, verify=verify)
    if ckpt is not None:
        model = cls.from_checkpoint(ckpt, preset=preset, **params).eval()
        if entry is not None:
            model.trained_on = {"dataset": entry.dataset, "resolution": entry.resolution}
        elif cfg.get("checkpoint") == "auto" and not model.trained_on:
            model.trained_on = {"dataset": dataset_name, "resolution": resolution}
        # the trainer's export is always final.pt: its run directory tells runs apart
        tag = (f"official:{official}" if entry is not None else
               f"{ckpt.parent.name}/{ckpt.name}" if ckpt.name == "final.pt" else ckpt.name)
        info = {"path": str(ckpt), "sha256": sha256_of(ckpt), "tag": tag, "preset": preset}
    else:
        if cfg.get("checkpoint") == "auto" and cls.capabilities.trainable:
            log.warning("no trained checkpoint for method '%s' on %s-%d: benchmarking a RANDOMLY INITIALISED "
                        "model (train one with task=train, or pass method.checkpoint=PATH)", name, dataset_name, resolution)
        model = cls.build(preset, **params)
        trainable = any(True for _ in model.parameters())
        info = {"path": None, "sha256": None, "tag": "random-init" if trainable else "none", "preset": preset}
    return model, info
