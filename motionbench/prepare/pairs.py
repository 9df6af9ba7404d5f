"""A cross-identity pairs file for a prepared test split, in the columns of FOMM's ``taichi256.csv``
(``distance,source,driving,frame``), for ``dataset.pairs_csv``.

The pairs are the benchmark's own seeded pairing (:meth:`motionbench.data.base.VideoDataset.pairs`: each test
video in a seeded order is the source once, driven by a random video of another identity; frame 0 is the
source image), frozen in a file so that they do not depend on the code that drew them. ``distance`` is left
empty: FOMM's evaluation does not read it and motionbench does not compute it.
"""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Optional

from ..files.atomic import write_text_atomic

log = logging.getLogger("motionbench")

__all__ = ["PAIRS_FILE", "write_pairs"]

PAIRS_FILE = "pairs.csv"


def write_pairs(root: Path, num_pairs: int, seed: int = 0) -> Optional[Path]:
    """Write up to ``num_pairs`` pairs of ``root/test`` to ``root/pairs.csv``; None (with a warning) when the
    test split has fewer than two identities."""
    from ..data.video import FOMMLayoutDataset

    dataset = FOMMLayoutDataset(str(root), cache_dir=None)
    pairs = dataset.pairs("test", num_pairs=num_pairs, seed=seed)
    if not pairs:
        log.warning("no pairs file written: the test split of %s has fewer than two identities", root)
        return None
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["distance", "source", "driving", "frame"])
    writer.writerows(["", p.source, p.driving, p.source_frame] for p in pairs)
    return write_text_atomic(Path(root) / PAIRS_FILE, buf.getvalue(), what="pairs file")
