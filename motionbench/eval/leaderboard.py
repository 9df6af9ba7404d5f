"""The leaderboard CSV: rows from a results record, concurrent-safe appends, reading.

One row per run and protocol (and animation mode: the floors are scored in every cross-identity mode):
``method, checkpoint, dataset, protocol``; per metric its value and 95% bootstrap interval
(``<m>``, ``<m>_ci_low``, ``<m>_ci_high``); then provenance columns — ``mode`` (absolute / relative / avd),
``compat`` and ``selection`` (which test frames were scored) tell apart rows of one method that are not
comparable; ``metric_info`` (JSON: each metric's direction, frame count, undefined frames) and
``per_video`` (JSON: each metric's per-video values, what paired comparisons resample) make a row
self-contained; ``dataset_manifest`` (sha256 of a dataset's ``manifest.json`` from ``task=prepare``) and
``test_videos`` say which test set was scored (blank in rows of older versions). Appending takes an inter-process file lock and rewrites the whole file through a
temporary file + rename, so concurrent writers never interleave or truncate rows and a crash never leaves
a half-written file. Rendering (tables, LaTeX, plot, paired comparisons) lives in :mod:`motionbench.eval.report`.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from filelock import FileLock

from ..files.atomic import write_text_atomic
from .results import NAN, MetricResult, ResultRecord

__all__ = ["KEY_COLUMNS", "PROVENANCE_COLUMNS", "NONCOMPARABLE", "leaderboard_rows", "append_leaderboard",
           "read_leaderboard", "load_latest", "check_leaderboard_writable", "LeaderboardError", "metric_directions",
           "CI_SUFFIXES", "row_result"]

KEY_COLUMNS = ["method", "checkpoint", "dataset", "protocol"]
PROVENANCE_COLUMNS = ["mode", "compat", "selection", "metric_settings", "seed", "checkpoint_sha256", "run_dir", "date",
                      "motionbench_version", "git", "torch", "device", "protocol_version", "metric_info", "per_video",
                      "dataset_manifest", "test_videos"]
CI_SUFFIXES = ("_ci_low", "_ci_high")
# rows that differ in these columns score different things: kept apart, and shown when a table mixes them
NONCOMPARABLE = ("mode", "compat", "selection")
# appending to a file without these would mix rows that score different things (newer informational
# columns such as metric_info / per_video are simply added, blank in older rows)
REQUIRED_COLUMNS = KEY_COLUMNS + list(NONCOMPARABLE) + ["metric_settings", "protocol_version"]


def _compact(x: Any) -> str:
    return json.dumps(x, sort_keys=True, separators=(",", ":"), allow_nan=True)


def leaderboard_rows(record: ResultRecord, per_video: Sequence[Mapping[str, Any]] = ()) -> List[Dict[str, Any]]:
    """One leaderboard row per protocol (and mode) of a results record; ``per_video``: per_video.csv's rows."""
    prov = record.provenance
    rows = []
    for key, metrics in record.results.items():
        protocol = record.protocols.get(key, {}).get("protocol") or key.split("@")[0]
        mode = record.mode(key)
        row: Dict[str, Any] = {"method": record.method, "checkpoint": record.checkpoint["tag"],
                               "dataset": record.dataset["name"], "protocol": protocol}
        for name, res in metrics.items():
            row[name] = res.value
            row[name + "_ci_low"], row[name + "_ci_high"] = res.ci_low, res.ci_high
        videos = [r for r in per_video if r.get("protocol") == protocol and r.get("mode", mode) == mode]
        row.update({
            "mode": mode,
            "compat": record.benchmark["compat"],
            "selection": record.benchmark.get("selection", ""),
            "metric_settings": _compact(record.metric_settings),
            "seed": record.seeds["benchmark"],
            "checkpoint_sha256": record.checkpoint["sha256"] or "",
            "run_dir": record.run_dir,
            "date": prov["date"],
            "motionbench_version": prov["motionbench_version"],
            "git": prov["git"],
            "torch": prov["torch"],
            "device": prov["device"],
            "protocol_version": record.protocol_version,
            "metric_info": _compact({n: {"higher_is_better": bool(r.higher_is_better), "n": r.n,
                                         "n_undefined_frames": r.n_undefined_frames, "n_boot": r.n_boot}
                                     for n, r in metrics.items()}),
            "per_video": _compact({n: {r["video"]: _finite(r.get(n)) for r in videos} for n in metrics
                                   if any(n in r for r in videos)}),
            "dataset_manifest": _manifest_tag(record.dataset),
            "test_videos": record.dataset.get("test_videos"),
        })
        rows.append(row)
    return rows


def _manifest_tag(dataset: Mapping[str, Any]) -> str:
    """sha256 of the prepared dataset's manifest.json ('' without one), flagged when the test folder differs."""
    sha = dataset.get("manifest_sha256")
    if not sha:
        return ""
    return sha if dataset.get("manifest_matches") else f"{sha} (test folder differs from the manifest)"


def _finite(v: Any) -> Optional[float]:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def row_result(row: Mapping[str, Any], metric: str) -> Optional[MetricResult]:
    """A row's ``metric`` (its value and interval columns, its ``metric_info`` entry) as a :class:`MetricResult`;
    None when the row has neither a value nor an entry for it. Counts a row does not record are 0."""
    try:
        info = json.loads(row.get("metric_info") or "{}").get(metric)
    except (TypeError, ValueError):
        info = None
    value = _finite(row.get(metric))
    if info is None and value is None:
        return None
    info = info or {}
    higher = info["higher_is_better"] if "higher_is_better" in info else metric_directions([metric])[metric]
    lo, hi = _finite(row.get(metric + "_ci_low")), _finite(row.get(metric + "_ci_high"))
    return MetricResult(value=NAN if value is None else value, higher_is_better=bool(higher), n=int(info.get("n") or 0),
                        n_undefined_frames=int(info.get("n_undefined_frames") or 0), n_boot=int(info.get("n_boot") or 0),
                        ci_low=NAN if lo is None else lo, ci_high=NAN if hi is None else hi)


def metric_directions(names: Iterable[str], info: Optional[Mapping[str, Mapping[str, Any]]] = None) -> Dict[str, bool]:
    """higher_is_better of each metric output: from a row's ``metric_info``, else the registered metrics'
    :attr:`~motionbench.metrics.base.Metric.outputs` (the one source of truth; plugins included)."""
    from ..registries import METRICS

    known: Dict[str, bool] = {}
    for name in METRICS.names():
        try:
            known.update(METRICS.get(name).outputs)
        except Exception:  # noqa: BLE001 - a broken plugin must not break reading a CSV
            continue
    info = info or {}
    return {n: bool(info[n]["higher_is_better"]) if n in info else known.get(n, False) for n in names}


def _metric_order() -> List[str]:
    from ..registries import METRICS

    order: List[str] = []
    for name in METRICS.names(sort=False):
        try:
            order.extend(METRICS.get(name).outputs)
        except Exception:  # noqa: BLE001
            continue
    return order


def _order_columns(columns: Iterable[str]) -> List[str]:
    cols = list(dict.fromkeys(columns))
    order = _metric_order()
    metrics = sorted((c for c in cols if c not in KEY_COLUMNS and c not in PROVENANCE_COLUMNS
                      and not c.endswith(CI_SUFFIXES)),
                     key=lambda c: (order.index(c) if c in order else len(order), c))
    out = list(KEY_COLUMNS)
    for m in metrics:
        out += [m] + [m + s for s in CI_SUFFIXES if m + s in cols]
    out += [c for c in cols if c.endswith(CI_SUFFIXES) and c not in out]
    return out + [c for c in PROVENANCE_COLUMNS if c in cols]


class LeaderboardError(ValueError):
    """A leaderboard file that cannot be read or appended to (message names the file and the fix)."""


def read_leaderboard(path) -> List[Dict[str, str]]:
    """Every row; a file that is not UTF-8, lacks motionbench's columns, or has a row with more or fewer
    fields than its header is refused (naming the file and line), never silently reshaped."""
    path = Path(path)
    if path.is_dir():
        raise LeaderboardError(f"leaderboard {path} is a directory; give a CSV file path")
    if not path.exists() or path.stat().st_size == 0:
        return []
    header: List[str] = []
    rows: List[Dict[str, str]] = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, [])
            for fields in reader:
                if not fields:
                    continue
                if len(fields) != len(header):
                    raise LeaderboardError(
                        f"leaderboard {path}, line {reader.line_num}: malformed row ({len(fields)} fields, the "
                        f"header has {len(header)}); fix or delete that line")
                rows.append(dict(zip(header, fields)))
    except UnicodeDecodeError as exc:
        raise LeaderboardError(f"leaderboard {path} is not UTF-8 text (byte {exc.start}: {exc.reason}); is it a "
                               f"motionbench leaderboard CSV? Point benchmark.leaderboard at another file") from None
    except csv.Error as exc:
        raise LeaderboardError(f"leaderboard {path}: not valid CSV ({exc})") from None
    missing = [c for c in KEY_COLUMNS if c not in header]
    if missing:
        raise LeaderboardError(f"leaderboard {path}: not a motionbench leaderboard (missing columns {missing})")
    return rows


def check_leaderboard_writable(path, columns: Iterable[str] = REQUIRED_COLUMNS) -> Path:
    """Refuse, before a benchmark runs, a leaderboard it could not append to: an empty path, a directory,
    a read-only file or folder, an unreadable file, or one that lacks a required column the new rows
    (``columns``; a benchmark's rows have them all) carry."""
    from ..files.atomic import check_output_file

    path = check_output_file(path, "benchmark.leaderboard")
    rows = read_leaderboard(path)
    if rows:
        missing = [c for c in REQUIRED_COLUMNS if c in columns and c not in rows[0]]
        if missing:
            raise LeaderboardError(
                f"leaderboard {path} has a different column set (written by an older motionbench: missing "
                f"{', '.join(missing)}, which tell apart rows that are not comparable); to migrate, move it aside (mv {path} {path}.old) and re-run the benchmarks, "
                f"or write to a new file with benchmark.leaderboard=NEW.csv")
    return path


def append_leaderboard(path, rows: Sequence[Mapping[str, Any]], timeout: float = 120.0) -> Path:
    """Append rows under an inter-process lock; the file is replaced atomically (union of columns, same
    permissions; a read-only file is refused, see :func:`check_leaderboard_writable`)."""
    path = check_leaderboard_writable(Path(path).resolve(), {c for r in rows for c in r})
    with FileLock(str(path) + ".lock", timeout=timeout):
        existing = read_leaderboard(path)
        all_rows = existing + [{k: _fmt(v) for k, v in r.items()} for r in rows]
        columns = _order_columns(c for r in all_rows for c in r)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(all_rows)
        write_text_atomic(path, buf.getvalue(), what="leaderboard")
    return path


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return "" if v is None else v


def load_latest(path) -> Tuple[Any, List[str]]:
    """(DataFrame of the newest row per method, checkpoint, dataset, protocol, mode, compat and selection,
    metric names); metric and interval columns numeric."""
    import pandas as pd

    rows = read_leaderboard(path)
    if not rows:
        raise ValueError(f"leaderboard {path} is empty or missing")
    df = pd.DataFrame(rows)
    keys = KEY_COLUMNS + [c for c in NONCOMPARABLE if c in df]
    df = df.drop_duplicates(subset=keys, keep="last").reset_index(drop=True)
    order = _metric_order()
    metrics = sorted((c for c in df.columns if c not in KEY_COLUMNS and c not in PROVENANCE_COLUMNS
                      and not c.endswith(CI_SUFFIXES)), key=lambda c: (order.index(c) if c in order else len(order), c))
    for c in df.columns:
        if c in metrics or c.endswith(CI_SUFFIXES):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df, metrics
