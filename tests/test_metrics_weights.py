"""Offline weight resolution and the pretrained-network metrics on weight files the tests create.

Random tensors are saved under the real file names in a temporary TORCH_HOME; motionbench loads them with
``verify_weights=False`` and the reference libraries (lpips, pytorch-fid) load the very same files through
their own code paths (they find them in the torch.hub cache, so nothing is downloaded).
"""
import numpy as np
import pytest
import torch
import torchvision

from motionbench.hub import weights
from motionbench.metrics import MetricContext, MetricError, build_metrics
from motionbench.metrics.base import FrameBatch


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    return tmp_path / "torch"


def _batch(n=2, size=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, 3, size, size, generator=g)
    x = (t + 0.2 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)
    return FrameBatch(generated=x, target=t, source=t[0], driving=t, video="v", protocol="same_identity",
                      frame_indices=list(range(n)))


def test_missing_weight_file_names_file_and_command(torch_home):
    for name, file in [("lpips", "alexnet-owt-7be5be79.pth"), ("fid", "pt_inception-2015-12-05-6726825d.pth"),
                       ("kid", "pt_inception-2015-12-05-6726825d.pth")]:
        with pytest.raises(MetricError) as err:
            build_metrics([name], MetricContext())
        msg = str(err.value)
        assert file in msg and "python -m motionbench weights" in msg and str(torch_home) in msg
    with pytest.raises(MetricError, match="s3fd-619a316812.pth"):
        build_metrics(["akd"], MetricContext(dataset="vox"))
    rows = {r["name"]: r for r in weights.describe_all()}
    assert {"alexnet", "vgg16", "fid_inception", "s3fd", "2dfan4", "facenet_vggface2"} <= set(rows)
    assert rows["alexnet"]["present"] == "no" and rows["lpips_alex_lin"]["present"] == "yes"
    assert rows["facenet_vggface2"]["path"].startswith(str(torch_home / "checkpoints"))


def test_sha256_checked_unless_verify_false(torch_home):
    path = torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, path)  # not the published file
    with pytest.raises(MetricError, match="does not match"):
        build_metrics(["lpips"], MetricContext())
    assert weights.resolve("alexnet", verify=False) == path
    with pytest.raises(MetricError, match="has no .features.0.bias"):  # wrong content is still caught when loading
        build_metrics(["lpips"], MetricContext(verify_weights=False))


def test_lpips_equals_reference_package(torch_home):
    import lpips

    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(),
               torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth")
    (metric,) = build_metrics(["lpips"], MetricContext(verify_weights=False))
    b = _batch()
    ours = metric.per_frame(b)["lpips"]
    with pytest.warns(UserWarning):  # torchvision's deprecation of pretrained=True inside lpips
        ref_model = lpips.LPIPS(net="alex", verbose=False)  # loads the same file from the torch.hub cache
    ref = ref_model(b.generated * 2 - 1, b.target * 2 - 1).flatten().detach().numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-7)
    assert ours.min() > 0
    s = metric.settings()
    assert s["net"] == "alex" and s["lpips_input_range"] == "[-1,1]"
    # feeding [0,1] (a known mistake of some papers) gives another number; it is selectable and recorded
    (low,) = build_metrics(["lpips"], MetricContext(verify_weights=False), {"lpips": {"input_range": "[0,1]"}})
    assert not np.allclose(low.per_frame(b)["lpips"], ours)


def _random_fid_inception_state():
    """State dict of pytorch-fid's FID Inception architecture, random but informative (motionbench.testing)."""
    from motionbench.testing import random_fid_inception_state

    return random_fid_inception_state(0)


def test_fid_inception_equals_pytorch_fid(torch_home):
    import pytorch_fid.inception as pfi
    from motionbench.metrics.fid import InceptionFeatures

    torch.save(_random_fid_inception_state(),
               torch_home / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth")
    ours = InceptionFeatures(MetricContext(verify_weights=False), quantize=False)
    ref = pfi.InceptionV3([3]).eval()  # pytorch-fid's own loading (cached file, no download)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ref(x)[0].squeeze(3).squeeze(2).double().numpy()
    got = ours(x)
    assert got.shape == (2, 2048)
    assert np.abs(got[0] - got[1]).max() > 1e-3 * np.abs(got).max()  # the features see the image
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_face_alignment_extractor_loads_offline(torch_home):
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    torch.manual_seed(0)
    ckpt = torch_home / "hub" / "checkpoints"
    fan_sd = FAN(4).state_dict()
    torch.save(s3fd().state_dict(), ckpt / "s3fd-619a316812.pth")
    torch.save(fan_sd, ckpt / "2DFAN4-11f355bf06.pth.tar")
    (akd,) = build_metrics(["akd"], MetricContext(dataset="vox", verify_weights=False))
    assert akd.settings()["extractor"] == "face_alignment"
    assert akd.settings()["generated_misses"] == "counted in mkr"
    loaded = akd.extractor.fa.face_alignment_net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in fan_sd.items())  # our file, not a download
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    boxes = akd.extractor.fa.face_detector.detect_from_image(
        (images[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))  # the loaded SFD runs
    assert all(len(b) == 5 for b in boxes)
    # (FAN itself is not run here: face-alignment's numba post-processing compiles for a minute on first use)
    akd.extractor.fa.face_detector.detect_from_image = lambda img: []
    kp, found = akd.extractor(images)
    assert kp.shape == (2, 68, 2) and found.shape == (2, 68) and not found.any()  # no face: all missing
    (pe,) = build_metrics(["akd"], MetricContext(dataset="vox", verify_weights=False, compat="pose_eval"))
    assert pe.settings()["generated_misses"] == "skipped"


def test_facenet_embedder_loads_offline(torch_home):
    fp = pytest.importorskip("facenet_pytorch")  # optional extra: pip install --no-deps facenet-pytorch
    net = fp.InceptionResnetV1(pretrained=None, classify=False)
    sd = net.state_dict()
    sd["logits.weight"], sd["logits.bias"] = torch.zeros(8631, 512), torch.zeros(8631)  # as in the release
    (torch_home / "checkpoints").mkdir()
    torch.save(sd, torch_home / "checkpoints" / "20180402-114759-vggface2.pt")
    (aed,) = build_metrics(["aed"], MetricContext(dataset="vox", verify_weights=False),
                           {"aed": {"embedder_options": {"crop": "none"}}})
    assert aed.outputs == {"aed": False, "id_similarity": True}
    b = _batch(size=64)
    out = aed.per_frame(b)
    assert out["aed"].shape == (2,) and np.isfinite(out["aed"]).all()
    assert np.all(np.abs(out["id_similarity"]) <= 1 + 1e-9)
