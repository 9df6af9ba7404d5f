"""Catalogue of the methods' official pretrained checkpoints: what each file is, where it comes from, where
it must be, and which config preset it needs.

Files live in the checkpoint cache beside the other pretrained weights (:func:`motionbench.hub.weights.hub_checkpoints_dir`,
i.e. ``$TORCH_HOME/hub/checkpoints``), under ``motionbench/<method>/<file>``. Use them as
``method.checkpoint=official:<tag>`` on the command line or ``create_animator(method, pretrained=<tag>)``;
``python -m motionbench weights`` lists every entry, present or missing, with its path and source.

Nothing is downloaded unless asked (``weights.download=true`` / ``download=True``), and only from an
entry's direct ``download_url`` (most official files sit in Google-Drive / OneDrive folders, which have
none: those are placed by hand). Downloads go through ``torch.hub.download_url_to_file`` with the sha256
check where the digest is known.

Adding a method's checkpoints (e.g. TPSMM, MRAA): one :func:`register_official` call per file, at the end of
this module (built-in methods) or in a plugin's import code; nothing else changes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .weights import MissingWeightsError, WeightsMismatchError, hub_checkpoints_dir, sha256_of

log = logging.getLogger("motionbench")

__all__ = ["OfficialCheckpoint", "OFFICIAL", "PREFIX", "register_official", "official_entries", "get_official",
           "official_path", "resolve_official", "parse_official", "describe_official", "cache_dir"]

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


OFFICIAL: Dict[Tuple[str, str], OfficialCheckpoint] = {}


def register_official(entry: OfficialCheckpoint, replace: bool = False) -> OfficialCheckpoint:
    key = (entry.method, entry.tag)
    if key in OFFICIAL and not replace:
        raise ValueError(f"official checkpoint {entry.key} is already registered")
    OFFICIAL[key] = entry
    return entry


def official_entries(method: Optional[str] = None) -> List[OfficialCheckpoint]:
    return [e for (m, _), e in sorted(OFFICIAL.items()) if method is None or m == method]


def parse_official(checkpoint: Optional[str]) -> Optional[str]:
    """``"official:vox"`` -> ``"vox"``; anything else -> None."""
    if isinstance(checkpoint, str) and checkpoint.startswith(PREFIX):
        return checkpoint[len(PREFIX):]
    return None


def get_official(method: str, tag: str) -> OfficialCheckpoint:
    from ..registries import ANIMATORS

    method = ANIMATORS.resolve_name(method) if method in ANIMATORS else method
    if (method, tag) not in OFFICIAL:
        known = [e.tag for e in official_entries(method)]
        raise ValueError(f"no official checkpoint '{tag}' for method '{method}' "
                         f"(known: {', '.join(known) if known else 'none'}; `python -m motionbench weights` lists all)")
    return OFFICIAL[(method, tag)]


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
    for e in official_entries():
        p = official_path(e)
        rows.append({"checkpoint": f"official:{e.tag}", "method": e.method, "present": "yes" if p.is_file() else "no",
                     "path": str(p), "trained_on": f"{e.dataset} {e.resolution}²", "preset": e.preset,
                     "source": e.urls[0] + (" (direct download)" if e.download_url else "")})
    return rows


# ---------------------------------------------------------------------------------------- FOMM
# AliaksandrSiarohin/first-order-model README, "Pre-trained checkpoint": one Google-Drive / Yandex-Disk folder
# with <dataset>-cpk.pth.tar per config/<dataset>-256.yaml. vox-adv / taichi-adv (discriminator with use_kp)
# and bair / fashion / nemo are published too but have no motionbench preset or dataset config yet.
_FOMM_URLS = ("https://drive.google.com/open?id=1PyQJmkdCsAkOYwUyaj_l-l0as-iLDgeH", "https://yadi.sk/d/lEw8uRm140L_eQ")
for _tag, _ds in (("vox", "vox"), ("taichi", "taichi"), ("mgif", "mgif")):
    register_official(OfficialCheckpoint(
        method="fomm", tag=_tag, filename=f"{_tag}-cpk.pth.tar", dataset=_ds, resolution=256, preset=f"{_tag}-256",
        urls=_FOMM_URLS, notes=f"config/{_tag}-256.yaml"))

# ---------------------------------------------------------------------------------------- LIA
# wyhsirius/LIA README, "Animation demo": vox.pt / taichi.pt / ted.pt in one Google-Drive folder; run_demo.py
# builds every model at size 256 (ted too).
_LIA_URLS = ("https://drive.google.com/drive/folders/1N4QcnqUQwKUZivFV-YeBuPyH4pGJHooc",)
for _tag in ("vox", "taichi", "ted"):
    register_official(OfficialCheckpoint(
        method="lia", tag=_tag, filename=f"{_tag}.pt", dataset=_tag, resolution=256, preset=f"{_tag}-256",
        urls=_LIA_URLS))

# ---------------------------------------------------------------------------------------- LWGAN
# svip-lab/impersonator README, "Download resources": checkpoints.zip (OneDrive / BaiduPan) holds one generator
# per training set, all named net_epoch_30_id_G.pth (the demo default is lwb_imper_fashion_place).
_LWGAN_URLS = ("https://1drv.ms/u/s!AjjUqiJZsj8whLNyoEh67Uu0LlxquA?e=dkOnhQ", "https://pan.baidu.com/s/1snolk6wphbuHtQ_DeSA06Q")
for _tag, _folder, _what in (("iper", "lwb_imper", "iPER"), ("iper_place", "lwb_imper_place", "iPER + Places"),
                             ("iper_fashion_place", "lwb_imper_fashion_place", "iPER + DeepFashion + Places")):
    register_official(OfficialCheckpoint(
        method="lwgan", tag=_tag, filename=f"{_folder}/net_epoch_30_id_G.pth", dataset="iper", resolution=256,
        preset="iper-256", urls=_LWGAN_URLS,
        notes=f"generator only, trained on {_what} with SMPL flows (unzip checkpoints.zip; keep the sub-folder)"))
