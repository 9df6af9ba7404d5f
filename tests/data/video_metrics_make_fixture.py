"""Regenerate tests/data/video_metrics_reference.pt: FVD, I3D, iresnet and ArcFace-alignment outputs of the
reference implementations on inputs and seeded random weights this script makes.

Run once by hand, outside the test suite, with the reference checkouts given as paths:

    python tests/data/video_metrics_make_fixture.py STYLEGAN_V VIDEOGPT COMMON_METRICS INSIGHTFACE

(github.com/universome/stylegan-v, wilson1yan/VideoGPT, JunyaoHu/common_metrics_on_video_quality and
deepinsight/insightface; the common_metrics module needs ``pip install einops``). The weights are
``motionbench.testing.random_i3d_state`` / ``random_iresnet_state`` (numpy-seeded, so the tests rebuild them
bit for bit) and, for StyleGAN-V, ``motionbench.testing.standin_torchscript_i3d`` in place of the published
TorchScript file. What is run:

* styleganv: StyleGAN-V's ``src/metrics/frechet_video_distance.py: compute_fvd`` itself (its
  ``metric_utils.compute_feature_stats_for_dataset`` data loading, uint8 B×C×T×H×W layout,
  ``rescale=True, resize=True, return_features=True`` call, ``FeatureStats`` 1/n covariance and sqrtm
  formula), on datasets that yield the clips below; features from the same function with ``capture_all``.
* videogpt: VideoGPT's ``InceptionI3d`` (``videogpt/fvd/pytorch_i3d.py``) loading the state dict, its
  preprocessing and Fréchet distance as vendored in common_metrics_on_video_quality ``fvd/videogpt/fvd.py``
  (``preprocess_single`` = VideoGPT's ``data.preprocess``, then ``* 2`` as VideoGPT's ``fvd.preprocess``;
  ``get_logits``; ``frechet_distance`` in float32 as shipped and in float64).
* arcface: insightface's ``backbones/iresnet.py`` iresnet50 forward on two crops, the iresnet100 state-dict
  layout, and ``utils/face_align.py: norm_crop`` on a frame with five points.
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

SEED = 7
CLIP = 10  # frames per clip (I3D needs at least 9)
LENGTHS = (23, 12, 6)  # frames per video: 2, 1 and 0 whole clips of 10
SIZE = (32, 40)  # H, W: not square, so VideoGPT's shorter-side resize and centre crop both act
DROPBOX_URL = "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1"


def load_file(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_package(name: str, folder: Path):
    """Register ``folder`` as package ``name`` (so its absolute imports ``name.x.y`` resolve inside it)."""
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def make_videos():
    """Real and generated uint8 videos T×H×W×3: coloured blobs moving on a gradient; the generated ones lag,
    blur and flicker."""
    rng = np.random.default_rng(SEED)
    h, w = SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    real, gen = [], []
    for n in LENGTHS:
        centres = rng.uniform([0, 0], [h, w], size=(3, 2))
        speed = rng.normal(0, 1.5, size=(3, 2))
        colours = rng.uniform(0, 1, size=(3, 3))
        base = np.stack([xx / w, yy / h, 0.5 * np.ones_like(xx)], -1) * rng.uniform(0.3, 0.7)

        def frame(t, lag=0.0, blur=0.0):
            img = base.copy()
            for c, v, col in zip(centres, speed, colours):
                cy, cx = c + v * (t - lag)
                r2 = (yy - cy) ** 2 + (xx - cx) ** 2
                img += np.exp(-r2 / (2 * (4.0 + blur) ** 2))[..., None] * col
            return img

        real.append(np.stack([frame(t) for t in range(n)]))
        flicker = rng.normal(0, 0.04, size=(n, 1, 1, 3))
        gen.append(np.stack([frame(t, lag=0.7, blur=1.5) for t in range(n)]) + flicker)
    to_u8 = lambda vs: [np.clip(np.round(v / max(v.max(), 1.0) * 255), 0, 255).astype(np.uint8) for v in vs]
    return to_u8(real), to_u8(gen)


def clips_of(videos):
    """The clips motionbench's default sampling takes: consecutive, non-overlapping, from frame 0."""
    return np.stack([v[s:s + CLIP] for v in videos for s in range(0, len(v) - CLIP + 1, CLIP)])  # N×T×H×W×3


class ClipSet:
    """A StyleGAN-V dataset yielding the given uint8 clips as ``{'image': T×C×H×W}``."""

    clips: np.ndarray = None

    def __init__(self, **kwargs):
        self.name = "clips"

    def __len__(self):
        return len(self.clips)

    def __getitem__(self, i):
        return {"image": torch.from_numpy(self.clips[i]).permute(0, 3, 1, 2).contiguous()}


class RealClips(ClipSet):
    pass


class GenClips(ClipSet):
    pass


def styleganv(root: Path, real_clips, gen_clips, detector):
    load_package("src", root / "src")
    fvd = importlib.import_module("src.metrics.frechet_video_distance")
    mu = importlib.import_module("src.metrics.metric_utils")
    mu._feature_detector_cache[(DROPBOX_URL, torch.device("cpu"))] = detector  # instead of the download
    RealClips.clips, GenClips.clips = real_clips, gen_clips
    opts = mu.MetricOptions(dataset_kwargs={"class_name": "__main__.RealClips", "resolution": 128}, num_gpus=1, rank=0,
                            device=torch.device("cpu"), cache=False, generator_as_dataset=True,
                            gen_dataset_kwargs=mu.dnnlib.EasyDict(class_name="__main__.GenClips", resolution=128))
    value = fvd.compute_fvd(opts, max_real=len(real_clips), num_gen=len(gen_clips), num_frames=CLIP)
    kwargs = dict(rescale=True, resize=True, return_features=True)
    feats = {}
    for key, cls in (("real", "RealClips"), ("gen", "GenClips")):
        o = copy.deepcopy(opts)
        o.dataset_kwargs = mu.dnnlib.EasyDict(class_name=f"__main__.{cls}", resolution=128)
        feats[key] = torch.from_numpy(mu.compute_feature_stats_for_dataset(
            o, DROPBOX_URL, kwargs, capture_all=True, temporal_detector=True, batch_size=4,
            data_loader_kwargs={"num_workers": 0}).get_all())
    return value, feats


def videogpt(vg_root: Path, cm_root: Path, real_clips, gen_clips, state):
    i3d_mod = load_file("vg_pytorch_i3d", vg_root / "videogpt" / "fvd" / "pytorch_i3d.py")
    cm = load_file("cm_videogpt_fvd", cm_root / "fvd" / "videogpt" / "fvd.py")
    i3d = i3d_mod.InceptionI3d(400, in_channels=3)
    i3d.load_state_dict(state)
    i3d.eval()

    def logits(clips):
        videos = torch.stack([cm.preprocess_single(torch.from_numpy(v), 224) for v in clips]) * 2  # fvd.preprocess
        return cm.get_logits(i3d, videos, torch.device("cpu"), bs=4)

    feats = {"real": logits(real_clips), "gen": logits(gen_clips)}
    return (cm.frechet_distance(feats["gen"].clone(), feats["real"].clone()),
            cm.frechet_distance(feats["gen"].double(), feats["real"].double()), feats)


def arcface(root: Path, state):
    ir = load_file("if_iresnet", root / "recognition" / "arcface_torch" / "backbones" / "iresnet.py")
    fa = load_file("if_face_align", root / "python-package" / "insightface" / "utils" / "face_align.py")
    rng = np.random.default_rng(SEED)
    crops = rng.integers(0, 256, size=(2, 112, 112, 3), dtype=np.uint8)
    net = ir.iresnet50(False)
    net.load_state_dict(state)
    net.eval()
    with torch.no_grad():
        x = (torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5  # arcface_torch/inference.py
        emb = net(x)
    r100 = {k: tuple(v.shape) for k, v in ir.iresnet100(False).state_dict().items()}
    yy, xx = np.mgrid[0:160, 0:200]
    frame = np.stack([(xx * 255 // 200), (yy * 255 // 160), ((xx + yy) * 3 % 256)], -1).astype(np.uint8)
    angle, scale, shift = 0.2, 1.3, np.array([40.0, 17.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = (fa.arcface_dst.astype(np.float64) @ rot.T * scale + shift).astype(np.float32)
    return {"crops": torch.from_numpy(crops), "embeddings": emb, "r100_shapes": r100, "frame": torch.from_numpy(frame),
            "points": torch.from_numpy(points), "aligned": torch.from_numpy(fa.norm_crop(frame, points)),
            "matrix": torch.from_numpy(fa.estimate_norm(points))}


def main(stylegan_v: Path, vg: Path, cm: Path, insightface: Path) -> None:
    from motionbench.testing import random_i3d_state, random_iresnet_state, standin_torchscript_i3d

    torch.set_num_threads(1)
    real, gen = make_videos()
    real_clips, gen_clips = clips_of(real), clips_of(gen)
    state = random_i3d_state(SEED)
    s_value, s_feats = styleganv(stylegan_v, real_clips, gen_clips, standin_torchscript_i3d(state))
    v_value32, v_value64, v_feats = videogpt(vg, cm, real_clips, gen_clips, state)
    out = {"meta": {"seed": SEED, "clip_length": CLIP, "lengths": LENGTHS, "size": SIZE,
                    "note": "tests/data/video_metrics_make_fixture.py; read by tests/test_metrics_video.py"},
           "real": [torch.from_numpy(v) for v in real], "gen": [torch.from_numpy(v) for v in gen],
           "styleganv": {"fvd": s_value, "features": s_feats},
           "videogpt": {"fvd_float32": v_value32, "fvd_float64": v_value64, "features": v_feats},
           "arcface": arcface(insightface, random_iresnet_state("r50", SEED))}
    path = Path(__file__).parent / "video_metrics_reference.pt"
    torch.save(out, path)
    print(f"wrote {path}: styleganv FVD {s_value:.6f}, videogpt FVD {v_value32:.6f} (float32) {v_value64:.6f} (float64)")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: python tests/data/video_metrics_make_fixture.py STYLEGAN_V VIDEOGPT COMMON_METRICS INSIGHTFACE")
    main(*(Path(p) for p in sys.argv[1:]))
