"""Result records (results.json + per-video CSV) and the leaderboard CSV (DESIGN §7).

The leaderboard has one row per run and protocol: ``method, checkpoint, dataset, protocol``, one column
per metric, then provenance columns (``mode``: absolute or relative animation; ``compat``; ``selection``:
which test frames were scored — these tell apart rows of one method that are not comparable). Appending takes an inter-process file lock and rewrites the whole
file through a temporary file + rename, so concurrent writers never interleave or truncate rows and a
crash never leaves a half-written file.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from filelock import FileLock

__all__ = ["PROTOCOL_VERSION", "KEY_COLUMNS", "write_json_atomic", "leaderboard_rows", "append_leaderboard",
           "read_leaderboard", "markdown_table", "write_text_atomic"]

PROTOCOL_VERSION = "motionbench-protocol-1"
KEY_COLUMNS = ["method", "checkpoint", "dataset", "protocol"]
# leaderboard column order of the standard metrics (others follow alphabetically)
METRIC_ORDER = ["l1", "psnr", "ssim", "lpips", "fid", "kid", "akd", "mkr", "aed", "id_similarity"]
PROVENANCE_COLUMNS = ["mode", "compat", "selection", "metric_settings", "seed", "checkpoint_sha256", "run_dir", "date",
                      "motionbench_version", "git", "torch", "device", "protocol_version"]


def write_text_atomic(path: os.PathLike, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json_atomic(path: os.PathLike, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")


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


def leaderboard_rows(record: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """One leaderboard row per protocol of a results record."""
    prov = record["provenance"]
    rows = []
    for protocol, metrics in record["results"].items():
        row: Dict[str, Any] = {"method": record["method"], "checkpoint": record["checkpoint"]["tag"],
                               "dataset": record["dataset"]["name"], "protocol": protocol}
        for name, res in metrics.items():
            row[name] = res["value"]
        row.update({
            "mode": record["benchmark"]["same_mode" if protocol == "same_identity" else "cross_mode"],
            "compat": record["benchmark"]["compat"],
            "selection": record["benchmark"].get("selection", ""),
            "metric_settings": json.dumps(record["metric_settings"], sort_keys=True, separators=(",", ":")),
            "seed": record["seeds"]["benchmark"],
            "checkpoint_sha256": record["checkpoint"]["sha256"] or "",
            "run_dir": record["run_dir"],
            "date": prov["date"],
            "motionbench_version": prov["motionbench_version"],
            "git": prov["git"],
            "torch": prov["torch"],
            "device": prov["device"],
            "protocol_version": record["protocol_version"],
        })
        rows.append(row)
    return rows


def _order_columns(columns: Iterable[str]) -> List[str]:
    cols = list(dict.fromkeys(columns))
    metric_cols = sorted((c for c in cols if c not in KEY_COLUMNS and c not in PROVENANCE_COLUMNS),
                         key=lambda c: (METRIC_ORDER.index(c) if c in METRIC_ORDER else len(METRIC_ORDER), c))
    prov = [c for c in PROVENANCE_COLUMNS if c in cols]
    return KEY_COLUMNS + metric_cols + prov


def read_leaderboard(path: os.PathLike) -> List[Dict[str, str]]:
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    missing = [c for c in KEY_COLUMNS if reader.fieldnames is None or c not in reader.fieldnames]
    if missing:
        raise ValueError(f"leaderboard {path}: not a motionbench leaderboard (missing columns {missing})")
    return rows


def append_leaderboard(path: os.PathLike, rows: Sequence[Mapping[str, Any]], timeout: float = 120.0) -> Path:
    """Append rows under an inter-process lock; the file is replaced atomically (union of columns)."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=timeout):
        existing = read_leaderboard(path)
        all_rows = existing + [{k: _fmt(v) for k, v in r.items()} for r in rows]
        columns = _order_columns(c for r in all_rows for c in r)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(all_rows)
        write_text_atomic(path, buf.getvalue())
    return path


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return v


def markdown_table(record: Mapping[str, Any], protocol: str) -> str:
    """A markdown table of one protocol's metrics (value, direction, n, video-level mean)."""
    metrics = record["results"].get(protocol, {})
    lines = [f"### {record['method']} on {record['dataset']['name']} — {protocol.replace('_', '-')}",
             "", "| metric | value | better | frame mean | video mean | n |", "|---|---|---|---|---|---|"]
    for name, res in metrics.items():
        arrow = "↑" if res["higher_is_better"] else "↓"
        lines.append(f"| {name} | {_num(res['value'])} | {arrow} | {_num(res.get('frame_mean'))} | "
                     f"{_num(res.get('video_mean'))} | {res['n']} |")
    return "\n".join(lines)


def _num(v: Optional[float]) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.4f}"
