"""The synthetic puppet dataset and its marker detector."""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from motionbench.data.base import DatasetError, Pair
from motionbench.data.markers import MARKER_COLORS, MAX_BODY_CHROMA, NUM_KEYPOINTS
from motionbench.metrics.markers import MarkerDetector
from motionbench.data.synthetic import SyntheticDataset
from motionbench.registries import DATASETS, KEYPOINT_EXTRACTORS

CONF = Path(__file__).resolve().parents[1] / "conf" / "dataset" / "synthetic.yaml"
SMALL = dict(identities={"train": 3, "test": 3}, videos_per_identity={"train": 2, "test": 1},
             frames_per_video={"train": 12, "test": 16})


@pytest.fixture(scope="module")
def ds() -> SyntheticDataset:
    return SyntheticDataset(**SMALL)


def test_registry_and_yaml_keys_are_constructor_kwargs():
    assert DATASETS.get("synthetic") is SyntheticDataset
    assert KEYPOINT_EXTRACTORS.get("markers") is MarkerDetector
    cfg = yaml.safe_load(CONF.read_text())
    assert cfg["name"] == "synthetic" and cfg["type"] == "synthetic" and cfg["resolution"] == 64
    params = inspect.signature(SyntheticDataset.__init__).parameters
    kwargs = {k: v for k, v in cfg.items() if k not in ("name", "type", "defaults")}  # defaults: Hydra schema
    assert set(kwargs) <= set(params)
    built = SyntheticDataset(**kwargs)
    described = built.describe()
    for key, value in kwargs.items():  # describe() records every setting, with the yaml's values
        assert described[key] == value, key


def test_determinism_seeds_and_disjoint_splits(ds):
    v = ds.videos("test")[1]
    again = SyntheticDataset(**SMALL)
    a, b = ds.read_frames(v, [0, 5, 9]), again.read_frames(v, [0, 5, 9])
    assert torch.equal(a, b)
    assert np.array_equal(ds.keypoints(v, [0, 5, 9])[0], again.keypoints(v, [0, 5, 9])[0])
    other = SyntheticDataset(seed=1, **SMALL)
    assert (other.read_frames(v, [0, 5, 9]) - a).abs().mean() > 0.02
    train, test = ds.videos("train"), ds.videos("test")
    assert not {t.identity for t in train} & {t.identity for t in test}
    assert (ds.read_frames(train[0], [0]) - ds.read_frames(test[0], [0])).abs().mean() > 0.02
    assert len(train) == 6 and len(test) == 3 and {t.num_frames for t in train} == {12}
    assert train[0].identity == train[1].identity != train[2].identity
    # a frame does not depend on which other frames are rendered with it
    assert torch.equal(ds.read_frames(v, [5]), a[1:2])


def test_shapes_dtypes_range_and_keypoints_inside(ds):
    for v in ds.videos("test") + ds.videos("train")[:2]:
        idx = list(range(v.num_frames))
        fr = ds.read_frames(v, idx)
        assert fr.dtype == torch.float32 and fr.shape == (v.num_frames, 3, 64, 64)
        assert fr.min() >= 0 and fr.max() <= 1 and torch.isfinite(fr).all()
        kp, vis = ds.keypoints(v, idx)
        assert kp.dtype == np.float32 and kp.shape == (v.num_frames, NUM_KEYPOINTS, 2)
        assert vis.dtype == bool and vis.shape == (v.num_frames, NUM_KEYPOINTS)
        assert (kp >= 0).all() and (kp <= 63).all()
        assert vis.mean() > 0.8
    with pytest.raises(DatasetError, match="out of range"):
        ds.read_frames(ds.videos("test")[0], [16])
    with pytest.raises(DatasetError, match="unknown split"):
        ds.videos("val")
    with pytest.raises(DatasetError, match="empty"):
        SyntheticDataset(identities={"test": 0}).videos("test")
    with pytest.raises(DatasetError, match="not a synthetic video name"):
        ds.poses("clip.mp4", [0])
    with pytest.raises(ValueError, match="identities"):
        SyntheticDataset(identities={"test": -1})


def test_resolutions_scale_keypoints():
    lo = SyntheticDataset(resolution=64, **SMALL)
    hi = SyntheticDataset(resolution=128, **SMALL)
    v = lo.videos("test")[0]
    assert hi.read_frames(v, [0, 3]).shape == (2, 3, 128, 128)
    assert SyntheticDataset(resolution=256, **SMALL).read_frames(v, [2]).shape == (1, 3, 256, 256)
    # pixel centres at integer coordinates: x_128 = 2 x_64 + 0.5
    np.testing.assert_allclose(hi.keypoints(v, [0, 3])[0], 2 * lo.keypoints(v, [0, 3])[0] + 0.5, atol=1e-3)
    # the same picture: the 128 render box-downsampled is close to the 64 render
    down = F.avg_pool2d(hi.read_frames(v, [3]), 2)
    assert (down - lo.read_frames(v, [3])).abs().mean() < 0.03


def test_marker_detector_recovers_ground_truth(ds):
    det = MarkerDetector()
    errs, recall = [], []
    for v in ds.videos("test"):
        idx = list(range(0, v.num_frames, 2))
        kp, vis = ds.keypoints(v, idx)
        found_kp, found = det(ds.read_frames(v, idx))
        assert found_kp.shape == kp.shape and found.shape == vis.shape
        errs.append(np.linalg.norm(found_kp - kp, axis=-1)[vis & found])
        recall.append(found[vis])
        assert np.isnan(found_kp[~found]).all()
    err, rec = np.concatenate(errs), np.concatenate(recall)
    assert err.mean() < 1.0 and rec.mean() > 0.9, (err.mean(), rec.mean())


def test_marker_detector_reports_missing_markers():
    det = MarkerDetector()
    plain = SyntheticDataset(markers=False, **SMALL)
    v = plain.videos("test")[0]
    _, found = det(plain.read_frames(v, range(8)))
    assert not found.any()
    marked = SyntheticDataset(**SMALL).read_frames(v, range(8))
    blurred = _gaussian_blur(marked, sigma=3.0)
    _, found = det(blurred)
    assert found.mean() < 0.1
    # a mild blur (like a blurry generated frame) keeps most markers
    _, found = det(_gaussian_blur(marked, sigma=0.7))
    assert found.mean() > 0.8


def _gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    r = int(3 * sigma)
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-x ** 2 / (2 * sigma ** 2))
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    img = F.conv2d(F.pad(img, (r, r, 0, 0), mode="replicate"), k, groups=3)
    return F.conv2d(F.pad(img, (0, 0, r, r), mode="replicate"), k.transpose(2, 3), groups=3)


def test_reserved_colours_are_far_from_body_colours(ds):
    # every pixel of a marker-free render has chroma <= MAX_BODY_CHROMA, markers have chroma 1
    plain = SyntheticDataset(markers=False, **SMALL)
    fr = plain.read_frames(plain.videos("train")[3], range(0, 12, 3))
    chroma = fr.max(1).values - fr.min(1).values
    assert chroma.max() <= MAX_BODY_CHROMA + 1e-4
    assert np.allclose(MARKER_COLORS.max(1) - MARKER_COLORS.min(1), 1.0)


def test_cross_identity_ground_truth(ds):
    a, b = ds.videos("test")[0], ds.videos("test")[2]
    idx = [0, 4, 9]
    # B's identity in B's own poses is B's video
    same = Pair(b.name, b.name, 0)
    assert torch.equal(ds.render_cross(same, idx, mode="absolute"), ds.read_frames(b, idx))
    np.testing.assert_array_equal(ds.cross_keypoints(same, idx, mode="absolute")[0], ds.keypoints(b, idx)[0])
    # relative at t = 0 is the source frame (any source frame)
    for src_frame in (0, 7):
        pair = Pair(a.name, b.name, src_frame)
        rel = ds.render_cross(pair, [0, 6], mode="relative")
        assert torch.equal(rel[:1], ds.read_frames(a, [src_frame]))
        expected = ds.poses(a, [src_frame]) + ds.poses(b, [6]) - ds.poses(b, [0])
        np.testing.assert_allclose(ds._cross_pose(pair, [6], "relative"), expected)
    # absolute: A's identity, exactly B's pose parameters (different picture from both)
    pair = Pair(a.name, b.name, 0)
    absolute = ds.render_cross(pair, idx, mode="absolute")
    assert (absolute - ds.read_frames(b, idx)).abs().mean() > 0.02
    np.testing.assert_array_equal(ds._cross_pose(pair, idx, "absolute"), ds.poses(b, idx))
    # the cross keypoints are where the markers are drawn
    kp, vis = ds.cross_keypoints(pair, idx, mode="absolute")
    found_kp, found = MarkerDetector()(absolute)
    assert np.linalg.norm(found_kp - kp, axis=-1)[vis & found].mean() < 1.0
    with pytest.raises(ValueError, match="mode"):
        ds.render_cross(pair, idx, mode="sideways")


def test_pairs_are_deterministic_and_cross_identity(ds):
    pairs = ds.pairs("test")
    assert pairs == SyntheticDataset(**SMALL).pairs("test") and len(pairs) == 3
    ids = {v.name: v.identity for v in ds.videos("test")}
    assert all(ids[p.source] != ids[p.driving] for p in pairs)
    assert sorted(p.driving for p in pairs) == sorted(ids)  # every video drives once
    assert len(ds.pairs("test", num_pairs=7)) == 7
    assert ds.pairs("test", seed=1) != pairs or ds.pairs("test", seed=2) != pairs


def test_copy_source_l1_is_high():
    """The default test split moves a lot: copying the source frame is a weak baseline."""
    full = SyntheticDataset()
    l1 = [(f[1:] - f[:1]).abs().mean().item()
          for f in (full.read_frames(v, range(v.num_frames)) for v in full.videos("test"))]
    assert len(l1) == 8 and np.mean(l1) > 0.08, l1
