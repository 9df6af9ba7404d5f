"""Exact resume: SIGKILL at a random point inside a step, atomic fsynced checkpoints,
stale temp files of killed writers, and a clear refusal to resume from an inference checkpoint."""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from motionbench.core.checkpoint import CheckpointError, save_atomic
from motionbench.files.atomic import clean_stale_temps
from motionbench.train.trainer import Trainer, latest_checkpoint
from plugin_src.mbplugin import BlendNet

STEPS = 5


def _fomm_cmd(run_dir: Path, steps: int = STEPS):
    # the tiny FOMM preset, shrunk further: equivariance draws random warps from the global RNG each step,
    # which is what an inexact resume shifts
    return [sys.executable, "-m", "motionbench", "task=train", "method=fomm", "dataset=synthetic",
            "dataset.resolution=32", "dataset.identities.train=4", "device=cpu",
            f"train.run_dir={run_dir}", f"train.max_steps={steps}", "train.batch_size=2",
            "train.checkpoint_every=1", "train.sample_every=0", "train.keep_checkpoints=2", "train.log_every=1",
            "+method.params.generator_params.block_expansion=8",
            "+method.params.generator_params.dense_motion_params.block_expansion=8",
            "+method.params.kp_detector_params.block_expansion=8",
            "hydra.run.dir=" + str(run_dir / "hydra")]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _tensors(x, prefix=""):
    """Every tensor (and number) in a nested checkpoint dict, by its path."""
    if isinstance(x, dict):
        return {k: v for key, val in x.items() for k, v in _tensors(val, f"{prefix}{key}/").items()}
    if isinstance(x, (list, tuple)):
        return {k: v for i, val in enumerate(x) for k, v in _tensors(val, f"{prefix}{i}/").items()}
    return {prefix: x}


def _step_of(path: Path) -> int:
    return int(path.stem.split("-")[1])


@pytest.mark.slow
def test_sigkill_inside_a_step_resumes_bitwise(tmp_path):
    env = _env()
    ref = subprocess.run(_fomm_cmd(tmp_path / "ref"), env=env, capture_output=True, text=True, timeout=900)
    assert ref.returncode == 0, ref.stderr[-3000:]
    run = tmp_path / "killed"
    proc = subprocess.Popen(_fomm_cmd(run), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = {}
    while proc.poll() is None and len(seen) < 2:
        ckpt = latest_checkpoint(run)
        if ckpt is not None:
            seen.setdefault(_step_of(ckpt), time.monotonic())
        time.sleep(0.002)
    assert proc.poll() is None, "training finished before it could be killed"
    step_time = max(seen.values()) - min(seen.values())
    # a random point of the next step: forward, backward, optimiser update or the checkpoint save
    time.sleep(random.uniform(0.05, 0.95) * step_time)
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    killed_at = _step_of(latest_checkpoint(run))
    assert killed_at < STEPS
    resumed = subprocess.run(_fomm_cmd(run), env=env, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from step {killed_at}" in resumed.stdout
    for name in (f"checkpoints/step-{STEPS:08d}.pt", "final.pt"):
        a = _tensors(torch.load(tmp_path / "ref" / name, weights_only=True))
        b = _tensors(torch.load(run / name, weights_only=True))
        a = {k: v for k, v in a.items() if not k.startswith(("resolved_config/", "train_seconds"))}
        b = {k: v for k, v in b.items() if not k.startswith(("resolved_config/", "train_seconds"))}
        assert a.keys() == b.keys()
        differ = [k for k in a if (torch.is_tensor(a[k]) and not torch.equal(a[k], b[k]))
                  or (not torch.is_tensor(a[k]) and a[k] != b[k])]
        assert not differ, f"{name}: {len(differ)} of {len(a)} entries differ, e.g. {differ[:5]}"
    assert not list((run / "checkpoints").glob(".*tmp*")), "a temp file of the killed save was left behind"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_of_a_killed_save_is_removed_and_live_one_kept(tmp_path):
    stale = tmp_path / f".step-00000002.pt.tmp-{_dead_pid()}"
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / f".step-00000003.pt.tmp-{os.getppid()}.pt"  # a running process's write in progress
    live.write_bytes(b"y")
    save_atomic({"w": torch.ones(3)}, tmp_path / "step-00000004.pt")
    assert not stale.exists() and live.exists()
    assert torch.equal(torch.load(tmp_path / "step-00000004.pt", weights_only=True)["w"], torch.ones(3))
    assert clean_stale_temps(tmp_path) == 0


def test_failed_save_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "step-00000001.pt"
    save_atomic({"w": torch.zeros(2)}, target)
    with pytest.raises(Exception):
        save_atomic({"w": torch.ones(2), "bad": lambda: None}, target)  # not picklable: fails mid-write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000001.pt"]
    assert torch.equal(torch.load(target, weights_only=True)["w"], torch.zeros(2))


def test_resume_from_inference_checkpoint_says_it_has_no_optimiser_state(tmp_path):
    model = BlendNet(channels=4)
    final = model.save_checkpoint(tmp_path / "final.pt", inference_only=True)
    trainer = Trainer(BlendNet(channels=4), {"l1": 1.0}, {"max_steps": 1}, {}, tmp_path, torch.device("cpu"))
    with pytest.raises(CheckpointError, match=r"final\.pt holds no training state.*optimizers.*inference checkpoint"):
        trainer.maybe_resume(str(final))
