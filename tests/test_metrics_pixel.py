"""L1 / PSNR / SSIM against skimage on the same arrays; factory and defaults."""
import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from motionbench.metrics import MetricContext, build_metrics, default_metrics, metric_outputs
from motionbench.metrics.base import FrameBatch


def _batch(n=3, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(n, 3, size, size, generator=g)
    generated = (target + 0.1 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)
    return FrameBatch(generated=generated, target=target, source=target[0], driving=target, video="v",
                      protocol="same_identity", frame_indices=list(range(n)))


def test_pixel_metrics_equal_skimage():
    b = _batch()
    l1, psnr, ssim = build_metrics(["l1", "psnr", "ssim"], MetricContext())
    gen = b.generated.double().numpy().transpose(0, 2, 3, 1)
    tgt = b.target.double().numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(l1.per_frame(b)["l1"], np.abs(gen - tgt).mean(axis=(1, 2, 3)), rtol=1e-12)
    ref_psnr = [peak_signal_noise_ratio(tgt[i], gen[i], data_range=1.0) for i in range(3)]
    ref_ssim = [structural_similarity(tgt[i], gen[i], data_range=1.0, channel_axis=-1) for i in range(3)]
    np.testing.assert_allclose(psnr.per_frame(b)["psnr"], ref_psnr, rtol=1e-12)
    np.testing.assert_allclose(ssim.per_frame(b)["ssim"], ref_ssim, rtol=1e-12)
    assert metric_outputs([l1, psnr, ssim]) == {"l1": False, "psnr": True, "ssim": True}


def test_identical_frames_and_gaussian_ssim():
    b = _batch(n=2)
    b.generated = b.target.clone()
    (psnr,) = build_metrics(["psnr"])
    assert np.all(psnr.per_frame(b)["psnr"] == 100.0)
    b2 = _batch(n=1)
    (ssim,) = build_metrics(["ssim"], options={"ssim": {"gaussian_weights": True}})
    gen = b2.generated.double().numpy()[0].transpose(1, 2, 0)
    tgt = b2.target.double().numpy()[0].transpose(1, 2, 0)
    ref = structural_similarity(tgt, gen, data_range=1.0, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert math.isclose(ssim.per_frame(b2)["ssim"][0], ref, rel_tol=1e-12)
    assert ssim.settings()["win_size"] == 11


def test_defaults_and_aliases():
    assert default_metrics("synthetic") == ["l1", "psnr", "ssim", "fg", "akd", "aed", "tof"]
    assert {"lpips", "fid", "kid"} <= set(default_metrics("taichi"))
    ms = build_metrics(["l1", "mae", "psnr"])
    assert [m.name for m in ms] == ["l1", "psnr"]
    with pytest.raises(KeyError, match="did you mean"):
        build_metrics(["psnrr"])
