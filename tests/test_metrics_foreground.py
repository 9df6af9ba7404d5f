"""fg_l1 / fg_psnr: inside the target's figure mask (dilated 2 px); erasing the figure or keeping the source
pose scores badly there, although whole-frame L1 can favour the erased output."""
import numpy as np
import pytest
import torch

from motionbench.data.synthetic import SyntheticDataset
from motionbench.metrics import build_metrics
from motionbench.metrics.base import FrameBatch, MetricContext, MetricError

DS = SyntheticDataset(resolution=64, identities={"test": 4})


def _batch(generated, target, mask):
    n = len(target)
    return FrameBatch(generated=generated, target=target, source=target[0], driving=target, video="v",
                      protocol="same_identity", frame_indices=list(range(n)), target_mask=mask)


def _scores(generated, target, mask):
    fg, l1 = build_metrics(["fg", "l1"], MetricContext(dataset="synthetic"))
    b = _batch(generated, target, mask)
    return fg.per_frame(b), l1.per_frame(b)["l1"]


def test_hand_computed_values_and_dilation():
    target = torch.zeros(1, 3, 8, 8)
    gen = target.clone()
    gen[0, :, 0, 0] = 1.0  # far outside the mask: no effect
    gen[0, 0, 4, 6] = 0.6  # 2 px right of the figure: inside the dilated mask
    mask = np.zeros((1, 8, 8), np.float32)
    mask[0, 3:6, 3:5] = 1.0  # 3x2 figure -> dilated by 2: rows 1..7, cols 1..6 = 7 x 6 = 42 px
    out, _ = _scores(gen, target, mask)
    np.testing.assert_allclose(out["fg_l1"], [0.6 / (42 * 3)], rtol=1e-6)
    np.testing.assert_allclose(out["fg_psnr"], [10 * np.log10(42 * 3 / 0.36)], rtol=1e-6)
    empty, _ = _scores(gen, target, np.zeros((1, 8, 8), np.float32))
    assert np.isnan(empty["fg_l1"]).all() and np.isnan(empty["fg_psnr"]).all()  # undefined, counted by the runner


def test_background_only_and_source_pose_score_badly_inside_the_figure():
    v = DS.videos("test")[0]
    idx = list(range(1, 17))
    frames, mask = DS.read_frames(v, idx), DS.figure_masks(v, idx)
    bg = torch.from_numpy(DS._background("test", 0)).permute(2, 0, 1)[None].expand_as(frames).contiguous()
    source = DS.read_frames(v, [0]).expand_as(frames).contiguous()
    blur = torch.nn.functional.avg_pool2d(frames, 3, 1, 1, count_include_pad=False)  # a blurry but right pose
    fg_bg, l1_bg = _scores(bg, frames, mask)
    fg_src, l1_src = _scores(source, frames, mask)
    fg_blur, _ = _scores(blur, frames, mask)
    # whole-frame L1 cannot tell the erased figure from the copied source (the background dominates) ...
    assert l1_bg.mean() < 2 * l1_src.mean()
    # ... inside the figure both are far worse than a blurry frame with the right pose
    assert fg_bg["fg_l1"].mean() > 3 * fg_blur["fg_l1"].mean()
    assert fg_src["fg_l1"].mean() > 2 * fg_blur["fg_l1"].mean()
    assert fg_bg["fg_psnr"].mean() < fg_blur["fg_psnr"].mean() - 6


def test_masks_match_the_renders_and_cross_ground_truth():
    v = DS.videos("test")[1]
    frames, mask = DS.read_frames(v, [0, 5]), DS.figure_masks(v, [0, 5])
    assert mask.shape == (2, 64, 64) and 0.1 < mask.mean() < 0.6 and mask.max() == pytest.approx(1.0)
    bg = torch.from_numpy(DS._background("test", 1)).permute(2, 0, 1)
    off = torch.from_numpy(mask < 1e-6)[:, None].expand_as(frames)
    assert torch.allclose(frames[off], bg[None].expand_as(frames)[off], atol=1e-6)  # outside = background
    pair = DS.pairs("test")[0]
    m_rel = DS.cross_figure_masks(pair, [3], mode="relative")
    m_abs = DS.cross_figure_masks(pair, [3], mode="absolute")
    assert m_rel.shape == (1, 64, 64) and not np.allclose(m_rel, m_abs)


def test_missing_mask_is_an_error_not_a_skip():
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(MetricError, match="figure mask"):
        _scores(x, x, None)
