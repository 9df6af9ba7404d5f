"""What a report shows, gathered before anything is rendered: the leaderboard's sections and rows, the
benchmark runs found under ``--runs`` (their results.json and samples/index.json), and which run each row
came from.

A row is matched to a run with the same method, checkpoint tag, dataset, compat setting and frame selection
that scored the row's protocol and mode; the run whose ``run_dir`` is the row's own is preferred (then its
wall time and frames/s are the row's), otherwise the newest such run (its samples are shown, marked as coming
from another run of the same configuration).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..leaderboard import NONCOMPARABLE
from ..report import per_video, sections
from ..results import ResultRecord
from ..samples import INDEX_VERSION, SAMPLES_INDEX

__all__ = ["ReportError", "Run", "Row", "Section", "find_runs", "build_sections", "is_floor"]


class ReportError(ValueError):
    """Input a report cannot be made from (the message names the file and the problem)."""


@dataclass
class Run:
    """One benchmark run directory: its result record and its samples (``samples/index.json`` entries, file
    names resolved to absolute paths)."""

    path: Path
    record: ResultRecord
    samples: List[Dict[str, Any]] = field(default_factory=list)
    fps: float = 10.0

    def scored(self, protocol: str, mode: str) -> bool:
        return any(p.get("protocol") == protocol and p.get("mode") == mode for p in self.record.protocols.values())


@dataclass
class Row:
    """A leaderboard row (``data``: its values, metrics as floats) with its per-video values and matched run."""

    data: Dict[str, Any]
    floor: bool
    per_video: Dict[str, Dict[str, float]]
    run: Optional[Run] = None
    own_run: bool = False  # the matched run is the one that wrote this row

    @property
    def label(self) -> str:
        return str(self.data["method"])

    @property
    def ident(self) -> str:
        return f"{self.data['method']}:{self.data['checkpoint']}"

    def samples(self) -> Dict[str, Dict[str, Any]]:
        """This row's samples by per-video key (from the matched run)."""
        if self.run is None:
            return {}
        return {s["video"]: s for s in self.run.samples
                if s["protocol"] == self.data["protocol"] and s["mode"] == self.data.get("mode", "")}


@dataclass
class Section:
    """Rows scoring the same thing: one dataset, protocol, mode, compat setting and frame selection."""

    sid: str
    dataset: str
    protocol: str
    mode: str
    compat: str
    selection: str
    rows: List[Row]
    metrics: List[str]  # every metric column with a value in this section
    labels: List[str]  # extra label columns (compat / selection when the leaderboard mixes them)

    @property
    def title(self) -> str:
        t = f"{self.dataset} — {self.protocol.replace('_', '-')}" + (f" ({self.mode} mode)" if self.mode else "")
        return t + "".join(f", {c} {getattr(self, c)}" for c in self.labels)


def is_floor(method: str) -> bool:
    """A reference baseline (``capabilities.floor``: identity, copy_driving); unknown methods are not."""
    from ...registries import ANIMATORS

    try:
        return bool(ANIMATORS.get(method).capabilities.floor)
    except Exception:  # noqa: BLE001 - a method of another installation (or a broken plugin) is no floor
        return False


def _read_index(run_dir: Path) -> tuple:
    path = run_dir / "samples" / SAMPLES_INDEX
    if not path.is_file():
        return [], 10.0
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"samples index {path} cannot be read ({exc}); re-run the benchmark with "
                          f"benchmark.save_samples=K") from None
    if not isinstance(index, dict) or index.get("version") != INDEX_VERSION:
        raise ReportError(f"samples index {path}: not a version-{INDEX_VERSION} samples index; re-run the benchmark "
                          f"with benchmark.save_samples=K")
    samples = []
    for entry in index.get("samples", []):
        files = {name: path.parent / rel for name, rel in entry["files"].items()}
        missing = [str(f) for f in files.values() if not f.is_file()]
        if missing:
            raise ReportError(f"samples index {path} lists missing file(s): {', '.join(missing)}")
        samples.append({**entry, "files": files})
    return samples, float(index.get("fps") or 10.0)


def find_runs(dirs: Sequence[Path]) -> List[Run]:
    """Every run (a folder with results.json) at or below the given folders."""
    runs: List[Run] = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise ReportError(f"--runs {d}: not a directory (give benchmark run folders or a sweep folder)")
        found = sorted({p.parent for p in d.rglob("results.json")})
        if not found:
            raise ReportError(f"--runs {d}: no results.json at or below it (is it a benchmark run or sweep folder?)")
        for run_dir in found:
            try:
                record = ResultRecord.read(run_dir / "results.json")
            except (OSError, ValueError, TypeError) as exc:
                raise ReportError(f"{run_dir / 'results.json'}: cannot be read as a motionbench results record "
                                  f"({exc})") from None
            samples, fps = _read_index(run_dir)
            runs.append(Run(run_dir, record, samples, fps))
    return runs


def _match(data: Dict[str, Any], runs: Sequence[Run]) -> tuple:
    cands = [r for r in runs
             if r.record.method == data["method"] and r.record.checkpoint.get("tag") == data["checkpoint"]
             and r.record.dataset.get("name") == data["dataset"]
             and r.record.benchmark.get("compat", "default") == data.get("compat", "default")
             and r.record.benchmark.get("selection", "") == data.get("selection", "")
             and r.scored(data["protocol"], data.get("mode", ""))]
    own = [r for r in cands if r.record.run_dir == data.get("run_dir")]
    if own:
        return own[0], True
    if cands:
        return max(cands, key=lambda r: str(r.record.provenance.get("date", ""))), False
    return None, False


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def build_sections(df, metrics: Sequence[str], runs: Sequence[Run]) -> List[Section]:
    """The leaderboard's sections (ordered as the leaderboard's tables), rows best first by the first metric."""
    out: List[Section] = []
    split = [c for c in NONCOMPARABLE if c != "mode" and c in df]
    labels = [c for c in split if df[c].nunique() > 1]
    for dataset, protocol, mode, part, cols in sections(df, metrics):
        groups = part.groupby(split, sort=False) if split else [((), part)]
        for key, sub in groups:
            key = key if isinstance(key, tuple) else (key,)
            vals = dict(zip(split, key))
            rows = []
            for _, r in sub.iterrows():
                data = {k: _clean(v) for k, v in r.items()}
                run, own = _match(data, runs)
                rows.append(Row(data, is_floor(str(data["method"])), per_video(r), run, own))
            sid = f"s{len(out) + 1}"
            out.append(Section(sid, dataset, protocol, mode, vals.get("compat", "default"), vals.get("selection", ""),
                               rows, [c for c in cols if sub[c].notna().any()], labels))
    return out
