"""Command line: ``python -m motionbench [overrides]`` (Hydra) plus plain sub-commands.

* ``python -m motionbench list [methods|datasets|metrics|keypoints|identity]``
* ``python -m motionbench weights`` — every pretrained file, where it must be, present or not.
* ``python -m motionbench leaderboard [CSV] [--plot PNG]`` — markdown tables (and a bar plot) of a leaderboard.
* ``python -m motionbench report CSV [--runs DIR ...] [--out report.html]`` — the self-contained HTML report.

Errors a user can fix (bad data, unknown names, missing weights, bad checkpoints) are printed as one
``motionbench: error: ...`` line and exit with status 2; set ``MOTIONBENCH_DEBUG=1`` for the traceback.
"""
from __future__ import annotations

import difflib
import logging
import os
import sys
from importlib import resources
from pathlib import Path
from typing import List, NoReturn, Optional, Sequence

log = logging.getLogger("motionbench")

USER_ERRORS: tuple = ()


def _user_errors() -> tuple:
    from ..core.checkpoint import CheckpointError
    from ..data.base import DatasetError
    from ..metrics.base import MetricError
    from ..registries import RegistryError
    from ..hub.weights import MissingWeightsError, WeightsMismatchError

    return (CheckpointError, DatasetError, MetricError, RegistryError, MissingWeightsError, WeightsMismatchError,
            NotImplementedError, ValueError, FileNotFoundError)


USAGE = """usage: python -m motionbench [task=TASK] [OVERRIDE ...]      (or: motionbench ...)
       python -m motionbench list [methods|datasets|metrics|keypoints|identity]
       python -m motionbench weights                     pretrained files and official checkpoints: present? where?
       python -m motionbench leaderboard [CSV] [--plot PNG]
       python -m motionbench report CSV [--runs DIR ...] [--out report.html]   HTML report: tables, comparisons, videos
       python -m motionbench --version | --help

tasks (task=...):
  benchmark   (default) score a method on a dataset: results.json + a leaderboard row
  animate     animate.source=IMAGE animate.driving=VIDEO [animate.output=out.mp4]
  compare     methods=[fomm,lia] animate.source=IMAGE animate.driving=VIDEO [compare.output=compare.mp4]
  train       train a method on a dataset's train split (resumes from its run directory)
  prepare     prepare.preset=taichi|vox|ted|faces|bodies prepare.videos=DIR [prepare.metadata=CSV] prepare.output=DIR

most used overrides:
  method={methods}
  dataset={datasets}  dataset.root=DIR  dataset.resolution=256
  method.checkpoint=auto|official:vox|PATH  (python -m motionbench weights lists the official:TAG checkpoints)
  benchmark.max_videos=N  benchmark.max_frames=N  benchmark.precision=fp32|bf16|fp16  benchmark.save_samples=K
  animate.resolution=N  animate.mode=relative|absolute|avd  train.max_steps=N  device=auto|cpu|cuda
  weights.download=true  -m (multirun sweep, e.g. -m method=fomm,lia)  --cfg job (show the composed config)

Each run writes into outputs/<date>/<time>-<task>-<method>-<dataset>/. The config reference follows.
"""


def usage() -> str:
    """:data:`USAGE` with every registered method (plugins included) and every dataset config."""
    from ..registries import ANIMATORS

    return USAGE.format(methods="|".join(ANIMATORS.names()), datasets="|".join(_group_options("dataset")))


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"motionbench: error: {message}", file=sys.stderr)
    sys.exit(code)


def _group_options(group: str) -> List[str]:
    folder = resources.files("motionbench.conf").joinpath(group)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def check_group_overrides(argv: Sequence[str]) -> List[str]:
    """Validate ``method=`` / ``dataset=`` choices before Hydra, with "did you mean" suggestions.

    A method registered only through an entry point (a plugin without a yaml) is mapped to the generic
    method config: ``method=foo`` -> ``method=generic method.name=foo``.
    """
    from ..registries import ANIMATORS

    out: List[str] = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in ("method", "dataset", "+method", "+dataset"):
            out.append(arg)
            continue
        group = key.lstrip("+")
        options = _group_options(group)
        values = value.split(",")
        extra: List[str] = []
        for v in values:
            if v in options:
                continue
            if group == "method" and v in ANIMATORS and len(values) == 1:
                arg = f"{key}=generic"
                extra = [f"method.name={ANIMATORS.resolve_name(v)}"]
                continue
            known = sorted(set(options) | (set(ANIMATORS.names()) if group == "method" else set()))
            close = difflib.get_close_matches(v, known, n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            fail(f"unknown {group} '{v}'{hint} (available: {', '.join(o for o in known if o != 'generic')})")
        out.append(arg)
        out.extend(extra)
    return out


def _hydra_entry(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig

    from .tasks import run_task
    from .validate import validate_config

    validate_config(cfg)  # bad values fail here, before any work
    run_task(cfg.task, cfg, Path(HydraConfig.get().runtime.output_dir))


def _plain_command(argv: List[str]) -> List[str]:
    """``task=list`` / ``task=weights`` (no sweep) are the sub-commands: they need no Hydra run directory."""
    if "task=list" in argv and "-m" not in argv:
        what = next((a.split("=", 1)[1] for a in argv if a.startswith("list=")), "all")
        return ["list", what]
    if "task=weights" in argv and "-m" not in argv:
        return ["weights"]
    return argv


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = _plain_command(list(sys.argv[1:] if argv is None else argv))
    debug = os.environ.get("MOTIONBENCH_DEBUG") == "1"
    try:
        if argv and argv[0] in ("--version", "-V"):
            from .. import __version__

            print(f"motionbench {__version__}")
            return
        if any(a in ("--help", "-h") for a in argv):
            print(usage())
        if argv and argv[0] == "list":
            from .tasks.listing import list_task

            print(list_task(argv[1] if len(argv) > 1 else "all"))
            return
        if argv and argv[0] == "leaderboard":
            from ..eval.report import main as leaderboard_main

            leaderboard_main(argv[1:])
            return
        if argv and argv[0] == "report":  # the HTML results report (motionbench/eval/htmlreport/)
            from ..eval.htmlreport import main as report_main

            report_main(argv[1:])
            return
        if argv and argv[0] == "weights":
            from .tasks.listing import weights_task

            print(weights_task())
            return
        argv = check_group_overrides(argv)
        from .hydra_check import check_composition
        from .schema import register_schemas

        register_schemas()
        check_composition(argv)
        _run_hydra(argv)
    except _user_errors() as exc:
        if debug:
            raise
        fail(str(exc) if not isinstance(exc, NotImplementedError) else f"not implemented: {exc}")


def _run_hydra(argv: List[str]) -> None:
    import hydra

    from .schema import register_schemas

    register_schemas()
    logging.getLogger("motionbench").setLevel(logging.INFO)

    @hydra.main(version_base="1.3", config_path="pkg://motionbench.conf", config_name="config")
    def _app(cfg) -> None:
        try:
            _hydra_entry(cfg)
        except _user_errors() as exc:
            if os.environ.get("MOTIONBENCH_DEBUG") == "1":
                raise
            _discard_empty_run_dir()
            fail(str(exc) if not isinstance(exc, NotImplementedError) else f"not implemented: {exc}")

    saved = sys.argv
    sys.argv = [saved[0] if saved else "motionbench", *argv]
    try:
        _app()
    finally:
        sys.argv = saved


def _discard_empty_run_dir() -> None:
    """After a user error, remove the run directory if it holds nothing but Hydra's own files (.hydra/, the
    log), and its parent folders that are left empty: a failed call leaves no output folder behind."""
    import shutil

    from hydra.core.hydra_config import HydraConfig

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    if not run_dir.is_dir() or any(p.name != ".hydra" and p.suffix != ".log" for p in run_dir.iterdir()):
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    for parent in list(run_dir.parents)[:2]:  # <date>/ and outputs/ (or the sweep folder and multirun/)
        if parent.is_dir() and parent.resolve() != Path.cwd().resolve() and not any(
                p.name != "multirun.yaml" for p in parent.iterdir()):
            shutil.rmtree(parent, ignore_errors=True)
