"""The shipped puppet pose detector: safe loading, recorded provenance, accuracy on test-split renders
(never used in training), missing joints on images without a puppet, and its use as the synthetic default."""
import hashlib

import numpy as np
import pytest
import torch

from motionbench.data.synthetic import SyntheticDataset
from motionbench.metrics import MetricContext, MetricError, build_metrics
from motionbench.metrics.puppet_pose import PuppetPoseDetector, _default_weights
from motionbench.registries import KEYPOINT_EXTRACTORS

DS = SyntheticDataset(resolution=64, identities={"test": 6})


def _renders(sigma=0.0, markers=True):
    ds = DS if markers else SyntheticDataset(resolution=64, identities={"test": 6}, markers=False)
    imgs, kps, vis = [], [], []
    for v in ds.videos("test"):
        idx = list(range(0, 32, 2))
        imgs.append(ds.read_frames(v, idx))
        k, s = ds.keypoints(v, idx)
        kps.append(k)
        vis.append(s)
    x = torch.cat(imgs)
    if sigma:
        r = 6
        t = torch.arange(-r, r + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        k = (k / k.sum()).repeat(3, 1)
        x = torch.nn.functional.pad(x, (r, r, r, r), mode="reflect")
        x = torch.nn.functional.conv2d(x, k[:, None, None, :], groups=3)
        x = torch.nn.functional.conv2d(x, k[:, None, :, None], groups=3)
    return x, np.concatenate(kps), np.concatenate(vis)


@pytest.fixture(scope="module")
def detector():
    torch.set_num_threads(1)
    return PuppetPoseDetector()


def test_shipped_weights_are_small_safe_and_recorded(detector):
    path = _default_weights()
    assert path.stat().st_size <= 2 * 2**20
    torch.load(path, map_location="cpu", weights_only=True)  # plain tensors and numbers only
    s = detector.settings()
    assert s["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert s["version"] == "puppet-pose-v1" and 0 < s["threshold"] < 1
    acc = s["accuracy"]
    assert acc["markers/sigma=0"]["akd"] <= 0.7 and acc["plain/sigma=2"]["akd"] <= 1.0
    assert acc["markers/sigma=0"]["mkr"] <= 0.01


@pytest.mark.parametrize("sigma,markers,bound", [(0.0, True, 0.7), (0.0, False, 0.7), (2.0, False, 1.0)])
def test_accuracy_against_true_keypoints(detector, sigma, markers, bound):
    x, true_kp, visible = _renders(sigma, markers)
    kp, found = detector(x)
    both = found & visible
    akd = np.abs(kp - true_kp).mean(-1)[both].mean()
    assert akd <= bound, akd
    assert (visible & ~found).sum() / visible.sum() <= (0.01 if sigma == 0 and markers else 0.05)


def test_finds_nothing_without_a_puppet_and_scales_to_other_sizes(detector):
    bgs = torch.stack([torch.from_numpy(DS._background("test", i)).permute(2, 0, 1) for i in range(6)])
    _, found = detector(bgs)
    assert found.mean() < 0.05
    x, true_kp, visible = _renders()
    big = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    kp, found = detector(big)
    both = found & visible
    assert np.abs(kp - (true_kp * 2 + 0.5)).mean(-1)[both].mean() <= 2 * 0.8  # pixel centres at 128²


def test_default_extractor_of_synthetic_and_bad_weights(tmp_path):
    (akd,) = build_metrics(["akd"], MetricContext(dataset="synthetic"))
    assert akd.extractor_name == "puppet_pose" and KEYPOINT_EXTRACTORS.get("puppet_pose") is PuppetPoseDetector
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(MetricError, match="bad.pt"):
        PuppetPoseDetector(bad)
    with pytest.raises(MetricError, match="not found"):
        PuppetPoseDetector(tmp_path / "missing.pt")
