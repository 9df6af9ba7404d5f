"""Result records (results.json + per-video CSV): atomic writers and the per-run markdown table (DESIGN §7).

The leaderboard CSV lives in :mod:`motionbench.leaderboard`.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Optional

from .io_safe import write_bytes_atomic

__all__ = ["PROTOCOL_VERSION", "write_json_atomic", "markdown_table", "write_text_atomic", "format_value"]

PROTOCOL_VERSION = "motionbench-protocol-2"  # 2: bootstrap intervals, fg metrics, learned puppet detector


def write_text_atomic(path: os.PathLike, text: str, what: str = "output") -> Path:
    """UTF-8 ``text`` to ``path``: temp file, fsync, read back and compared, rename (:mod:`motionbench.io_safe`)."""
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


def markdown_table(record: Mapping[str, Any], key: str) -> str:
    """A markdown table of one protocol's metrics (value ± 95% half-width, direction, n, frame/video means)."""
    metrics = record["results"].get(key, {})
    mode = record.get("protocols", {}).get(key, {}).get("mode", "")
    title = key.split("@")[0].replace("_", "-") + (f", {mode} mode" if mode else "")
    lines = [f"### {record['method']} on {record['dataset']['name']} — {title}",
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
