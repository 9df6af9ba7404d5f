"""``prepare.preset``: the published datasets (cut from a metadata CSV) and the two own-video modes.

The own-video defaults are video-preprocessing's: ``crop_vox.py`` for faces (tubes of at least 64 frames,
split at 1024 frames or when the IoU with the tube's first box drops below 0.25, box enlarged by 10% and made
square) and ``crop_taichi.py`` for bodies (Keypoint R-CNN people with box score > 0.9 whose head and ankles are
visible, a tube's box fixed at its first detection enlarged by 5%, the tube ending when the person leaves it,
at least 128 and at most 1024 frames).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

__all__ = ["Preset", "PRESETS", "get_preset"]


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str  # "metadata" | "faces" | "bodies"
    resolution: int  # official crop size
    metadata_source: str = ""  # where the metadata CSV is published
    dataset: Optional[str] = None  # the dataset config that reads the result
    min_frames: int = 64
    max_frames: int = 1024
    iou: float = 0.25
    increase: float = 0.1
    min_score: float = 0.9

    def tube_settings(self, o: Any) -> Dict[str, Any]:
        """The tube rules in force (the preset's, overridden by non-null ``prepare.*`` keys)."""
        def pick(key: str) -> Any:
            return getattr(o, key) if getattr(o, key) is not None else getattr(self, key)

        out = {"detect_every": int(o.detect_every), "min_frames": int(pick("min_frames")),
               "max_frames": int(pick("max_frames")), "increase": float(pick("increase"))}
        if self.kind == "faces":
            out["iou"] = float(pick("iou"))
        else:
            out["min_score"] = float(pick("min_score"))
        return out

    def manifest_settings(self, o: Any) -> Dict[str, Any]:
        if self.kind == "metadata":
            return {}
        return {"partition": o.partition, "tubes": self.tube_settings(o)}


PRESETS: Dict[str, Preset] = {p.name: p for p in (
    Preset("taichi", "metadata", 256, "taichi-metadata.csv of https://github.com/AliaksandrSiarohin/video-preprocessing",
           dataset="taichi"),
    Preset("vox", "metadata", 256, "vox-metadata.csv (VoxCeleb1) of "
           "https://github.com/AliaksandrSiarohin/video-preprocessing", dataset="vox"),
    Preset("ted", "metadata", 384, "ted384-metadata.csv, linked from issue #12 of "
           "https://github.com/snap-research/articulated-animation (the data/ted-metadata.csv in that repository "
           "has start = end = 0 in every row)", dataset="ted"),
    Preset("faces", "faces", 256),
    Preset("bodies", "bodies", 256, min_frames=128, increase=0.05),
)}


def get_preset(name: Optional[str]) -> Preset:
    from ..cli.validate import ConfigValueError

    if name not in PRESETS:
        raise ConfigValueError(f"prepare.preset={name}: choose one of {', '.join(PRESETS)} "
                               f"(taichi/vox/ted cut the official chunks from a metadata CSV; faces/bodies find "
                               f"them in your own videos)")
    return PRESETS[name]
