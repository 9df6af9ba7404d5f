"""Bootstrap intervals over videos and the paired bootstrap of two rows."""
import math

import numpy as np

from motionbench.eval.stats import bootstrap_ci, paired_bootstrap


def test_interval_contains_the_mean_is_seeded_and_shrinks_with_more_videos():
    rng = np.random.default_rng(0)
    few = [rng.normal(0.1, 0.02, 30) + rng.normal(0, 0.01) for _ in range(8)]
    lo, hi = bootstrap_ci(few, seed=3)
    mean = np.mean([v.mean() for v in few])
    assert lo < mean < hi
    assert (lo, hi) == bootstrap_ci(few, seed=3) and (lo, hi) != bootstrap_ci(few, seed=4)
    many = few * 8
    lo2, hi2 = bootstrap_ci(many, seed=3)
    assert hi2 - lo2 < 0.6 * (hi - lo)


def test_frame_weighted_statistic_and_degenerate_cases():
    vids = [np.array([1.0]), np.array([0.0, 0.0, 0.0])]
    lo, hi = bootstrap_ci(vids, frame_weighted=True, n_boot=2000)
    assert lo == 0.0 and hi == 1.0  # resamples: {1,1} -> 1, {0,0} -> 0, mixed -> 0.25
    assert all(math.isnan(x) for x in bootstrap_ci([np.array([1.0])]))  # one video: undefined
    assert all(math.isnan(x) for x in bootstrap_ci([np.array([1.0]), np.array([])]))


def test_paired_bootstrap_resolves_consistent_differences_only():
    videos = [f"v{i}" for i in range(8)]
    rng = np.random.default_rng(1)
    base = {v: float(x) for v, x in zip(videos, rng.uniform(0.05, 0.2, 8))}  # large between-video spread
    better = {v: x - 0.01 for v, x in base.items()}  # consistently 0.01 lower on every video
    d = paired_bootstrap(better, base)
    assert d["resolved"] is True and d["ci_high"] < 0 and abs(d["diff"] + 0.01) < 1e-12
    noisy = {v: x + float(e) for (v, x), e in zip(base.items(), rng.normal(0, 0.02, 8))}
    n = paired_bootstrap(noisy, base)
    assert n["ci_low"] < n["diff"] < n["ci_high"]
    assert n["resolved"] is (n["ci_low"] > 0 or n["ci_high"] < 0)
    assert paired_bootstrap({"a": 1.0}, {"b": 1.0})["n_videos"] == 0
