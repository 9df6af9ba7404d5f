"""FVD / KVD (both I3D backbones), ArcFace identity (iresnet, alignment, embedder) and tOF.

Parity with the reference code uses tests/data/video_metrics_reference.pt, written by
tests/data/video_metrics_make_fixture.py from StyleGAN-V's ``compute_fvd``, VideoGPT's InceptionI3d and
preprocessing (as vendored in common_metrics_on_video_quality) and insightface's iresnet / ``norm_crop`` on
the same inputs and seeded random weights (``motionbench.testing``), which the tests rebuild and save under
the published file names. I3D runs on 224² × 10-frame clips: 12 forward passes in all (~20 s on one thread).
"""
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import motionbench
from motionbench.hub import weights
from motionbench.data.synthetic import SyntheticDataset
from motionbench.metrics import MetricContext, MetricError, build_metrics
from motionbench.metrics.arcface import (ARCFACE_TEMPLATE, align_faces, alignment_matrix, five_points, iresnet)
from motionbench.metrics.base import FrameBatch, KeypointExtractor
from motionbench.metrics.fid import kid_unbiased
from motionbench.metrics.fvd import FVD, KVD
from motionbench.metrics.identity import default_face_embedder
from motionbench.metrics.temporal import FARNEBACK, TemporalOF, tecogan_crop
from motionbench.eval.runner import BenchmarkOptions, run_benchmark
from motionbench.testing import random_i3d_state, random_iresnet_state, save_torchscript, standin_torchscript_i3d

REF = torch.load(Path(__file__).parent / "data" / "video_metrics_reference.pt", weights_only=True)


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


def _video_batches(chunk=7):
    """The fixture's videos as the runner hands them to a metric: chunks of frames in [0, 1]."""
    for v, (real, gen) in enumerate(zip(REF["real"], REF["gen"])):
        r, g = (x.permute(0, 3, 1, 2).float() / 255 for x in (real, gen))
        for s in range(0, len(r), chunk):
            idx = list(range(s, min(s + chunk, len(r))))
            yield FrameBatch(generated=g[idx], target=r[idx], source=r[0], driving=r[idx], video=f"v{v}",
                             protocol="same_identity", frame_indices=idx)


def _run(metrics):
    for m in metrics:
        m.reset()
    for b in _video_batches():
        for m in metrics:
            m.update(b)
    return {k: v for m in metrics for k, v in m.compute().items()}


@pytest.mark.parametrize("backbone", ["styleganv", "videogpt"])
def test_fvd_equals_reference_code(backbone, checkpoints, tmp_path):
    state = random_i3d_state(REF["meta"]["seed"])
    if backbone == "styleganv":
        save_torchscript(standin_torchscript_i3d(state), checkpoints / "i3d_torchscript.pt")
    else:
        torch.save(state, checkpoints / "i3d_pretrained_400.pt")
    opts = {"backbone": backbone, "clip_length": REF["meta"]["clip_length"]}
    fvd, kvd = build_metrics(["fvd", "kvd"], MetricContext(cache_dir=str(tmp_path), verify_weights=False),
                             {"fvd": opts, "kvd": opts})
    res = _run([fvd, kvd])
    ref = REF[backbone]
    gen, real = np.concatenate(fvd._gen), np.concatenate(fvd._real)
    assert np.abs(gen - ref["features"]["gen"].numpy()).max() < 2e-5
    assert np.abs(real - ref["features"]["real"].numpy()).max() < 2e-5
    assert res["fvd"]["n"] == res["fvd"]["n_real"] == 3 and res["fvd"]["n_videos"] == 2  # 2 + 1 + 0 clips
    if backbone == "styleganv":  # StyleGAN-V: 1/n covariance, scipy sqrtm
        assert res["fvd"]["value"] == pytest.approx(ref["fvd"], rel=1e-5)
    else:  # VideoGPT computes in float32 (SVD square roots); the same formula in float64 agrees to round-off
        assert res["fvd"]["value"] == pytest.approx(ref["fvd_float64"], rel=1e-5)
        assert res["fvd"]["value"] == pytest.approx(ref["fvd_float32"], rel=2e-2)
    assert res["fvd"]["value"] > 0.1
    d = kvd.extractor is fvd.extractor  # one I3D pass serves both
    m, _, _ = kid_unbiased(ref["features"]["real"].double().numpy(), ref["features"]["gen"].double().numpy(),
                           subset_size=3)
    assert d and res["kvd"]["value"] == pytest.approx(m, rel=1e-4)
    s = fvd.settings()
    assert s["protocol"] == backbone and s["clip_length"] == 10 and s["clip_stride"] == 10 and len(s["sha256"]) == 64
    assert s["covariance"] == ("divided by n" if backbone == "styleganv" else "divided by n - 1")


def test_fvd_missing_or_wrong_weights_fail_before_any_frame(checkpoints):
    for backbone, file in (("styleganv", "i3d_torchscript.pt"), ("videogpt", "i3d_pretrained_400.pt")):
        with pytest.raises(MetricError) as err:
            build_metrics(["fvd"], MetricContext(), {"fvd": {"backbone": backbone}})
        assert file in str(err.value) and "python -m motionbench weights" in str(err.value)
        assert str(checkpoints) in str(err.value)
    (checkpoints / "i3d_torchscript.pt").write_bytes(b"not the published file")
    with pytest.raises(MetricError, match="git blob id"):
        build_metrics(["kvd"], MetricContext())
    with pytest.raises(MetricError, match="not a TorchScript file"):
        build_metrics(["fvd"], MetricContext(verify_weights=False))
    with pytest.raises(MetricError, match="backbone must be one of"):
        build_metrics(["fvd"], MetricContext(), {"fvd": {"backbone": "r3d_18"}})
    with pytest.raises(MetricError, match="must be >= 1"):
        build_metrics(["fvd"], MetricContext(), {"fvd": {"clip_stride": 0}})
    rows = {r["name"]: r for r in weights.describe_all()}
    assert {"i3d_torchscript", "i3d_pretrained_400", "arcface_r100", "arcface_r50"} <= set(rows)


def test_git_blob_id_is_gits(tmp_path):
    (tmp_path / "hello").write_bytes(b"hello\n")
    (tmp_path / "empty").write_bytes(b"")
    assert weights.git_blob_sha1_of(tmp_path / "hello") == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object
    assert weights.git_blob_sha1_of(tmp_path / "empty") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def _frame_index_clips(clips):
    """A feature map that reads back which frames a clip holds (frame k is filled with k/255)."""
    return np.round(clips[:, :, 0, 0, 0].double().numpy() * 255)


_frame_index_clips.__name__ = "frame_index"


def _index_batches(lengths, chunk=5):
    for v, n in enumerate(lengths):
        frames = torch.arange(n, dtype=torch.float32).div(255).view(n, 1, 1, 1).expand(n, 3, 4, 4)
        for s in range(0, n, chunk):
            idx = list(range(s, min(s + chunk, n)))
            yield FrameBatch(generated=frames[idx], target=None, source=frames[0], driving=frames[idx],
                             video=f"v{v}", protocol="cross_identity", frame_indices=idx)


@pytest.mark.parametrize("opts, expected", [
    ({"clip_length": 4}, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [0, 1, 2, 3]]),
    ({"clip_length": 4, "clip_stride": 3, "frame_step": 2, "max_clips_per_video": 2},
     [[0, 2, 4, 6], [3, 5, 7, 9], [0, 2, 4, 6]]),
])
def test_clips_are_consecutive_frames_at_the_configured_positions(opts, expected, tmp_path):
    fvd = FVD(MetricContext(cache_dir=str(tmp_path)), extractor=_frame_index_clips, **opts)
    for b in _index_batches([13, 7, 3]):  # the last video is shorter than a clip: it gives none
        fvd.update(b)
    assert np.concatenate(fvd._gen).tolist() == expected
    res = fvd.compute()["fvd"]
    assert res["n"] == len(expected) and res["n_videos"] == 2
    with pytest.raises(MetricError, match="consecutive frames"):
        fvd.update(FrameBatch(generated=torch.zeros(2, 3, 4, 4), target=None, source=torch.zeros(3, 4, 4),
                              driving=torch.zeros(2, 3, 4, 4), video="v2", protocol="cross_identity",
                              frame_indices=[9, 10]))


def _colour_motion_clips(clips):
    """Mean colour of every frame and mean absolute change between consecutive frames."""
    motion = (clips[:, 1:] - clips[:, :-1]).abs().mean((2, 3, 4))
    return torch.cat([clips.mean((3, 4)).flatten(1), 10 * motion], 1).double().numpy()


_colour_motion_clips.__name__ = "colour_motion"


def test_fvd_kvd_in_the_runner_with_intervals_over_videos(tmp_path):
    """Both protocols of a benchmark: clips of every video, bootstrap intervals, settings recorded; the copy of
    the driving video (copy_driving, the real clips themselves) scores 0 against the source copy's > 0."""
    ds = SyntheticDataset(resolution=16, identities={"test": 4}, frames_per_video={"test": 12})
    opts = BenchmarkOptions(progress=False, n_boot=100)
    ctx = MetricContext(cache_dir=str(tmp_path))
    out = {}
    for method in ("identity", "copy_driving"):
        metrics = [FVD(ctx, clip_length=4, extractor=_colour_motion_clips),
                   KVD(ctx, clip_length=4, extractor=_colour_motion_clips)]
        out[method] = run_benchmark(motionbench.create_animator(method), ds, metrics, opts)
    for key in ("same_identity", "cross_identity"):
        r = out["identity"][key].metrics
        fvd, kvd = r["fvd"], r["kvd"]
        assert fvd.n == 12 and fvd.extra["n_videos"] == 4 and fvd.n_boot == 100 and fvd.aggregation == "set"
        assert fvd.ci_low <= fvd.value <= fvd.ci_high and fvd.value > 1e-3
        assert kvd.ci_low < kvd.ci_high
        assert abs(out["copy_driving"][key].metrics["fvd"].value) < 1e-6 * fvd.value


# ---------------------------------------------------------------------------------------------------- ArcFace
def test_iresnet_equals_insightface(checkpoints):
    ref = REF["arcface"]
    net = iresnet("r50").eval()
    net.load_state_dict(random_iresnet_state("r50", REF["meta"]["seed"]))
    with torch.no_grad():
        x = (ref["crops"].permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5
        out = net(x)
    assert torch.allclose(out, ref["embeddings"], rtol=1e-4, atol=1e-4 * ref["embeddings"].abs().max().item())
    with torch.device("meta"):
        r100 = iresnet("r100").state_dict()
    assert {k: tuple(v.shape) for k, v in r100.items()} == ref["r100_shapes"]


def test_arcface_alignment_equals_insightface_norm_crop():
    ref = REF["arcface"]
    points = ref["points"].numpy()
    np.testing.assert_allclose(alignment_matrix(points), ref["matrix"].numpy(), atol=1e-4)
    crop = align_faces(ref["frame"].numpy()[None], points[None])[0]
    assert np.abs(crop.astype(int) - ref["aligned"].numpy().astype(int)).max() <= 1
    # points made from the template by a known similarity go back onto the template
    m = alignment_matrix(points)
    back = points @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(back, ARCFACE_TEMPLATE, atol=1e-3)


def _landmarks68(five):
    """68 iBUG landmarks whose eye rings are centred on ``five[0]``/``five[1]`` and whose nose tip and mouth
    corners are ``five[2:]``; the other points lie elsewhere."""
    lm = np.tile(np.array([[500.0, 500.0]]), (68, 1))
    ring = 3.0 * np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 6, endpoint=False)])
    lm[36:42], lm[42:48] = five[0] + ring, five[1] + ring
    lm[30], lm[48], lm[54] = five[2], five[3], five[4]
    return lm


def test_five_points_from_68_landmarks():
    five = ARCFACE_TEMPLATE.astype(np.float64) * 2 + 10
    np.testing.assert_allclose(five_points(_landmarks68(five)), five, atol=1e-9)
    with pytest.raises(MetricError, match="68"):
        five_points(np.zeros((5, 2)))


class _KnownFace(KeypointExtractor):
    """A face where the ArcFace template sits, scaled by 2 (frames 128²); no face in frames that are all black."""

    def __call__(self, images):
        lm = _landmarks68(ARCFACE_TEMPLATE.astype(np.float64) * 1.1 + 2)
        found = (images.flatten(1).amax(1) > 0).numpy()
        return np.repeat(lm[None], len(images), 0), np.repeat(found[:, None], 68, 1)


def test_arcface_embedder_offline_csim_and_default(checkpoints):
    assert default_face_embedder() == "facenet"  # no ArcFace file
    path = checkpoints / weights.WEIGHTS["arcface_r50"].filename
    path.parent.mkdir(parents=True)
    torch.save({k: v.half() for k, v in random_iresnet_state("r50", 1).items()}, path)  # half the disk
    (aed,) = build_metrics(["aed"], MetricContext(dataset="vox", verify_weights=False),
                           {"aed": {"embedder": "arcface", "embedder_options": {"arch": "r50", "landmarks": _KnownFace()}}})
    g = torch.Generator().manual_seed(0)
    src = torch.rand(3, 128, 128, generator=g)
    gen = torch.stack([src, (src + 0.3 * torch.rand(3, 128, 128, generator=g)).clamp(0, 1), torch.zeros(3, 128, 128)])
    b = FrameBatch(generated=gen, target=None, source=src, driving=gen, video="v", protocol="cross_identity",
                   frame_indices=[0, 1, 2])
    out = aed.per_frame(b)
    assert out["id_similarity"][0] == pytest.approx(1.0, abs=1e-6) and out["aed"][0] == pytest.approx(0, abs=1e-3)
    assert out["id_similarity"][1] < 1 - 1e-4
    assert out["aed"][1] == pytest.approx(math.sqrt(2 - 2 * out["id_similarity"][1]), rel=1e-3)  # unit embeddings
    assert np.isnan(out["aed"][2]) and np.isnan(out["id_similarity"][2])  # no face: undefined
    s = aed.settings()
    assert s["embedder"] == "arcface" and s["embedder_settings"]["sha256"] == weights.sha256_of(path)
    r100 = checkpoints / weights.WEIGHTS["arcface_r100"].filename
    r100.parent.mkdir(parents=True)
    r100.write_bytes(b"")
    assert default_face_embedder() == "arcface"
    with pytest.raises(MetricError, match="backbone.pth"):  # the default arch, a broken file: named
        build_metrics(["aed"], MetricContext(dataset="vox", verify_weights=False),
                      {"aed": {"embedder_options": {"landmarks": _KnownFace()}}})


# ---------------------------------------------------------------------------------------------------- tOF
def _puppet_video(n=12):
    ds = SyntheticDataset(resolution=64, identities={"test": 1}, frames_per_video={"test": n})
    return ds.read_frames(ds.videos("test")[0], list(range(n)))


def _tof(gen, real, crop="none", chunk=5):
    m = TemporalOF(crop=crop)
    vals = [m.per_frame(FrameBatch(generated=gen[s:s + chunk], target=real[s:s + chunk], source=real[0],
                                   driving=real[s:s + chunk], video="v", protocol="same_identity",
                                   frame_indices=list(range(s, min(s + chunk, len(real))))))["tof"]
            for s in range(0, len(real), chunk)]
    return np.concatenate(vals)


def test_tof_static_and_jittered_score_worse_than_smooth():
    real = _puppet_video()
    smooth = torch.nn.functional.avg_pool2d(real, 3, 1, 1)  # blurred but following the motion
    static = real[:1].expand_as(real)
    g = torch.Generator().manual_seed(0)
    shifts = torch.randint(-2, 3, (len(real), 2), generator=g)
    jitter = torch.stack([torch.roll(f, (int(a), int(b)), (1, 2)) for f, (a, b) in zip(smooth, shifts)])
    scores = {name: np.nanmean(_tof(gen, real)) for name, gen in
              (("real", real), ("smooth", smooth), ("static", static), ("jitter", jitter))}
    assert scores["real"] == 0.0
    assert scores["smooth"] < 0.5 * scores["static"] and scores["smooth"] < 0.5 * scores["jitter"]


def test_tof_equals_tecogan_computation_across_chunks():
    import cv2

    real = _puppet_video(7)
    gen = torch.roll(real, 1, 3)
    gen[3:] = torch.roll(real[3:], 2, 2)
    grey = lambda x: [cv2.cvtColor(np.ascontiguousarray((f.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)),
                                   cv2.COLOR_RGB2GRAY) for f in x]
    gg, rg = grey(gen), grey(real)
    expected = [math.nan]
    for t in range(1, 7):  # TecoGAN metrics.py: crop_8x8 of both flows, per-pixel 2-norm, mean
        d = (cv2.calcOpticalFlowFarneback(rg[t - 1], rg[t], None, *FARNEBACK)
             - cv2.calcOpticalFlowFarneback(gg[t - 1], gg[t], None, *FARNEBACK))[16:48, 16:48]
        expected.append(float(np.sqrt((d.astype(np.float64) ** 2).sum(-1)).mean()))
    for chunk in (7, 3, 1):  # the previous frame carries over chunk boundaries
        np.testing.assert_allclose(_tof(gen, real, crop="tecogan", chunk=chunk), expected, rtol=1e-12)
    assert tecogan_crop(64) == (16, 32) and tecogan_crop(256) == (16, 224) and tecogan_crop(100) == (18, 64)
    with pytest.raises(MetricError, match="crop"):
        TemporalOF(crop="center")


def test_tof_is_in_the_synthetic_default_and_needs_no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    from motionbench.metrics import default_metrics

    assert "tof" in default_metrics("synthetic") and "tof" not in default_metrics("vox")
    (tof,) = build_metrics(["tof"], MetricContext())
    assert tof.settings()["crop"] == "none" and tof.needs_target
