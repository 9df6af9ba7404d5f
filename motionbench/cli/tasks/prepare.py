"""``task=prepare``: turn downloaded videos (+ the official metadata CSV) into a FOMM-layout dataset.

Prints the summary table (rows per partition and status) and exits with status 2 when the dataset holds no
chunk at all (the report says why). SIGTERM stops the run like Ctrl-C: the chunks being written are
discarded, finished ones stay, and the same command resumes.
"""
from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Iterator

from omegaconf import OmegaConf

__all__ = ["run_prepare_task"]


@contextlib.contextmanager
def _sigterm_exits() -> Iterator[None]:
    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_prepare_task(cfg, run_dir: Path):
    from ...data.base import DatasetError
    from ...prepare import PrepareOptions, prepare_dataset
    from ...prepare.report import REPORT_FILE
    from ..validate import check_device

    options = PrepareOptions(**OmegaConf.to_container(cfg.prepare, resolve=True))
    if options.preset in ("faces", "bodies"):
        options.device = str(check_device(cfg.device))
    with _sigterm_exits():
        result = prepare_dataset(options)
    print(result.summary())
    if not result.count("written"):
        raise DatasetError(f"nothing was written to {result.root}: see {result.root / REPORT_FILE} for each row's "
                           f"status (is prepare.videos={options.videos} the folder of the downloaded videos?)")
    return result
