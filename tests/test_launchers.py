"""Cluster and local-parallel sweeps go through Hydra's launcher plugins (pip install "motionbench[slurm]" /
"motionbench[joblib]"; both are in the test extra): the README's SLURM example composes, and a joblib sweep
runs its jobs in parallel processes, each writing its own results."""
import csv
import json

import pytest

from helpers.cli import run_cli

SLURM_EXAMPLE = ["hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=1",
                 "hydra.launcher.tasks_per_node=1", "hydra.launcher.cpus_per_task=8", "hydra.launcher.mem_gb=32",
                 "hydra.launcher.timeout_min=240", "method=fomm", "dataset=vox"]  # README "Cluster sweeps"


def _compose(overrides):
    from hydra import compose, initialize_config_module

    from motionbench.cli.schema import register_schemas

    register_schemas()
    with initialize_config_module(config_module="motionbench.conf", version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


def test_slurm_example_composes():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher",
                        reason="hydra-submitit-launcher is not installed: pip install 'motionbench[slurm]'")
    cfg = _compose(SLURM_EXAMPLE)
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (launcher.partition, launcher.gpus_per_node, launcher.timeout_min, launcher.mem_gb) == ("gpu", 1, 240, 32)
    assert cfg.method.name == "fomm" and cfg.dataset.name == "vox"
    with pytest.raises(Exception, match="gpus_per_nod"):  # a misspelt launcher key fails at compose time
        _compose([*SLURM_EXAMPLE, "hydra.launcher.gpus_per_nod=1"])


@pytest.mark.slow
def test_joblib_sweep_runs_jobs_in_parallel_processes(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher",
                        reason="hydra-joblib-launcher is not installed: pip install 'motionbench[joblib]'")
    assert _compose(["hydra/launcher=joblib"]).hydra.launcher._target_.endswith("JoblibLauncher")
    r = run_cli(["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "method=identity", "benchmark.seed=0,1",
                 "benchmark.metrics=[l1]", "benchmark.max_videos=2", "benchmark.max_frames=3", "benchmark.progress=false",
                 f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in r.stderr + r.stdout
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "sweep").glob("*/results.json"))]
    assert [rec["seeds"]["benchmark"] for rec in records] == [0, 1]
    with open(tmp_path / "leaderboard.csv", newline="") as f:
        # both jobs appended their rows: same identity, cross identity in relative and absolute mode (a floor)
        assert len(list(csv.DictReader(f))) == 2 * 3
