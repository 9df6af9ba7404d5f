"""Catalogue of the methods' official pretrained checkpoints: what each file is, where it comes from, where
it must be, and which config preset it needs.

Each method declares its own files in its config, the ``official`` node of ``conf/method/<name>.yaml`` (one
entry per tag: ``filename``, ``dataset``, ``resolution``, ``preset``, ``urls``, optional ``download_url``,
``sha256``, ``notes``); the catalogue collects them from every registered method on first use. A method
without a motionbench config (a plugin) calls :func:`register_official` instead.

Files live in the checkpoint cache beside the other pretrained weights (:func:`motionbench.hub.weights.hub_checkpoints_dir`,
i.e. ``$TORCH_HOME/hub/checkpoints``), under ``motionbench/<method>/<file>``. Use them as
``method.checkpoint=official:<tag>`` on the command line or ``create_animator(method, pretrained=<tag>)``;
``python -m motionbench weights`` lists every entry, present or missing, with its path and source.

Nothing is downloaded unless asked (``weights.download=true`` / ``download=True``), and only from an
entry's direct ``download_url`` (most official files sit in Google-Drive / OneDrive folders, which have
none: those are placed by hand). Downloads go through ``torch.hub.download_url_to_file`` with the sha256
check where the digest is known.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..core.config import load_conf_yaml
from .weights import MissingWeightsError, WeightsMismatchError, hub_checkpoints_dir, sha256_of

log = logging.getLogger("motionbench")

__all__ = ["OfficialCheckpoint", "PREFIX", "register_official", "unregister_official", "official_checkpoints", "method_official",
           "get_official", "official_path", "resolve_official", "parse_official", "describe_official", "cache_dir"]

PREFIX = "official:"


@dataclass(frozen=True)
class OfficialCheckpoint:
    method: str  # registry name, e.g. "fomm"
    tag: str  # what users type after "official:", usually the dataset ("vox")
    filename: str  # file name as published (may contain a sub-folder where published names collide)
    dataset: str  # what it was trained on (motionbench dataset name where there is one)
    resolution: int  # training resolution (input size at inference)
    preset: str  # the method config preset that builds the matching network
    urls: Tuple[str, ...]  # official pages / folders where the file is published
    download_url: Optional[str] = None  # a direct link for weights.download=true (None: place it by hand)
    sha256: Optional[str] = None  # full digest once known
    notes: str = ""

    @property
    def key(self) -> str:
        return f"{self.method}:{self.tag}"


#: entries added by :func:`register_official` (methods without a motionbench config, tests); they win over a config's
_REGISTERED: Dict[Tuple[str, str], OfficialCheckpoint] = {}
_FIELDS = {f.name for f in dataclasses.fields(OfficialCheckpoint)} - {"method", "tag"}


def register_official(entry: OfficialCheckpoint, replace: bool = False) -> OfficialCheckpoint:
    """Add an entry for a method whose config does not declare it (e.g. a plugin's)."""
    key = (entry.method, entry.tag)
    if not replace and (key in _REGISTERED or any(e.tag == entry.tag for e in method_official(entry.method))):
        raise ValueError(f"official checkpoint {entry.key} is already registered")
    _REGISTERED[key] = entry
    return entry


def unregister_official(method: str, tag: str) -> None:
    """Remove an entry added by :func:`register_official`."""
    del _REGISTERED[(method, tag)]


def method_official(method: str) -> List[OfficialCheckpoint]:
    """The entries of ``conf/method/<method>.yaml``'s ``official`` node (none for a method without a config)."""
    node: Mapping[str, Any] = load_conf_yaml(f"method/{method}.yaml").get("official") or {}
    entries = []
    for tag, spec in node.items():
        unknown, missing = set(spec) - _FIELDS, {"filename", "dataset", "resolution", "preset", "urls"} - set(spec)
        if unknown or missing:
            raise ValueError(f"conf/method/{method}.yaml: official.{tag} has unknown keys {sorted(unknown)} / lacks "
                             f"{sorted(missing)} (keys: {', '.join(sorted(_FIELDS))})")
        entries.append(OfficialCheckpoint(method=method, tag=str(tag), **{**spec, "urls": tuple(spec["urls"])}))
    return entries


def official_checkpoints(method: Optional[str] = None) -> List[OfficialCheckpoint]:
    """Every catalogue entry (of ``method``, or of every registered method), sorted by method and tag."""
    from ..registries import ANIMATORS

    methods = [ANIMATORS.resolve_name(method) if method in ANIMATORS else method] if method else ANIMATORS.names()
    entries = {(m, e.tag): e for m in methods for e in method_official(m)}
    entries.update({k: e for k, e in _REGISTERED.items() if method is None or k[0] in methods})
    return [entries[k] for k in sorted(entries)]


def parse_official(checkpoint: Optional[str]) -> Optional[str]:
    """``"official:vox"`` -> ``"vox"``; anything else -> None."""
    if isinstance(checkpoint, str) and checkpoint.startswith(PREFIX):
        return checkpoint[len(PREFIX):]
    return None


def get_official(method: str, tag: str) -> OfficialCheckpoint:
    entries = official_checkpoints(method)
    entry = next((e for e in entries if e.tag == tag), None)
    if entry is None:
        known = [e.tag for e in entries]
        raise ValueError(f"no official checkpoint '{tag}' for method '{method}' "
                         f"(known: {', '.join(known) if known else 'none'}; `python -m motionbench weights` lists all)")
    return entry


def cache_dir() -> Path:
    """Where official method checkpoints go: ``<torch hub checkpoints>/motionbench``."""
    return hub_checkpoints_dir() / "motionbench"


def official_path(entry: OfficialCheckpoint) -> Path:
    return cache_dir() / entry.method / entry.filename


def _download(entry: OfficialCheckpoint, path: Path) -> None:
    import torch.hub

    if not entry.download_url:
        raise MissingWeightsError(
            f"official checkpoint {entry.key} ({Path(entry.filename).name}) has no direct download link: "
            f"get it from {entry.urls[0]} and place it at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s from %s to %s", entry.key, entry.download_url, path)
    # hash_prefix: torch checks the sha256 while writing its temporary file and keeps nothing on a mismatch
    try:
        torch.hub.download_url_to_file(entry.download_url, str(path), hash_prefix=entry.sha256, progress=True)
    except RuntimeError as exc:
        if "invalid hash value" in str(exc):
            raise WeightsMismatchError(f"download of {entry.key} from {entry.download_url}: {exc}") from exc
        raise
    if entry.sha256 is None:
        log.warning("%s downloaded without a known sha256 to check; its sha256 is %s", entry.key, sha256_of(path))


def resolve_official(method: str, tag: str, download: bool = False, verify: bool = True) -> Tuple[Path, OfficialCheckpoint]:
    """Path of the official checkpoint ``method:tag`` in the cache (downloaded first with ``download``)."""
    entry = get_official(method, tag)
    path = official_path(entry)
    if not path.is_file():
        if not download:
            raise MissingWeightsError(
                f"official checkpoint {entry.key} not found at {path}: download {Path(entry.filename).name} from "
                f"{entry.urls[0]} and place it there"
                + (" (or pass weights.download=true)" if entry.download_url else ""))
        _download(entry, path)
    elif verify and entry.sha256:
        digest = sha256_of(path)
        if digest != entry.sha256:
            raise WeightsMismatchError(f"{path}: sha256 {digest[:16]}... is not the official {entry.key} "
                                       f"({entry.sha256[:16]}...); pass weights.verify=false to use it anyway")
    return path, entry


def describe_official() -> List[Dict[str, str]]:
    """One row per catalogue entry: key, present?, path, dataset@resolution, preset, source."""
    rows = []
    for e in official_checkpoints():
        p = official_path(e)
        rows.append({"checkpoint": f"official:{e.tag}", "method": e.method, "present": "yes" if p.is_file() else "no",
                     "path": str(p), "trained_on": f"{e.dataset} {e.resolution}²", "preset": e.preset,
                     "source": e.urls[0] + (" (direct download)" if e.download_url else "")})
    return rows
