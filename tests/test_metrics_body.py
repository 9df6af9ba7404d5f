"""Body metrics: Keypoint R-CNN keypoints (AKD / MKR) and person re-id embeddings (AED), on weight files the tests
write. Random weights find no real people, so the selection rules (highest-scoring person, person and keypoint
score thresholds, coordinates scaled back to the input) are tested through the real torchvision model with fixed
detections injected at ``model.roi_heads``; the loading code and a real forward pass run on the random files.
"""
import json

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from motionbench.hub import weights
from motionbench.metrics import MetricContext, MetricError, build_metrics, default_metrics
from motionbench.metrics.base import FrameBatch

SMALL_DETECTOR = {"min_size": 128, "max_size": 128, "rpn_post_nms_top_n_test": 20}


@pytest.fixture(scope="module")
def body_weights(tmp_path_factory):
    """A TORCH_HOME holding random-weight files under the catalogue's names and layouts: Keypoint R-CNN saved from
    torchvision's own builder (its BatchNorm counters dropped, as in the published file) and a re-id ResNet-50 in
    Person_reID_baseline_pytorch's ft_net layout (``model.*`` trunk + bottleneck ``model.fc.*`` + ``classifier.*``)."""
    home = tmp_path_factory.mktemp("torch_home")
    folder = home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    kp = torchvision.models.detection.keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    torch.save({k: v for k, v in kp.state_dict().items() if not k.endswith("num_batches_tracked")},
               folder / weights.WEIGHTS["keypointrcnn_coco"].filename)
    trunk = torchvision.models.resnet50(weights=None)
    for m in trunk.modules():  # informative BatchNorm statistics (a default init collapses the features)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.05)
            m.running_var.uniform_(0.8, 1.2)
    sd = {f"model.{k}": v for k, v in trunk.state_dict().items() if not k.startswith("fc.")}
    sd.update({"model.fc.0.weight": torch.randn(512, 2048), "model.fc.0.bias": torch.zeros(512),
               "classifier.0.weight": torch.randn(751, 512), "classifier.0.bias": torch.zeros(751)})
    torch.save(sd, folder / weights.WEIGHTS["reid_resnet50_market1501"].filename)
    return home


@pytest.fixture
def torch_home(body_weights, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(body_weights))
    return body_weights


def _context(dataset="taichi", compat="default", **detector):
    return MetricContext(dataset=dataset, compat=compat, verify_weights=False,
                         options={"body_detector": {**SMALL_DETECTOR, **detector}})


class FixedDetections(nn.Module):
    """Stands in for ``KeypointRCNN.roi_heads``: returns the next prepared detections (per call, per image) in
    the coordinates of the resized images, as the real heads do."""

    def __init__(self, calls):
        super().__init__()
        self.calls = list(calls)

    def forward(self, features, proposals, image_shapes, targets=None):
        out = self.calls.pop(0)
        assert len(out) == len(image_shapes)
        return out, {}


def _person(score, kp_xy, kp_scores, box=(8.0, 4.0, 120.0, 124.0)):
    kp = torch.zeros(1, 17, 3)
    kp[0, :, :2] = torch.as_tensor(kp_xy, dtype=torch.float32)
    kp[0, :, 2] = 1
    return {"boxes": torch.tensor([box]), "labels": torch.tensor([1]), "scores": torch.tensor([float(score)]),
            "keypoints": kp, "keypoints_scores": torch.as_tensor(kp_scores, dtype=torch.float32).view(1, 17)}


def _image_detections(*persons):
    if not persons:
        return {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64), "scores": torch.zeros(0),
                "keypoints": torch.zeros(0, 17, 3), "keypoints_scores": torch.zeros(0, 17)}
    return {k: torch.cat([p[k] for p in persons]) for k in persons[0]}


def _grid(offset=0.0):
    return np.stack([np.arange(17) * 6.0 + 10 + offset, np.arange(17) * 4.0 + 20 + offset], axis=1)


def test_defaults_and_missing_files_name_file_and_command(offline_torch_home):
    for name in ("taichi", "ted", "folder"):
        assert default_metrics(name) == ["l1", "psnr", "ssim", "lpips", "fid", "kid", "akd", "aed"]
    cases = [("akd", "keypointrcnn_resnet50_fpn_coco-fc266e95.pth"),
             ("aed", "reid_resnet50_market1501_ft_net.pth")]
    for metric, file in cases:
        with pytest.raises(MetricError) as err:
            build_metrics([metric], MetricContext(dataset="ted"))
        msg = str(err.value)
        assert file in msg and str(offline_torch_home / "hub" / "checkpoints") in msg
        assert "python -m motionbench weights" in msg
    with pytest.raises(MetricError, match="unknown body detector option.*min_sise"):
        build_metrics(["akd"], MetricContext(dataset="taichi", options={"body_detector": {"min_sise": 64}}))
    rows = {r["name"]: r for r in weights.describe_all()}
    url = "https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth"
    assert url in rows["keypointrcnn_coco"]["source"]


def test_published_digest_prefix_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = weights.weight_path("keypointrcnn_coco")
    path.parent.mkdir(parents=True)
    torch.save({"backbone.body.conv1.weight": torch.zeros(1)}, path)  # not the published file
    with pytest.raises(MetricError, match="does not match"):
        build_metrics(["akd"], MetricContext(dataset="taichi"))
    with pytest.raises(MetricError, match="not a torchvision keypointrcnn_resnet50_fpn state dict"):
        build_metrics(["akd"], MetricContext(dataset="taichi", verify_weights=False))


def test_real_forward_shared_detector_and_recorded_files(torch_home):
    from torchvision.ops import FrozenBatchNorm2d

    akd, aed = build_metrics(["akd", "aed"], _context(person_threshold=0.0))
    assert akd.extractor_name == "keypointrcnn" and aed.embedder_name == "person_reid"
    detector = akd.extractor.detector
    assert aed.embedder.detector is detector  # one detector (and one pass per frame) serves AKD and AED
    bns = [m for m in detector.model.modules() if isinstance(m, FrozenBatchNorm2d)]
    assert bns and all(m.eps == 0.0 for m in bns)  # as torchvision builds the model for its COCO_V1 weights
    calls = []
    detect = detector._detect
    detector._detect = lambda images: calls.append(images) or detect(images)
    try:
        g = torch.Generator().manual_seed(1)
        target = torch.rand(3, 3, 64, 64, generator=g)
        batch = FrameBatch(generated=(target + 0.1 * torch.randn(3, 3, 64, 64, generator=g)).clamp(0, 1),
                           target=target, source=target[0], driving=target, video="v", protocol="same_identity",
                           frame_indices=[0, 1, 2])
        kp, found = akd.extractor(batch.generated)
        akd.per_frame(batch)
        emb = aed.embedder(batch.generated)
        aed.per_frame(batch)
    finally:
        del detector._detect
    assert len(calls) == 2  # the generated and the target frames, each detected once
    assert kp.shape == (3, 17, 2) and found.dtype == bool
    assert np.isnan(kp[~found]).all() and ((kp[found] >= 0) & (kp[found] <= 64)).all()
    persons = detector(batch.generated).found
    assert persons.any()  # person_threshold 0 keeps the top detection of the random network
    assert emb.shape == (3, 2048) and np.isfinite(emb[persons]).all() and np.isnan(emb[~persons]).all()
    s_akd, s_aed = akd.settings()["extractor_settings"], aed.settings()["embedder_settings"]
    assert s_akd["weights"] == "keypointrcnn_resnet50_fpn_coco-fc266e95.pth"
    assert s_akd["sha256"] == weights.sha256_of(weights.weight_path("keypointrcnn_coco"))
    assert s_aed["sha256"] == weights.sha256_of(weights.weight_path("reid_resnet50_market1501"))
    assert s_aed["detector"] == detector.settings() and "highest-scoring person" in s_aed["crop"]


def test_highest_scoring_person_thresholds_and_coordinates(torch_home, monkeypatch):
    (akd,) = build_metrics(["akd"], _context())  # person threshold 0.7, keypoint threshold 2.0
    detector = akd.extractor.detector
    kp_scores = np.full(17, 5.0)
    kp_scores[[1, 2, 3]] = [2.0, 1.9, -3.0]  # at or below 2.0: not found
    other = np.full(17, 9.0)
    generated = [_image_detections(_person(0.8, _grid(40), other), _person(0.95, _grid(2), kp_scores)),
                 _image_detections(_person(0.6, _grid(), other)),  # not above the person threshold
                 _image_detections()]
    target = [_image_detections(_person(0.9, _grid(), other)), _image_detections(_person(0.9, _grid(), other)),
              _image_detections()]
    monkeypatch.setattr(detector.model, "roi_heads", FixedDetections([target, generated]))
    t = torch.rand(3, 3, 64, 64)
    batch = FrameBatch(generated=torch.rand(3, 3, 64, 64), target=t, source=t[0], driving=t, video="v",
                       protocol="same_identity", frame_indices=[0, 1, 2])
    out = akd.per_frame(batch)
    kp_t, found_t = akd.extractor(batch.target)  # the same frames again: the heads are not called again
    kp_g, found_g = akd.extractor(batch.generated)
    # the 128² detections come back in the 64² input's pixels
    np.testing.assert_allclose(kp_t[0], _grid() / 2, atol=1e-4)
    np.testing.assert_allclose(kp_g[0][found_g[0]], (_grid(2) / 2)[kp_scores > 2.0], atol=1e-4)
    assert found_t[:2].all() and not found_t[2].any()
    assert found_g[0].tolist() == (kp_scores > 2.0).tolist() and not found_g[1:].any()
    # frame 0: 14 joints found in both, each off by (1, 1) px; 3 missing. frame 1: no person in the generated
    # frame, every reference joint missing. frame 2: no person in the reference, undefined.
    np.testing.assert_allclose(out["akd"], [1.0, np.nan, np.nan], atol=1e-4)
    np.testing.assert_allclose(out["mkr"], [3 / 17, 1.0, np.nan])


def test_reid_person_crops_and_pose_eval_pipeline(torch_home, monkeypatch):
    from torchvision import transforms

    (aed,) = build_metrics(["aed"], _context())
    emb = aed.embedder
    box = (16.0, 8.0, 112.0, 120.0)  # 128² coordinates: x 8..56, y 4..60 of the 64² frames
    call = [_image_detections(_person(0.9, _grid(), np.zeros(17), box)),
            _image_detections(_person(0.9, _grid(), np.zeros(17), box)), _image_detections()]
    monkeypatch.setattr(emb.detector.model, "roi_heads", FixedDetections([call, call]))
    g = torch.Generator().manual_seed(2)
    frames = torch.rand(3, 3, 64, 64, generator=g)
    frames[1] = torch.rand(3, 64, 64, generator=g)
    # the same person (and the 1-px rim bilinear sampling reads) on another background
    frames[1, :, 3:61, 7:57] = frames[0, :, 3:61, 7:57]
    e = emb(frames)
    np.testing.assert_allclose(e[1], e[0], rtol=1e-5, atol=1e-5)
    assert np.isnan(e[2]).all() and np.linalg.norm(e[0]) > 0
    frames[1, :, 30, 30] = 1 - frames[1, :, 30, 30]  # changed inside the crop (new content: detected again)
    assert not np.allclose(emb(frames)[1], e[1], rtol=1e-5, atol=1e-5)

    # compat=pose_eval: pose-evaluation's extract_body_id on the whole frame (no detector), squared distance
    aed_pe, = build_metrics(["aed"], _context(compat="pose_eval"))
    assert aed_pe.embedder.detector is None and aed_pe.settings()["distance"].startswith("squared")
    pipeline = transforms.Compose([transforms.ToPILImage(), transforms.Resize((288, 144), interpolation=3),
                                   transforms.ToTensor(), transforms.Normalize([0., 0., 0.], [255., 255., 255.]),
                                   transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    net = torchvision.models.resnet50(weights=None)
    net.fc = nn.Identity()
    sd = torch.load(weights.weight_path("reid_resnet50_market1501"), weights_only=True)
    net.load_state_dict({k[6:]: v for k, v in sd.items() if k.startswith("model.") and not k.startswith("model.fc.")})
    u8 = (torch.round(frames.clamp(0, 1) * 255)).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    with torch.no_grad():
        ref = net.eval()(torch.stack([pipeline(f) for f in u8])).numpy()
    np.testing.assert_allclose(aed_pe.embedder(frames), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_folder_of_bodies_end_to_end(tmp_path, torch_home):
    """``dataset=folder`` with AKD, MKR and AED by the body networks, through the CLI, on weight files the test
    wrote (random: the numbers say nothing about the method, the path from frames to results.json is real)."""
    import imageio.v2 as imageio
    from helpers.cli import plugin_env, run_cli

    rng = np.random.default_rng(0)
    for split, names in (("train", ["ann#1"]), ("test", ["bea#1", "cid#1"])):
        for name in names:
            folder = tmp_path / "bodies" / split / name
            folder.mkdir(parents=True)
            for i in range(3):
                imageio.imwrite(folder / f"{i:04d}.png", (rng.random((64, 64, 3)) * 255).astype(np.uint8))
    env = plugin_env(tmp_path)
    env["TORCH_HOME"] = str(torch_home)
    r = run_cli(["method=identity", "dataset=folder", f"dataset.root={tmp_path / 'bodies'}", "dataset.resolution=64",
                 "dataset.cache_dir=null", "benchmark.metrics=[l1,akd,mkr,aed]",
                 "+benchmark.options.body_detector={min_size: 64, max_size: 64, rpn_post_nms_top_n_test: 20, "
                 "person_threshold: 0.0}", "+benchmark.options.akd={extractor_options: {keypoint_threshold: -1000.0}}",
                 "weights.verify=false", "benchmark.progress=false", "benchmark.n_boot=10",
                 f"benchmark.leaderboard={tmp_path / 'board.csv'}", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path,
                env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    rec = json.loads((tmp_path / "run" / "results.json").read_text())
    for protocol in ("same_identity", "cross_identity"):
        res = rec["results"][protocol]
        assert {"akd", "mkr", "aed", "id_similarity"} <= set(res)
        assert res["aed"]["n"] > 0 and np.isfinite(res["aed"]["value"]) and np.isfinite(res["akd"]["value"])
    settings = rec["metric_settings"]
    assert settings["akd"]["extractor"] == "keypointrcnn" and settings["aed"]["embedder"] == "person_reid"
    assert settings["akd"]["extractor_settings"]["sha256"] == weights.sha256_of(
        torch_home / "hub" / "checkpoints" / "keypointrcnn_resnet50_fpn_coco-fc266e95.pth")
    assert settings["aed"]["embedder_settings"]["weights"] == "reid_resnet50_market1501_ft_net.pth"
