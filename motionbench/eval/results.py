"""The result record of a run (results.json, a typed :class:`ResultRecord`), atomic writers and the per-run
markdown table (DESIGN §7). The leaderboard CSV lives in :mod:`motionbench.eval.leaderboard`.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ..files.atomic import write_bytes_atomic

__all__ = ["PROTOCOL_VERSION", "SCHEMA_VERSION", "ResultRecord", "write_json_atomic", "markdown_table",
           "write_text_atomic", "format_value"]

PROTOCOL_VERSION = "motionbench-protocol-2"  # 2: bootstrap intervals, fg metrics, learned puppet detector
SCHEMA_VERSION = 1  # layout of results.json (ResultRecord's fields)


@dataclass
class ResultRecord:
    """One benchmark run, as written to results.json (schema :data:`SCHEMA_VERSION`).

    ``results[key][metric]`` holds ``value``, ``higher_is_better``, ``n``, ``ci_low``, ``ci_high``,
    ``n_boot`` (and frame/video means, undefined frames, aggregation); ``key`` is the protocol, or
    ``protocol@mode`` for a floor's extra cross-identity mode, described in ``protocols[key]``
    (``protocol``, ``mode``, ``frames``). ``checkpoint``: tag, path, sha256; ``dataset``: the dataset's
    settings and name; ``benchmark``: compat, split, modes, frame selection, n_boot, precision;
    ``provenance``: versions (motionbench, git, torch and the metric libraries), device, date.
    """

    method: str
    checkpoint: Dict[str, Any]
    dataset: Dict[str, Any]
    benchmark: Dict[str, Any]
    results: Dict[str, Dict[str, Dict[str, Any]]]
    protocols: Dict[str, Dict[str, Any]]
    metric_settings: Dict[str, Any]
    seeds: Dict[str, int]
    frames: int
    wall_time_s: float
    animate_frames_per_s: Optional[float]
    run_dir: str
    provenance: Dict[str, Any]
    config: Dict[str, Any]
    processes: int = 1
    samples: List[str] = field(default_factory=list)
    protocol_version: str = PROTOCOL_VERSION
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> Dict[str, Any]:
        """A JSON-ready dict (NaN/Inf become null)."""
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "results record") -> "ResultRecord":
        """The record of a results.json dict; a missing field, an unknown one or another schema is an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        if data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise ValueError(f"{source}: schema_version {data.get('schema_version')} is not {SCHEMA_VERSION}")
        missing, unknown = sorted(required - set(data)), sorted(set(data) - names)
        if missing or unknown:
            raise ValueError(f"{source}: not a motionbench result record (missing {missing}, unknown {unknown})")
        return cls(**dict(data))

    @classmethod
    def read(cls, path: os.PathLike) -> "ResultRecord":
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")), source=str(path))

    def write(self, path: os.PathLike) -> Path:
        return write_json_atomic(path, self.to_json())

    def mode(self, key: str) -> str:
        """The animation mode result ``key`` ran in."""
        info = self.protocols.get(key, {})
        protocol = info.get("protocol") or key.split("@")[0]
        return info.get("mode") or self.benchmark["same_mode" if protocol == "same_identity" else "cross_mode"]


def write_text_atomic(path: os.PathLike, text: str, what: str = "output") -> Path:
    """UTF-8 ``text`` to ``path``: temp file, fsync, read back and compared, rename (:mod:`motionbench.files.atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"), what=what)


def write_json_atomic(path: os.PathLike, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n", what="results")


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None  # JSON has no NaN/Inf; null means "undefined"
    if hasattr(x, "item") and callable(x.item):  # numpy / torch scalars
        return _jsonable(x.item())
    return x


def markdown_table(record: ResultRecord, key: str) -> str:
    """A markdown table of one protocol's metrics (value ± 95% half-width, direction, n, frame/video means)."""
    metrics = record.results.get(key, {})
    title = f"{key.split('@')[0].replace('_', '-')}, {record.mode(key)} mode"
    lines = [f"### {record.method} on {record.dataset['name']} — {title}",
             "", "| metric | value ± 95% CI | better | frame mean | video mean | n | undefined frames |",
             "|---|---|---|---|---|---|---|"]
    for name, res in metrics.items():
        arrow = "↑" if res["higher_is_better"] else "↓"
        lines.append(f"| {name} | {format_value(res['value'], res.get('ci_low'), res.get('ci_high'))} | {arrow} | "
                     f"{_num(res.get('frame_mean'))} | {_num(res.get('video_mean'))} | {res['n']} | "
                     f"{res.get('n_undefined_frames', 0)} |")
    return "\n".join(lines)


def format_value(value: Optional[float], lo: Optional[float] = None, hi: Optional[float] = None) -> str:
    """``0.0812 ± 0.0041`` (half the 95% interval's width), ``0.0812`` without an interval, ``–`` if undefined."""
    if not _finite(value):
        return "–"
    if _finite(lo) and _finite(hi):
        return f"{_num(value)} ± {_num((hi - lo) / 2)}"
    return _num(value)


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _num(v: Optional[float]) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.4f}"
