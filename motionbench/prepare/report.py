"""What a preparation run leaves beside the dataset: ``prepare_report.csv`` (every metadata row and what became
of it), ``manifest.json`` (exactly which chunks the dataset holds) and, while a run is going, a journal of
finished chunks (``.prepare-journal.jsonl``, appended and fsynced per video) from which a killed run resumes.

The manifest has no timestamps: preparing the same videos with the same settings gives the same file, so its
sha256 (recorded by benchmark runs) says whether two results were scored on the same test set.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from ..files.atomic import write_text_atomic

__all__ = ["REPORT_COLUMNS", "REPORT_FILE", "MANIFEST_FILE", "JOURNAL_FILE", "MANIFEST_VERSION", "read_previous",
           "append_journal", "write_report", "build_manifest", "write_manifest", "summary_table", "test_set_digest",
           "dataset_manifest_info", "video_entries"]

REPORT_FILE, MANIFEST_FILE, JOURNAL_FILE = "prepare_report.csv", "manifest.json", ".prepare-journal.jsonl"
MANIFEST_VERSION = 1
#: the first eight are the documented report; the rest say how each chunk was made
REPORT_COLUMNS = ["video_id", "start", "end", "partition", "status", "frames", "path", "sha256",
                  "line", "name", "person_id", "bbox", "crop_box", "spec", "detail"]


def read_previous(root: Path) -> Dict[str, Dict[str, str]]:
    """Rows of an earlier run by ``name``: the report, overlaid by the journal of a run that did not finish
    (a torn last journal line, from a killed process, is ignored)."""
    import pandas as pd

    rows: Dict[str, Dict[str, str]] = {}
    report = root / REPORT_FILE
    if report.is_file():
        try:
            table = pd.read_csv(report, dtype=str, keep_default_na=False)
        except Exception:  # noqa: BLE001 - an unreadable old report only means nothing is reused
            table = None
        if table is not None and {"name", "spec", "status", "sha256"} <= set(table.columns):
            for r in table.to_dict("records"):
                if r["status"] != "duplicate":  # a duplicate row names its first row's output
                    rows[r["name"]] = r
    journal = root / JOURNAL_FILE
    if journal.is_file():
        for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if isinstance(r, dict) and "name" in r:
                rows[str(r["name"])] = {k: str(v) for k, v in r.items()}
    return rows


def append_journal(root: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append finished rows to the journal and fsync (one write per video)."""
    text = "".join(json.dumps(dict(r), sort_keys=True) + "\n" for r in rows)
    if not text:
        return
    fd = os.open(root / JOURNAL_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def write_report(root: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=REPORT_COLUMNS, restval="", extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text_atomic(root / REPORT_FILE, buf.getvalue(), what="prepare report")


def test_set_digest(entries: Sequence[Mapping[str, Any]]) -> str:
    """sha256 of the test chunks' ``name frames sha256`` lines in name order (independent of tool versions
    except through the chunks' own hashes)."""
    h = hashlib.sha256()
    for e in sorted(entries, key=lambda e: e["name"]):
        h.update(f"{e['name']} {e['frames']} {e['sha256']}\n".encode())
    return h.hexdigest()


def build_manifest(rows: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]) -> Dict[str, Any]:
    """The manifest of the written rows (duplicates excluded) under ``settings`` (preset, metadata, format, ...)."""
    splits: Dict[str, List[Dict[str, Any]]] = {"test": [], "train": []}
    for r in rows:
        if r["status"] == "written":
            splits.setdefault(str(r["partition"]), []).append(
                {"name": r["name"], "frames": int(r["frames"]), "sha256": r["sha256"]})
    for entries in splits.values():
        entries.sort(key=lambda e: e["name"])
    return {"manifest_version": MANIFEST_VERSION, **settings,
            "counts": {p: len(e) for p, e in splits.items()},
            "test_set_sha256": test_set_digest(splits["test"]),
            "chunks": splits}


def write_manifest(root: Path, manifest: Mapping[str, Any]) -> Path:
    return write_text_atomic(root / MANIFEST_FILE, json.dumps(manifest, indent=1) + "\n", what="prepare manifest")


def summary_table(rows: Sequence[Mapping[str, Any]], statuses: Sequence[str]) -> str:
    """A markdown table: per partition, metadata rows and how many have each status."""
    parts = sorted({str(r["partition"]) for r in rows}, key=lambda p: (p != "test", p))
    shown = [s for s in statuses if any(r["status"] == s for r in rows)] or ["written"]
    lines = ["| partition | rows | " + " | ".join(shown) + " |", "|---|---|" + "---|" * len(shown)]
    for p in [*parts, "all"]:
        sel = [r for r in rows if p == "all" or r["partition"] == p]
        lines.append(f"| {p} | {len(sel)} | " + " | ".join(str(sum(r['status'] == s for r in sel)) for s in shown)
                     + " |")
    return "\n".join(lines)


def video_entries(folder: str) -> Optional[List[str]]:
    """Names of the videos in a split folder as the FOMM-layout dataset lists them (folders, and files with a
    video or image extension; hidden names skipped), without opening them; None when there is no folder."""
    from ..data.readers import GIF_EXTS, IMAGE_EXTS, VIDEO_EXTS

    if not os.path.isdir(folder):
        return None
    return sorted(n for n in os.listdir(folder) if not n.startswith(".") and (
        os.path.isdir(os.path.join(folder, n)) or n.lower().endswith(VIDEO_EXTS + GIF_EXTS + IMAGE_EXTS)))


def dataset_manifest_info(root: str) -> Dict[str, Any]:
    """What a benchmark records about a FOMM-layout dataset's test split: ``test_videos`` (videos in
    ``root/test``, None without that folder), and when ``root/manifest.json`` exists its sha256, its
    ``test_set_sha256``, and whether the test folder holds exactly the manifest's test chunks (``manifest_matches``)."""
    names = video_entries(os.path.join(root, "test"))
    out: Dict[str, Any] = {"test_videos": None if names is None else len(names)}
    path = os.path.join(root, MANIFEST_FILE)
    if not os.path.isfile(path):
        return out
    data = Path(path).read_bytes()
    out["manifest_sha256"] = hashlib.sha256(data).hexdigest()
    try:
        manifest = json.loads(data)
        listed = {e["name"] for e in manifest["chunks"]["test"]}
        out["test_set_sha256"] = manifest.get("test_set_sha256")
        out["manifest_matches"] = names is not None and set(names) == listed
    except (ValueError, KeyError, TypeError):
        out["manifest_matches"] = False
    return out
