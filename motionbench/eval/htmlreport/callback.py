"""``benchmark.report=true``: the HTML report written when a benchmark run or sweep ends (a Hydra callback,
registered in ``conf/config.yaml``): ``<sweep dir>/report.html`` after a ``-m`` sweep (every run of the sweep
as ``--runs``), ``<run dir>/report.html`` after a single run, both of ``benchmark.leaderboard``. Videos are
embedded up to the default size limit, above it copied into ``report_media/`` beside the page."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

log = logging.getLogger("motionbench")

__all__ = ["ReportCallback"]


def _write(config: Any, folder: Path) -> None:
    from ...cli.app import fail
    from . import build_report

    try:
        out = build_report(Path(config.benchmark.leaderboard), [folder], folder / "report.html", media="auto")
    except ValueError as exc:
        fail(str(exc))
    print(f"report: {out}")


class ReportCallback(Callback):
    @staticmethod
    def _wanted(config: Any) -> bool:
        return config.get("task") == "benchmark" and bool(config.get("benchmark", {}).get("report", False))

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if self._wanted(config):
            _write(config, Path(config.hydra.sweep.dir))

    def on_run_end(self, config: Any, **kwargs: Any) -> None:
        from hydra.core.utils import JobStatus

        job = kwargs.get("job_return")
        if self._wanted(config) and job is not None and job.status == JobStatus.COMPLETED:
            _write(config, Path(config.hydra.run.dir))
