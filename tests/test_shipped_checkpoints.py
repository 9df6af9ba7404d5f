"""The trained synthetic checkpoints in benchmarks/checkpoints load and beat the copy-the-source floor.

Issue 6's acceptance: every trained method beats ``identity`` on same-identity L1 and on cross-identity
ground-truth L1 (crosstrain, which has no relative mode, in absolute mode against identity in absolute mode).
Scored on the full synthetic test split, as in benchmarks/leaderboard-synthetic.csv. The checkpoints are
inference-only files (no discriminator), at most 12 MB (imf and lwgan store float16 weights: their tiny
generators are 3.4 M and 3.1 M parameters).
"""
from pathlib import Path

import pytest
import torch

import motionbench
from motionbench.data.synthetic import SyntheticDataset
from motionbench.metrics import build_metrics
from motionbench.runner import BenchmarkOptions, effective_cross_mode, run_benchmark

CHECKPOINTS = sorted((Path(__file__).resolve().parents[1] / "benchmarks" / "checkpoints").glob("*-synthetic64.pt"))


def l1_scores(model, cross_mode):
    torch.set_num_threads(1)
    opts = BenchmarkOptions(cross_mode=cross_mode, progress=False)
    results = run_benchmark(model, SyntheticDataset(resolution=64), build_metrics(["l1"]), opts)
    return {p: r.metrics["l1"]["value"] for p, r in results.items()}


def test_every_trained_method_with_a_committed_checkpoint():
    methods = {p.name[: -len("-synthetic64.pt")] for p in CHECKPOINTS}
    assert {"fomm", "lia"} <= methods, methods
    assert methods <= set(motionbench.list_animators())
    for path in CHECKPOINTS:
        assert path.stat().st_size <= 12 * 2**20, f"{path.name} is over 12 MB"


@pytest.mark.parametrize("path", CHECKPOINTS, ids=[p.name for p in CHECKPOINTS])
def test_checkpoint_beats_identity(path):
    model = motionbench.create_animator(path.name[: -len("-synthetic64.pt")], checkpoint=str(path))
    mode = effective_cross_mode(model, "relative")
    ours = l1_scores(model, mode)
    floor = l1_scores(motionbench.create_animator("identity"), mode)
    for protocol in ("same_identity", "cross_identity"):
        assert ours[protocol] < floor[protocol], (protocol, ours, floor)
