"""AKD / MKR / AED formulas against hand-computed values, in the default and the pose_eval mode."""
import math

import numpy as np
import torch

from motionbench.metrics import MetricContext, build_metrics
from motionbench.metrics.base import FrameBatch, IdentityEmbedder, KeypointExtractor
from motionbench.metrics.identity import AED, ColorHistogramEmbedder
from motionbench.metrics.keypoints import AKD, akd_mkr

# reference (value 0) and generated (value 1) images of 3 frames; the fake extractor keys on the value
KP = {0: (np.array([[[0, 0], [10, 10], [20, 20]], [[5, 5], [6, 6], [7, 7]], [[1, 1], [2, 2], [3, 3]]], float),
          np.array([[1, 1, 1], [0, 0, 0], [1, 0, 1]], bool)),
      1: (np.array([[[1, 2], [10, 13], [0, 0]], [[5, 5], [6, 6], [7, 7]], [[0, 0], [0, 0], [0, 0]]], float),
          np.array([[1, 1, 0], [1, 1, 1], [0, 0, 0]], bool))}


class FakeFaces(KeypointExtractor):
    detects_whole_object = True  # like face-alignment: a miss loses the whole face

    def __call__(self, images):
        return KP[int(round(float(images[0, 0, 0, 0])))]


def _batch(protocol="same_identity", target=True):
    ref, gen = torch.zeros(3, 3, 8, 8), torch.ones(3, 3, 8, 8)
    return FrameBatch(generated=gen, target=ref if target else None, source=ref[0], driving=ref, video="v",
                      protocol=protocol, frame_indices=[0, 1, 2])


def test_akd_mkr_hand_computed_default_mode():
    out = AKD(MetricContext(), extractor=FakeFaces()).per_frame(_batch())
    # frame 0: found in both = kp 0, 1: |1|,|2|,|0|,|3| -> 1.5 px; kp 2 found in ref only -> mkr 1/3
    # frame 1: no reference keypoints -> undefined (NaN, counted by the runner)
    # frame 2: generated face missed -> akd undefined, mkr = 2/2
    np.testing.assert_allclose(out["akd"], [1.5, np.nan, np.nan])
    np.testing.assert_allclose(out["mkr"], [1 / 3, np.nan, 1.0])
    # no target (cross identity on real data): the driving frame is the reference
    out2 = AKD(MetricContext(), extractor=FakeFaces()).per_frame(_batch("cross_identity", target=False))
    np.testing.assert_allclose(out2["akd"], out["akd"])


def test_akd_mkr_pose_eval_skips_face_misses():
    out = AKD(MetricContext(compat="pose_eval"), extractor=FakeFaces()).per_frame(_batch())
    np.testing.assert_allclose(out["akd"], [1.5, np.nan, np.nan])
    np.testing.assert_allclose(out["mkr"], [1 / 3, np.nan, np.nan])  # frame 2 skipped, not mkr = 1
    # extractors with per-keypoint misses (markers, bodies) count them in both modes
    a, m = akd_mkr(*KP[0], *KP[1], skip_generated_misses=False)
    np.testing.assert_allclose(m, [1 / 3, np.nan, 1.0])


def test_akd_ground_truth_reference():
    b = _batch()
    b.target_keypoints = KP[0][0] + 1.0
    b.target_visibility = np.ones((3, 3), bool)
    out = AKD(MetricContext(), extractor=FakeFaces(), reference="ground_truth").per_frame(b)
    # frame 1: all 3 found: diffs of (5,5),(6,6),(7,7) vs +1 -> 1.0
    np.testing.assert_allclose(out["akd"][1], 1.0)
    np.testing.assert_allclose(out["mkr"], [1 / 3, 0.0, 1.0])


class MeanColour(IdentityEmbedder):
    has_cosine = True

    def __call__(self, images):
        e = images.mean((2, 3)).double().numpy()
        e[(images[:, 0, 0, 0] < 0).numpy()] = np.nan  # "no face"
        return e


def _id_batch(protocol):
    src = torch.tensor([0.2, 0.4, 0.6]).view(3, 1, 1).expand(3, 4, 4)
    tgt = torch.stack([torch.full((3, 4, 4), 0.5), torch.full((3, 4, 4), 0.1)])
    gen = torch.stack([torch.tensor([0.5, 0.5, 0.9]).view(3, 1, 1).expand(3, 4, 4), torch.full((3, 4, 4), -1.0)])
    return FrameBatch(generated=gen, target=tgt, source=src, driving=tgt, video="v", protocol=protocol,
                      frame_indices=[0, 1])


def test_aed_hand_computed_both_modes_and_references():
    same = AED(MetricContext(), embedder=MeanColour()).per_frame(_id_batch("same_identity"))
    # vs the real frame (0.5,0.5,0.5): diff (0,0,0.4) -> 0.4; frame 1 has no face -> NaN
    np.testing.assert_allclose(same["aed"], [0.4, np.nan])
    cos = np.dot([0.5, 0.5, 0.9], [0.5] * 3) / (np.linalg.norm([0.5, 0.5, 0.9]) * np.linalg.norm([0.5] * 3))
    np.testing.assert_allclose(same["id_similarity"], [cos, np.nan])
    cross = AED(MetricContext(), embedder=MeanColour()).per_frame(_id_batch("cross_identity"))
    # vs the source (0.2,0.4,0.6): diff (0.3,0.1,0.3) -> sqrt(0.19)
    np.testing.assert_allclose(cross["aed"], [math.sqrt(0.19), np.nan])
    pe = AED(MetricContext(compat="pose_eval"), embedder=MeanColour()).per_frame(_id_batch("cross_identity"))
    np.testing.assert_allclose(pe["aed"], [0.19, np.nan])  # squared euclidean, as pose-evaluation's cmp.py


def test_color_histogram_hand_computed_and_pose_invariant():
    emb = ColorHistogramEmbedder(bins=2, border=1, threshold=0.15, background_weight=0.5,
                                 marker_colors=[(1.0, 0.0, 0.0)], max_chroma=0.45)
    img = np.full((8, 8, 3), 0.5)
    img[2:4, 2:6] = 0.0  # 8 black pixels
    img[4:6, 2:6] = 1.0  # 8 white pixels
    img[6, 6] = (1.0, 0.0, 0.0)  # a marker: ignored
    img[1, 1] = (0.6, 0.55, 0.5)  # close to the background: ignored
    img[6, 2] = (0.25, 0.0, 0.0)  # soft-binned: 3/4 to bin (0,0,0), 1/4 to bin (1,0,0) = index 4
    expected = np.zeros(8 + 3)
    expected[0], expected[7], expected[4] = 8.75 / 17, 8 / 17, 0.25 / 17
    expected[8:] = 0.25
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    np.testing.assert_allclose(emb(x)[0], expected, atol=1e-6)
    moved = torch.roll(x, shifts=(1, 1), dims=(2, 3))  # translated figure: same descriptor
    np.testing.assert_allclose(emb(moved)[0], expected, atol=1e-6)
    assert np.isnan(emb(torch.full((1, 3, 8, 8), 0.5))).all()  # no foreground -> undefined


def test_default_synthetic_metrics_need_no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache
    from motionbench.metrics import default_metrics

    ms = build_metrics(default_metrics("synthetic"), MetricContext(dataset="synthetic"))
    assert [m.name for m in ms] == ["l1", "psnr", "ssim", "fg", "akd", "aed", "tof"]
    # the shipped puppet pose detector, not a downloaded file
    assert ms[4].settings()["extractor"] == "puppet_pose" and ms[5].settings()["embedder"] == "color_histogram"
