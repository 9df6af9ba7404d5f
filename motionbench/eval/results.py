"""The result record of a run (results.json): a typed :class:`ResultRecord` of typed :class:`MetricResult` entries,
the run's :func:`provenance`, atomic writers and the per-run markdown table. The leaderboard CSV lives in
:mod:`motionbench.eval.leaderboard`.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from .. import __version__
from ..files.atomic import write_text_atomic
from .stats import DEFAULT_LEVEL

__all__ = ["PROTOCOL_VERSION", "SCHEMA_VERSION", "MetricResult", "ResultRecord", "write_json_atomic", "markdown_table",
           "write_text_atomic", "format_value", "provenance", "git_hash", "library_versions"]

PROTOCOL_VERSION = "motionbench-protocol-2"  # 2: bootstrap intervals, fg metrics, learned puppet detector
SCHEMA_VERSION = 1  # layout of results.json (ResultRecord's fields)
NAN = float("nan")


@dataclass
class MetricResult:
    """One metric output of one protocol (``results[key][metric]`` of results.json).

    ``value`` is the number the leaderboard shows: the mean of video means without the trivial frames (frame
    metrics; ``aggregation`` "video-weighted"), the mean over all frames (``compat=pose_eval``: "frame-weighted,
    all frames") or the statistic over every frame (FID, KID: "set"). ``ci_low`` / ``ci_high`` are its
    ``ci_level`` bootstrap interval over videos from ``n_boot`` resamples (NaN and 0 without one). ``n`` counts
    the frames the value is computed from and ``n_undefined_frames`` those where the metric is undefined. Frame
    metrics also give ``frame_mean``, ``video_mean`` and ``n_videos``; ``extra`` holds what a set metric adds
    (FID: ``n_real``, ``cache``; KID: ``std``, ``subset_size``, ...)."""

    value: float
    higher_is_better: bool
    n: int
    ci_low: float = NAN
    ci_high: float = NAN
    n_boot: int = 0
    ci_level: float = DEFAULT_LEVEL
    frame_mean: Optional[float] = None
    video_mean: Optional[float] = None
    n_videos: Optional[int] = None
    n_undefined_frames: int = 0
    aggregation: str = "video-weighted"
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def defined(self) -> bool:
        """Whether the value is a finite number."""
        return _finite(self.value)

    def to_json(self) -> Dict[str, Any]:
        """The results.json entry (NaN stays NaN here; :func:`write_json_atomic` writes it as null)."""
        interval = {"ci_low": self.ci_low, "ci_high": self.ci_high, "n_boot": self.n_boot, "ci_level": self.ci_level}
        if self.aggregation == "set":
            return {"higher_is_better": self.higher_is_better, "aggregation": self.aggregation, "value": self.value,
                    "n": self.n, **self.extra, **interval}
        means = {k: getattr(self, k) for k in ("frame_mean", "video_mean", "n_videos") if getattr(self, k) is not None}
        return {"value": self.value, "higher_is_better": self.higher_is_better, "n": self.n, **interval, **means,
                "n_undefined_frames": self.n_undefined_frames, "aggregation": self.aggregation, **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "metric result") -> "MetricResult":
        """The entry of a results.json dict (null numbers are NaN); keys it does not know go to ``extra``."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        missing = sorted({"value", "higher_is_better", "n"} - set(data))
        if missing:
            raise ValueError(f"{source}: not a metric result (missing {missing})")
        values = {k: v for k, v in data.items() if k in known}
        for k in ("value", "ci_low", "ci_high", "frame_mean", "video_mean"):  # JSON has no NaN: null means undefined
            if k in values and values[k] is None:
                values[k] = NAN
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})


@dataclass
class ResultRecord:
    """One benchmark run, as written to results.json (schema :data:`SCHEMA_VERSION`).

    ``results[key][metric]`` is a :class:`MetricResult`; ``key`` is the protocol, or
    ``protocol@mode`` for a floor's extra cross-identity mode, described in ``protocols[key]``
    (``protocol``, ``mode``, ``frames``). ``checkpoint``: tag, path, sha256; ``dataset``: the dataset's
    settings and name; ``benchmark``: compat, split, modes, frame selection, n_boot, precision;
    ``provenance``: versions (motionbench, git, torch and the metric libraries), device, date.
    """

    method: str
    checkpoint: Dict[str, Any]
    dataset: Dict[str, Any]
    benchmark: Dict[str, Any]
    results: Dict[str, Dict[str, MetricResult]]
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
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["results"] = {key: {name: res.to_json() for name, res in metrics.items()}
                           for key, metrics in self.results.items()}
        return _jsonable(data)

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
        results = {key: {name: MetricResult.from_json(res, f"{source}: results.{key}.{name}")
                         for name, res in metrics.items()} for key, metrics in data["results"].items()}
        return cls(**{**dict(data), "results": results})

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
        arrow = "↑" if res.higher_is_better else "↓"
        lines.append(f"| {name} | {format_value(res.value, res.ci_low, res.ci_high)} | {arrow} | "
                     f"{_num(res.frame_mean)} | {_num(res.video_mean)} | {res.n} | {res.n_undefined_frames} |")
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


# ---------------------------------------------------------------------------------------- provenance
def git_hash() -> str:
    """The commit of the motionbench checkout (``-dirty`` with uncommitted changes), "unknown" outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def provenance(device: Any) -> Dict[str, Any]:
    """What a result depends on besides its config: versions (motionbench, git, torch, python, the metric
    libraries), the device and the date (UTC)."""
    import torch

    dev = str(device)
    if device.type == "cuda":
        dev += f" ({torch.cuda.get_device_name(device)})"
    else:
        dev += f" ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    return {"motionbench_version": __version__, "git": git_hash(), "torch": torch.__version__,
            "python": platform.python_version(), "libraries": library_versions(), "device": dev,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def library_versions() -> Dict[str, Optional[str]]:
    """Versions of every library a metric value depends on (None: not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out: Dict[str, Optional[str]] = {}
    for dist in ("torch", "torchvision", "numpy", "scikit-image", "scipy", "lpips", "pytorch-fid", "imageio", "pandas"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out
