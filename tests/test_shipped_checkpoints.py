"""The trained synthetic checkpoints in benchmarks/checkpoints load and beat the copy-the-source floor.

Scored on the full synthetic test split, as in benchmarks/leaderboard-synthetic.csv, with the default
synthetic metrics that measure motion: every trained method beats ``identity`` on same-identity L1 and
``fg_l1`` (inside the figure, which an erased puppet cannot win) and on AKD in both protocols (the learned
puppet pose detector; crosstrain, which has no relative mode, in absolute mode against the floors in
absolute mode), with non-overlapping 95% intervals on fg_l1 and AKD; AKD is defined on every scored frame.
``copy_driving`` (perfect pose) brackets same-identity AKD from below. The checkpoints are inference-only
files (no discriminator), at most 12 MB (imf and lwgan store float16 weights).
"""
from pathlib import Path

import pytest
import torch

import motionbench
from motionbench.data.synthetic import SyntheticDataset
from motionbench.metrics import MetricContext, build_metrics
from motionbench.runner import BenchmarkOptions, effective_cross_mode, run_benchmark

CHECKPOINTS = sorted((Path(__file__).resolve().parents[1] / "benchmarks" / "checkpoints").glob("*-synthetic64.pt"))


def scores(model, cross_mode):
    torch.set_num_threads(1)
    opts = BenchmarkOptions(cross_mode=cross_mode, progress=False, n_boot=500)
    metrics = build_metrics(["l1", "fg", "akd"], MetricContext(dataset="synthetic"))
    return {p: r.metrics for p, r in run_benchmark(model, SyntheticDataset(resolution=64), metrics, opts).items()}


@pytest.fixture(scope="module")
def floors():
    return {(name, mode): scores(motionbench.create_animator(name), mode)
            for name in ("identity", "copy_driving") for mode in ("relative", "absolute")}


def test_every_trained_method_with_a_committed_checkpoint():
    methods = {p.name[: -len("-synthetic64.pt")] for p in CHECKPOINTS}
    assert {"fomm", "lia"} <= methods, methods
    assert methods <= set(motionbench.list_animators())
    for path in CHECKPOINTS:
        assert path.stat().st_size <= 12 * 2**20, f"{path.name} is over 12 MB"


@pytest.mark.parametrize("path", CHECKPOINTS, ids=[p.name for p in CHECKPOINTS])
def test_checkpoint_beats_identity(path, floors):
    model = motionbench.create_animator(path.name[: -len("-synthetic64.pt")], checkpoint=str(path))
    mode = effective_cross_mode(model, "relative")
    ours = scores(model, mode)
    floor, pose_floor = floors[("identity", mode)], floors[("copy_driving", mode)]
    same_frames = 8 * 31  # every test frame but the source frame
    for protocol in ("same_identity", "cross_identity"):
        for metric in ("l1", "fg_l1", "akd"):
            assert ours[protocol][metric]["value"] < floor[protocol][metric]["value"], (protocol, metric)
        akd = ours[protocol]["akd"]
        assert akd["n_undefined_frames"] == 0 and akd["n"] == same_frames + (8 if protocol != "same_identity"
                                                                             and mode == "absolute" else 0)
        assert akd["ci_high"] < floor[protocol]["akd"]["ci_low"], (protocol, akd, floor[protocol]["akd"])
    same = ours["same_identity"]
    assert same["fg_l1"]["ci_high"] < floor["same_identity"]["fg_l1"]["ci_low"]
    assert pose_floor["same_identity"]["akd"]["value"] < same["akd"]["value"]
    # cross identity: the trained model keeps the source identity that copy_driving loses
    assert ours["cross_identity"]["fg_l1"]["value"] < pose_floor["cross_identity"]["fg_l1"]["value"]
