"""The listing tasks: ``list`` (registered methods, datasets, metrics, extractors) and ``weights`` (every
pretrained file motionbench knows, official method checkpoints included)."""
from __future__ import annotations

import os
from typing import List

from ...registries import ANIMATORS, DATASETS, IDENTITY_EMBEDDERS, KEYPOINT_EXTRACTORS, METRICS

__all__ = ["list_task", "weights_task", "official_table", "run_list_task", "run_weights_task", "dataset_roots"]


def list_task(what: str = "all") -> str:
    """Registered methods (with aliases), datasets (+ their configs), metrics, extractors."""
    from importlib import resources

    conf = resources.files("motionbench.conf")
    sections = {
        "methods": ANIMATORS, "datasets": DATASETS, "metrics": METRICS,
        "keypoints": KEYPOINT_EXTRACTORS, "identity": IDENTITY_EMBEDDERS,
    }
    if what != "all" and what not in sections:
        raise ValueError(f"cannot list '{what}': choose from {', '.join(['all', *sections])}")
    lines: List[str] = []
    for key, reg in sections.items():
        if what not in ("all", key):
            continue
        lines.append(f"{key}:")
        for name in reg.names():
            aliases = reg.aliases_of(name)
            extra = f"  (aliases: {', '.join(aliases)})" if aliases else ""
            lines.append(f"  {name}{extra}")
        if key == "datasets":
            lines.append("  dataset configs (dataset=<name>): root, train/test videos")
            lines.extend(f"    {line}" for line in dataset_roots())
    return "\n".join(lines)


def dataset_roots() -> List[str]:
    """One line per dataset config: its root, whether it exists, how many train / test videos it holds (entries
    counted, not decoded), and the manifest digest of a dataset made by ``task=prepare``."""
    from importlib import resources

    from omegaconf import OmegaConf

    from ...prepare.report import dataset_manifest_info, video_entries

    out = []
    for p in sorted(resources.files("motionbench.conf").joinpath("dataset").iterdir(), key=lambda p: p.name):
        if not p.name.endswith(".yaml"):
            continue
        cfg = OmegaConf.create(p.read_text(encoding="utf-8"))
        name = p.name[:-5]
        if cfg.get("type") != "fomm_layout":
            out.append(f"{name}: rendered on the fly (no files)")
            continue
        if OmegaConf.is_missing(cfg, "root"):
            out.append(f"{name}: no default root (set dataset.root=DIR)")
            continue
        root = os.path.abspath(os.path.expanduser(str(cfg.root)))
        if not os.path.isdir(root):
            out.append(f"{name}: {root} (missing)")
            continue
        info = dataset_manifest_info(root)
        counts = {split: len(v) if (v := video_entries(os.path.join(root, split))) is not None else "(no folder)"
                  for split in ("train", "test")}
        manifest = (f", manifest {info['manifest_sha256'][:12]}" + ("" if info.get("manifest_matches") else
                    " (test folder differs)") if info.get("manifest_sha256") else "")
        out.append(f"{name}: {root}: train {counts['train']}, test {counts['test']}{manifest}")
    return out


def weights_task() -> str:
    """Every pretrained weight file motionbench knows: where it must be, present?, source."""
    from ...hub.weights import describe_all

    rows = describe_all()
    lines = ["## metric and loss networks\n", "| name | present | path | used by | source |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['present']} | {r['path']} | {r['used_by']} | {r['source']} |")
    lines.append("\nNothing is downloaded at run time: place missing files at the paths shown "
                 "(TORCH_HOME moves the torch hub cache).")
    return "\n".join(lines) + "\n\n" + official_table()


def official_table() -> str:
    """The official method checkpoints (:mod:`motionbench.hub.pretrained`) as a markdown table."""
    from ...hub.pretrained import describe_official

    lines = ["## official method checkpoints (method=M method.checkpoint=official:TAG, "
             "or create_animator(M, pretrained=TAG))\n",
             "| method | checkpoint | present | path | trained on | preset | source |", "|---|---|---|---|---|---|---|"]
    for r in describe_official():
        lines.append(f"| {r['method']} | {r['checkpoint']} | {r['present']} | {r['path']} | {r['trained_on']} | "
                     f"{r['preset']} | {r['source']} |")
    lines.append("\nPlace a missing file at its path (the name as published), or pass weights.download=true where "
                 "the source is a direct download.")
    return "\n".join(lines)


def run_list_task(cfg, run_dir) -> None:
    print(list_task(cfg.list))


def run_weights_task(cfg, run_dir) -> None:
    print(weights_task())
