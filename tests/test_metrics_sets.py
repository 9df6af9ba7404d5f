"""FID / KID against pytorch-fid and a direct computation; the real-frame statistics cache."""
import numpy as np
import pytest
import torch
from pytorch_fid.fid_score import calculate_frechet_distance

from motionbench.metrics import MetricContext, MetricError
from motionbench.metrics.base import FrameBatch
from motionbench.metrics.fid import FID, KID, frechet_distance, kid_unbiased, stats

D = 8


class CountingFeatures:
    """A cheap deterministic feature map (mean colour + a fixed projection), counting the images it sees."""

    __name__ = "counting"

    def __init__(self):
        self.proj = torch.randn(3 * 4 * 4, D - 3, generator=torch.Generator().manual_seed(0))
        self.seen = 0

    def __call__(self, x):
        self.seen += len(x)
        small = torch.nn.functional.adaptive_avg_pool2d(x, 4).reshape(len(x), -1)
        return torch.cat([x.mean((2, 3)), small @ self.proj], 1).double().numpy()


def _batches(seed, n_videos=3, n=12, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for v in range(n_videos):
        real = torch.rand(n, 3, 16, 16, generator=g)
        gen = (real + shift + 0.1 * torch.randn(n, 3, 16, 16, generator=g)).clamp(0, 1)
        out.append(FrameBatch(generated=gen, target=real, source=real[0], driving=real, video=f"v{v}",
                              protocol="same_identity", frame_indices=list(range(n))))
    return out


def _run(metric, batches):
    metric.reset()
    for b in batches:
        metric.update(b)
    return metric.compute()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # scipy sqrtm(disp=) in the reference call
def test_fid_equals_pytorch_fid_on_same_features(tmp_path):
    feats = CountingFeatures()
    batches = _batches(0, shift=0.15)
    res = _run(FID(MetricContext(cache_dir=str(tmp_path)), extractor=feats), batches)["fid"]
    fake = np.concatenate([feats(b.generated) for b in batches])
    real = np.concatenate([feats(b.driving) for b in batches])
    ref = calculate_frechet_distance(fake.mean(0), np.cov(fake, rowvar=False), real.mean(0), np.cov(real, rowvar=False))
    assert res["value"] == pytest.approx(ref, rel=1e-9) and res["value"] > 0.01
    assert res["n"] == 36 and res["n_real"] == 36


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("n, spectrum", [(400, "well"), (65, "near-singular"), (80, "ill-conditioned"),
                                         (40, "singular")])
def test_frechet_distance_equals_pytorch_fid(n, spectrum):
    """The eigenvalue trace term equals pytorch-fid's sqrtm on the same statistics (64-d): well conditioned,
    one sample more than dimensions (near singular), eigenvalues spanning 1e-9..1, and fewer samples than
    dimensions (singular, where pytorch-fid's sqrtm still converges at this size)."""
    d = 64
    rng = np.random.default_rng(n)
    scales = np.logspace(-4.5, 0, d) if spectrum == "ill-conditioned" else np.ones(d)
    basis = np.linalg.qr(rng.normal(size=(d, d)))[0]
    f1 = (rng.normal(size=(n, d)) * scales) @ basis
    f2 = (rng.normal(0.2, 1.3, size=(n, d)) * scales) @ basis + 0.1 * rng.normal(size=(n, d)) * scales
    (m1, s1), (m2, s2) = stats(f1), stats(f2)
    if spectrum == "near-singular":
        assert np.linalg.cond(s1) > 1e3
    ours = frechet_distance(m1, s1, m2, s2)
    ref = calculate_frechet_distance(m1, s1, m2, s2)
    assert ours == pytest.approx(ref, rel=1e-6) and ours > 0
    assert frechet_distance(m1, s1, m1, s1) == pytest.approx(0, abs=1e-6 * np.trace(s1))


def test_fid_of_a_set_with_itself_is_zero(tmp_path):
    batches = _batches(1)
    for b in batches:
        b.generated = b.driving
    res = _run(FID(MetricContext(cache_dir=str(tmp_path)), extractor=CountingFeatures()), batches)["fid"]
    assert abs(res["value"]) < 1e-6


def test_kid_matches_direct_computation(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, D)), rng.normal(0.3, 1.0, size=(25, D))

    def k(a, b):
        return (a @ b / D + 1.0) ** 3

    m = 20
    ref = (sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
           + sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
           - 2 * sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m))
    # subsets of size m from y (25) vary; with y cut to m samples every subset is the whole set
    mean, std, size = kid_unbiased(real=y[:m], fake=x, num_subsets=5, subset_size=1000)
    assert size == m and mean == pytest.approx(ref, rel=1e-9) and std < 1e-9
    mean2, std2, size2 = kid_unbiased(real=y, fake=x, num_subsets=50, subset_size=10)
    assert size2 == 10 and std2 > 0 and abs(mean2 - ref) < 3 * std2 + 0.05
    # through the metric: same features in, same number out
    feats = CountingFeatures()
    batches = _batches(2, shift=0.2)
    res = _run(KID(MetricContext(cache_dir=str(tmp_path)), extractor=feats, num_subsets=3), batches)["kid"]
    fake = np.concatenate([feats(b.generated) for b in batches])
    real = np.concatenate([feats(b.driving) for b in batches])
    assert res["value"] == pytest.approx(kid_unbiased(real, fake, 3, 1000)[0], rel=1e-12)
    assert res["subset_size"] == 36 and res["value"] > 0


def test_real_statistics_cache_hit_and_stale_cache(tmp_path):
    ctx = MetricContext(dataset="synthetic", resolution=16, cache_dir=str(tmp_path), frame_selection="test/all")
    batches = _batches(3, shift=0.1)
    first_feats = CountingFeatures()
    first = _run(FID(ctx, extractor=first_feats), batches)["fid"]
    assert first["cache"] == "miss" and first_feats.seen == 72  # generated + real
    assert len(list(tmp_path.glob("synthetic_16_same_identity_*.npz"))) == 1
    second_feats = CountingFeatures()
    second = _run(FID(ctx, extractor=second_feats), batches)["fid"]
    assert second["cache"] == "hit" and second_feats.seen == 36  # real frames not recomputed
    assert second["value"] == pytest.approx(first["value"], rel=1e-6)
    kid = _run(KID(ctx, extractor=CountingFeatures(), num_subsets=2), batches)["kid"]  # shares the cache
    assert kid["cache"] == "hit"
    other = _batches(4, n_videos=2)  # other frames under the same key -> refused, not silently wrong
    with pytest.raises(MetricError, match="delete the file"):
        _run(FID(ctx, extractor=CountingFeatures()), other)
    nocache = _run(FID(ctx, extractor=CountingFeatures(), cache=False), batches)["fid"]
    assert nocache["cache"] == "off" and nocache["value"] == pytest.approx(first["value"], rel=1e-6)


class WideFeatures:
    """More dimensions than frames, as Inception's 2048 on a test set of a few hundred frames."""

    __name__ = "wide"

    def __init__(self, dim=64):
        self.proj = torch.randn(3 * 4 * 4, dim, generator=torch.Generator().manual_seed(1))

    def __call__(self, x):
        return (torch.nn.functional.adaptive_avg_pool2d(x, 4).reshape(len(x), -1) @ self.proj).double().numpy()


@pytest.mark.parametrize("features", [WideFeatures(), CountingFeatures()], ids=["gram-path", "covariance-path"])
def test_set_metric_bootstrap_equals_direct_resampling(tmp_path, features):
    from motionbench.eval.stats import percentile_interval

    batches = _batches(3, n_videos=4, n=5, shift=0.1)
    fid, kid = FID(MetricContext(cache_dir=str(tmp_path)), extractor=features), KID(
        MetricContext(cache_dir=str(tmp_path)), extractor=features, num_subsets=2)
    for m in (fid, kid):
        _run(m, batches)
    lo, hi = fid.bootstrap(200, seed=5, level=0.95)["fid"]
    fake, real = fid._fake_features(), fid._real_features()
    mu_r, sigma_r = stats(real)
    direct = [frechet_distance(*stats(fake[idx]), mu_r, sigma_r) for idx in fid._video_resamples(200, 5)]
    value = fid.compute()["fid"]["value"]
    assert (lo, hi) == pytest.approx(percentile_interval(np.array(direct), estimate=value), rel=1e-7)
    assert lo < value < hi
    klo, khi = kid.bootstrap(200, seed=5, level=0.95)["kid"]
    d = fake.shape[1]

    def mmd(f):
        kff, krr, kfr = (f @ f.T / d + 1) ** 3, (real @ real.T / d + 1) ** 3, (f @ real.T / d + 1) ** 3
        n, m = len(f), len(real)
        return ((kff.sum() - np.trace(kff)) / (n * (n - 1)) + (krr.sum() - np.trace(krr)) / (m * (m - 1))
                - 2 * kfr.mean())

    direct_kid = [mmd(fake[idx]) for idx in kid._video_resamples(200, 5)]
    kid_value = kid.compute()["kid"]["value"]
    assert (klo, khi) == pytest.approx(percentile_interval(np.array(direct_kid), estimate=kid_value), rel=1e-7)
    assert klo < kid_value < khi
    assert [len(i) for i in fid._video_resamples(3, 0)] == [20, 20, 20]  # 4 videos of 5 frames, resampled
