"""Offline-aware resolution of pretrained weight files (metrics backbones, perceptual-loss VGG, ...).

motionbench never downloads weights at run time. Each file is looked up where its library would cache
it (``torch.hub.get_dir()/checkpoints`` = ``$TORCH_HOME/hub/checkpoints`` for torchvision / pytorch-fid /
face-alignment), its sha256 is checked (on by default; ``verify=False`` accepts other files, e.g.
fine-tuned or test weights), and a missing file raises :class:`MissingWeightsError` naming the file, the
place it belongs, where it comes from, and the command ``python -m motionbench weights``.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

__all__ = ["WeightFile", "WEIGHTS", "MissingWeightsError", "WeightsMismatchError", "register_weight",
           "weight_path", "resolve", "sha256_of", "describe_all", "hub_checkpoints_dir"]


class MissingWeightsError(FileNotFoundError):
    pass


class WeightsMismatchError(ValueError):
    pass


@dataclass(frozen=True)
class WeightFile:
    name: str  # motionbench's key, e.g. "vgg19"
    filename: str  # file name in the cache folder
    source: str  # where it comes from (URL or package)
    used_by: str  # which metric / loss needs it
    sha256: Optional[str] = None  # full digest, or None to check only the prefix in the file name
    sha256_prefix: Optional[str] = None  # torch.hub convention: the hex after the last '-' in the name
    location: str = "hub_checkpoints"  # folder kind, see _folder()


WEIGHTS: Dict[str, WeightFile] = {}


def register_weight(w: WeightFile) -> WeightFile:
    WEIGHTS[w.name] = w
    return w


def hub_checkpoints_dir() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def _folder(w: WeightFile) -> Path:
    if w.location == "hub_checkpoints":
        return hub_checkpoints_dir()
    raise ValueError(f"unknown weight location {w.location!r} for {w.name}")


def weight_path(name: str) -> Path:
    """Where the file for ``name`` must be (whether or not it is there)."""
    w = _get(name)
    return _folder(w) / w.filename


def sha256_of(path: os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def resolve(name: str, verify: bool = True) -> Path:
    """Path of an existing, verified weight file; raises a clear error otherwise. Never downloads."""
    w = _get(name)
    path = weight_path(name)
    if not path.is_file():
        raise MissingWeightsError(
            f"pretrained weights '{w.filename}' for {w.used_by} not found at {path}. "
            f"Get it from {w.source} and place it there (or set TORCH_HOME); "
            f"`python -m motionbench weights` lists every file motionbench needs.")
    if verify:
        digest = sha256_of(path)
        expected = w.sha256 or w.sha256_prefix
        if expected and not digest.startswith(expected):
            raise WeightsMismatchError(
                f"{path}: sha256 {digest[:16]}... does not match the expected {expected[:16]}... of {w.source}; "
                f"pass weights.verify=false to use a different (e.g. fine-tuned or test) file")
    return path


def describe_all() -> List[Dict[str, str]]:
    """One row per known weight file: name, file, where it must be, present?, source, used by."""
    rows = []
    for w in sorted(WEIGHTS.values(), key=lambda x: x.name):
        p = weight_path(w.name)
        rows.append({"name": w.name, "file": w.filename, "path": str(p), "present": "yes" if p.is_file() else "no",
                     "used_by": w.used_by, "source": w.source})
    return rows


def _get(name: str) -> WeightFile:
    if name not in WEIGHTS:
        raise KeyError(f"unknown weight file '{name}' (known: {', '.join(sorted(WEIGHTS))})")
    return WEIGHTS[name]


register_weight(WeightFile(
    name="vgg19", filename="vgg19-dcbb9e9d.pth", sha256_prefix="dcbb9e9d",
    source="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth (torchvision VGG19_Weights.IMAGENET1K_V1)",
    used_by="the VGG19 pyramid perceptual loss (training)"))
