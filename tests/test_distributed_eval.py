"""Sharded evaluation (motionbench.eval.distributed): the merge of ranks' shares equals one process, and
``torchrun --nproc_per_node=2 -m motionbench`` (gloo, CPU) writes the same results.json as one process."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from motionbench.eval.distributed import shard
from motionbench.metrics import MetricContext
from motionbench.metrics.fid import FID, KID
from motionbench.eval.runner import Collected, _Series

from helpers.cli import free_port
from motionbench.testing import write_random_metric_weights
from test_metrics_sets import CountingFeatures, _batches


def test_shard_is_contiguous_and_covers_every_job():
    jobs = list(range(7))
    parts = [shard(jobs, r, 3) for r in range(3)]
    assert parts == [[0, 1], [2, 3], [4, 5, 6]] and sum(parts, []) == jobs
    assert [shard(jobs[:1], r, 2) for r in range(2)] == [[], [0]]  # a rank may get nothing


def test_merged_shares_equal_one_process(tmp_path):
    batches = _batches(5, n_videos=3, shift=0.1)
    ctx = MetricContext(cache_dir=str(tmp_path))
    extractor = CountingFeatures()

    def collect(share, metrics):
        series = _Series()
        for m in metrics:
            m.reset()
        for b in share:
            series.add(b.video, (b.generated - b.target).abs().mean((1, 2, 3)).numpy(), np.ones(len(b.generated), bool))
            for m in metrics:
                m.update(b)
        return Collected({"l1": series}, {"l1": False}, list(metrics), sum(len(b.generated) for b in share), 1.0,
                         "absolute")

    def metrics():
        return [FID(ctx, extractor=extractor, cache=False), KID(ctx, extractor=extractor, cache=False, num_subsets=4)]

    ref_metrics = metrics()
    ref = collect(batches, ref_metrics)
    expected = {**ref_metrics[0].compute(), **ref_metrics[1].compute()}
    rank_metrics = [metrics(), metrics(), metrics()]
    parts = [collect(shard(batches, r, 3), rank_metrics[r]).payload(rank_metrics[r]) for r in range(3)]
    merged = Collected.merge(parts, rank_metrics[0], "absolute")
    assert merged.frames == ref.frames and merged.animate_seconds == 3.0
    assert list(merged.series["l1"].videos) == list(ref.series["l1"].videos)
    for video in ref.series["l1"].videos:
        np.testing.assert_array_equal(merged.series["l1"].arrays(video, True), ref.series["l1"].arrays(video, True))
    got = {**rank_metrics[0][0].compute(), **rank_metrics[0][1].compute()}
    assert got["fid"]["value"] == expected["fid"]["value"] and got["fid"]["n"] == 36
    assert got["kid"]["value"] == expected["kid"]["value"] and got["kid"]["value"] != 0


def _results(run_dir):
    rec = json.loads((run_dir / "results.json").read_text())
    with open(run_dir / "per_video.csv", newline="") as f:
        return rec, list(csv.DictReader(f))


@pytest.mark.slow
def test_torchrun_two_processes_equal_one_process(tmp_path):
    """method=identity on 2 videos x 4 frames + 2 pairs with frame, keypoint and set metrics."""
    write_random_metric_weights(tmp_path / "torch")
    env = dict(os.environ, OMP_NUM_THREADS="1", TORCH_HOME=str(tmp_path / "torch"))
    common = ["method=identity", "benchmark.metrics=[l1,ssim,lpips,akd,fid,kid]", "benchmark.max_videos=2",
              "benchmark.max_frames=4", "benchmark.num_pairs=2", "benchmark.progress=false", "weights.verify=false",
              "+benchmark.options.kid.num_subsets=5"]
    runs = {}
    for name, launcher in [("one", [sys.executable, "-m", "motionbench"]),
                           ("two", [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                                    f"--master_port={free_port()}", "-m", "motionbench"])]:
        out = tmp_path / name
        out.mkdir()
        r = subprocess.run([*launcher, *common, f"hydra.run.dir={out / 'run'}", f"benchmark.fid_cache={out / 'fid'}",
                            f"benchmark.leaderboard={out / 'board.csv'}"], cwd=out, env=env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        runs[name] = _results(out / "run")
        with open(out / "board.csv", newline="") as f:
            rows = [(row["protocol"], row["mode"]) for row in csv.DictReader(f)]
            # identity is a floor: its cross-identity protocol is scored in both modes
            assert rows == [("same_identity", "absolute"), ("cross_identity", "relative"), ("cross_identity", "absolute")]
    (one, one_rows), (two, two_rows) = runs["one"], runs["two"]
    assert one["processes"] == 1 and two["processes"] == 2
    assert one["frames"] == two["frames"] == 2 * 4 + 2 * (2 * 4)
    assert one_rows == two_rows  # same videos and pairs, same per-video values, same order
    for protocol, metrics in one["results"].items():
        assert set(metrics) == set(two["results"][protocol]) >= {"l1", "ssim", "lpips", "akd", "mkr", "fid", "kid"}
        for name, res in metrics.items():
            other = two["results"][protocol][name]
            assert res["n"] == other["n"], (protocol, name)
            if res["value"] is None:
                assert other["value"] is None, (protocol, name)
            else:
                assert other["value"] == pytest.approx(res["value"], rel=1e-9, abs=1e-12), (protocol, name)
    assert one["results"]["cross_identity"]["fid"]["value"] > 0
