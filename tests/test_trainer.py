"""The shared trainer: GAN stabilisers, schedules, NaN stop, exact resume after SIGKILL, DDP on gloo."""
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from motionbench.train.optim import make_scheduler
from motionbench.train.trainer import Trainer, TrainingDiverged, latest_checkpoint
from plugin_src.mbplugin import BlendNet
from helpers.cli import free_port, install_plugin, plugin_env

TESTS = Path(__file__).parent


def _batch(seed=0, b=2, s=16):
    g = torch.Generator().manual_seed(seed)
    return {"source": torch.rand(b, 3, s, s, generator=g), "driving": torch.rand(b, 3, s, s, generator=g)}


@pytest.mark.parametrize("gp", ["none", "r1", "wgan-gp"])
@pytest.mark.parametrize("sn", [False, True])
def test_stabilisers_train(tmp_path, gp, sn):
    model = BlendNet(channels=4)
    loss = {"l1": 1.0, "generator_gan": 1.0, "discriminator_gan": 1.0, "label_smoothing": 0.1,
            "spectral_norm": sn, "gradient_penalty": {"type": gp, "weight": 1.0}}
    trainer = Trainer(model, loss, {"max_steps": 4, "lr_generator": 1e-3, "lr_discriminator": 4e-3,
                                    "grad_clip": 1.0}, {}, tmp_path, torch.device("cpu"))
    assert trainer.adversarial
    assert trainer.opt["discriminator"].param_groups[0]["lr"] == 4e-3  # TTUR
    d_before = [p.detach().clone() for p in model.discriminator.parameters()]
    logs = [trainer.train_step(_batch(i)) for i in range(3)]
    assert all(math.isfinite(v) for log in logs for v in log.values())
    assert ("d/gradient_penalty" in logs[-1]) == (gp != "none")
    assert any(not torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters()))
    if sn:
        assert hasattr(model.discriminator[0], "parametrizations")


@pytest.mark.parametrize("kind,expected", [("multistep", [1, 1, 0.1, 0.1, 0.01]), ("linear", [1.0, 0.81, 0.62, 0.43, 0.24]),
                                           ("cosine", None)])
def test_schedules(kind, expected):
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(opt, {"scheduler": kind, "max_steps": 5, "milestones": [0.4, 0.8], "gamma": 0.1}, {})
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    if expected:
        assert lrs == pytest.approx(expected)
    else:
        assert lrs[0] == 1.0 and all(a >= b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 0.5


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path):
    model = BlendNet(channels=4)
    loss = {"l1": 1.0}
    trainer = Trainer(model, loss, {"max_steps": 10, "checkpoint_every": 1}, {}, tmp_path, torch.device("cpu"))
    trainer.fit([_batch(0), _batch(1)], max_steps=2, progress=False)
    good = latest_checkpoint(tmp_path)
    trainer.loss_cfg["l1"] = float("nan")
    with pytest.raises(TrainingDiverged, match=r"non-finite generator loss l1 at step 3.*step-00000002"):
        trainer.train_step(_batch(2))
    assert latest_checkpoint(tmp_path) == good
    torch.load(good, weights_only=True)  # intact


def _train_cmd(run_dir, steps):
    return [sys.executable, "-m", "motionbench", "task=train", "method=blendnet", "dataset=synthetic",
            f"train.run_dir={run_dir}", f"train.max_steps={steps}", "train.batch_size=2", "train.checkpoint_every=1",
            "train.sample_every=0", "train.keep_checkpoints=3", "+loss.l1=1.0", "+loss.generator_gan=1.0",
            "+loss.discriminator_gan=1.0", "hydra.run.dir=" + str(run_dir / "hydra")]


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted(tmp_path):
    root = install_plugin(tmp_path / "site")
    env = plugin_env(root)
    steps = 30
    ref = subprocess.run(_train_cmd(tmp_path / "ref", steps), env=env, capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr[-2000:]
    kill_at = random.Random().randint(3, 15)
    run = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(run, steps), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        ckpt = latest_checkpoint(run)
        if ckpt is not None and int(ckpt.stem.split("-")[1]) >= kill_at:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    killed_at = int(latest_checkpoint(run).stem.split("-")[1])
    assert killed_at < steps
    resumed = subprocess.run(_train_cmd(run, steps), env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resumed from step {killed_at}" in resumed.stdout
    a = torch.load(tmp_path / "ref" / "final.pt", weights_only=True)["model"]
    b = torch.load(run / "final.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert list((tmp_path / "ref" / "samples").glob("*.png"))  # the final sample grid


@pytest.mark.slow
def test_ddp_two_processes_gloo_replicas_identical_and_equal_single_process(tmp_path):
    """torchrun, 2 gloo processes, DistributedDataParallel on the G and D steps (GAN + R1): the replicas end
    identical (parameters and buffers), and without BatchNorm (whose statistics are per-rank) the result
    equals one process trained on the same global batches."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(TESTS))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
           str(TESTS / "ddp_worker.py"), str(tmp_path / "ddp")]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    single = subprocess.run([sys.executable, str(TESTS / "ddp_worker.py"), str(tmp_path / "one"), "single"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    for name in ("bn", "plain"):
        s0 = torch.load(tmp_path / "ddp" / f"{name}-rank0.pt", weights_only=True)
        s1 = torch.load(tmp_path / "ddp" / f"{name}-rank1.pt", weights_only=True)
        assert s0.keys() == s1.keys()
        for k in s0:
            assert torch.equal(s0[k], s1[k]), (name, k)
    ref = torch.load(tmp_path / "one" / "plain-rank0.pt", weights_only=True)
    init = torch.load(tmp_path / "one" / "plain-init.pt", weights_only=True)
    ddp = torch.load(tmp_path / "ddp" / "plain-rank0.pt", weights_only=True)
    for k in ref:
        torch.testing.assert_close(ddp[k], ref[k], rtol=1e-5, atol=1e-6)
    assert max((ddp[k] - init[k]).abs().max().item() for k in ddp) > 1e-4  # the steps did train
    assert [p.name for p in (tmp_path / "ddp" / "plain" / "checkpoints").iterdir()] == ["step-00000003.pt"]
