"""The runner's aggregation rules, unit by unit: frame vs video means, trivial frames, pose_eval weighting,
undefined frames, intervals, and the floors' extra cross-identity mode."""
import math

import numpy as np
import pytest

import motionbench
from motionbench.data.synthetic import SyntheticDataset
from motionbench.metrics.base import FrameMetric
from motionbench.eval.runner import BenchmarkOptions, _aggregate, _Series, run_benchmark


def _series():
    s = _Series()
    # video a: frames 0 (trivial, excluded by default), 1, 2; video b: frames 0 (trivial), 1 (undefined), 2, 3, 4
    s.add("a", np.array([9.0, 1.0, 3.0]), np.array([False, True, True]))
    s.add("b", np.array([9.0, np.nan, 4.0, 4.0, 4.0]), np.array([False, True, True, True, True]))
    return s


def test_default_is_the_video_mean_without_trivial_frames():
    res, per_video = _aggregate(_series(), higher=False, frame_weighted_all=False, n_boot=200)
    assert per_video == {"a": 2.0, "b": 4.0}
    assert res.value == res.video_mean == 3.0
    assert res.frame_mean == pytest.approx((1 + 3 + 4 * 3) / 5)
    assert res.n == 5 and res.n_undefined_frames == 1 and res.n_videos == 2
    assert res.ci_low <= res.value <= res.ci_high and res.n_boot == 200
    assert res.aggregation == "video-weighted"


def test_pose_eval_is_frame_weighted_over_all_frames():
    res, per_video = _aggregate(_series(), higher=False, frame_weighted_all=True, n_boot=200)
    frames = [9, 1, 3, 9, 4, 4, 4]
    assert res.value == res.frame_mean == pytest.approx(np.mean(frames))
    assert res.n == 7 and res.n_undefined_frames == 1
    assert per_video == {"a": pytest.approx(13 / 3), "b": pytest.approx(21 / 4)}


def test_all_undefined_is_nan_and_counted():
    s = _Series()
    s.add("a", np.array([np.nan, np.nan]), np.array([True, True]))
    res, _ = _aggregate(s, higher=True, frame_weighted_all=False)
    assert math.isnan(res.value) and res.n == 0 and res.n_undefined_frames == 2


class FrameIndex(FrameMetric):
    """Records which driving frames the runner scored (the value is the frame index)."""

    name = "frame_index"
    outputs = {"frame_index": False}

    def per_frame(self, batch):
        return {"frame_index": np.asarray(batch.frame_indices, np.float64)}


def test_trivial_frames_and_floor_modes_end_to_end():
    ds = SyntheticDataset(resolution=32, identities={"test": 3}, frames_per_video={"test": 5})
    opts = BenchmarkOptions(progress=False, n_boot=50)
    out = run_benchmark(motionbench.create_animator("identity"), ds, [FrameIndex()], opts)
    assert set(out) == {"same_identity", "cross_identity", "cross_identity@absolute"}
    assert out["cross_identity"].mode == "relative" and out["cross_identity@absolute"].mode == "absolute"
    assert out["cross_identity@absolute"].protocol == "cross_identity"
    same = out["same_identity"].metrics["frame_index"]
    assert same.value == pytest.approx(np.mean([1, 2, 3, 4])) and same.n == 3 * 4  # frame 0 excluded
    rel, ab = out["cross_identity"].metrics["frame_index"], out["cross_identity@absolute"].metrics["frame_index"]
    assert rel.n == 3 * 4 and ab.n == 3 * 5  # relative frame 0 is the source pose by construction
    fomm = run_benchmark(motionbench.create_animator("fomm", preset="tiny"), ds, [FrameIndex()], opts)
    assert set(fomm) == {"same_identity", "cross_identity"}  # only floors get the extra mode
