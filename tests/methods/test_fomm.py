"""FOMM: official state-dict layout, numerical parity with the official code, fast path, checkpoints, losses.

``tests/data/fomm_tiny.pt`` is a stripped copy of the official-code fixture (tiny config, its state dicts,
inputs and per-frame outputs under both grid_sample semantics); ``fomm_keys_*.txt`` list the official keys.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import motionbench
from motionbench.core.checkpoint import CheckpointError
from motionbench.methods.fomm.animator import FOMMAnimator
from motionbench.methods.common.normalize import find_best_frame, normalize_kp
from motionbench.nn.tps import RandomTPS

from helpers.parity import read_key_listing

DATA = Path(__file__).parents[1] / "data"
ATOL = 1e-5
# The full-resolution ``deformed`` image is a bilinear warp of a random-noise source: 1-ulp differences in the
# deformation (float32 conv rounding differs between CPUs) move samples by ~1e-7 × 32 px across pixel
# gradients of ~1, so it agrees to ~1.4e-5; given the fixture's own deformation it is bit-identical (tested).
ATOL_DEFORMED = 3e-5
MODES = [(False, ""), (True, "_align_corners_true")]


@pytest.fixture(scope="module")
def fixture():
    return torch.load(DATA / "fomm_tiny.pt", weights_only=True)


@pytest.fixture(scope="module")
def official_file(fixture, tmp_path_factory):
    path = tmp_path_factory.mktemp("fomm") / "tiny-cpk.pth.tar"
    torch.save({"generator": fixture["generator"], "kp_detector": fixture["kp_detector"], "epoch": 0,
                "optimizer_generator": {}, "optimizer_kp_detector": {}}, path)
    return path


def load_fixture_model(fixture, path, align_corners):
    return motionbench.create_animator("fomm", checkpoint=str(path), align_corners=align_corners, **fixture["config"])


def max_err(a, b):
    return (a - b).abs().max().item()


def test_keypoints_and_normalize_kp_match_official(fixture, official_file):
    model = load_fixture_model(fixture, official_file, True)
    kp_s = model.detect_keypoints(fixture["source"])
    kp_d = model.detect_keypoints(fixture["driving"])
    kp_0 = model.detect_keypoints(fixture["driving"][:1])
    for got, ref in ((kp_s, fixture["kp_source"]), (kp_d, fixture["kp_driving"]), (kp_0, fixture["kp_driving_initial"])):
        for key in ("value", "jacobian"):
            assert max_err(got[key], ref[key]) < ATOL
    for i in range(3):
        kp_i = {k: v[i:i + 1] for k, v in kp_d.items()}
        norm = normalize_kp(kp_s, kp_i, kp_0, adapt_movement_scale=True, use_relative_movement=True,
                            use_relative_jacobian=True)
        for key in ("value", "jacobian"):
            assert max_err(norm[key], fixture["kp_norm"][key][i:i + 1]) < ATOL
    from motionbench.methods.common.normalize import movement_scale

    assert movement_scale(kp_s["value"], kp_0["value"]).item() == pytest.approx(fixture["adapt_movement_scale"], abs=1e-6)


@pytest.mark.parametrize("align_corners,suffix", MODES)
@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_parity_with_official_outputs(fixture, official_file, align_corners, suffix, mode):
    model = load_fixture_model(fixture, official_file, align_corners)
    ref = fixture[mode + suffix]
    with torch.no_grad():
        kp_s = model.kp_detector(fixture["source"])
        kp_0 = model.kp_detector(fixture["driving"][:1])
        outs = []
        for i in range(fixture["driving"].shape[0]):  # per-frame calls with batch 1, as the fixture
            kp_d = model.kp_detector(fixture["driving"][i:i + 1])
            if mode == "relative":
                kp_d = normalize_kp(kp_s, kp_d, kp_0, True, True, True)
            outs.append(model.generator(fixture["source"], kp_driving=kp_d, kp_source=kp_s))
        errors = {k: max_err(torch.cat([o[k] for o in outs]), ref[k]) for k in ref}
        # the warp itself is exact: the fixture's deformation gives the fixture's deformed image bit for bit
        exact = model.generator.deform_input(fixture["source"].expand(3, -1, -1, -1), ref["deformation"])
    assert set(ref) == {"mask", "sparse_deformed", "occlusion_map", "deformed", "prediction", "deformation"}
    for key, err in errors.items():
        assert err < (ATOL_DEFORMED if key == "deformed" else ATOL), (key, err)
    assert max_err(exact, ref["deformed"]) == 0.0
    # the public API (encode once, batched frames) reproduces the official prediction
    out = model.animate(fixture["source"], fixture["driving"].unsqueeze(0), mode=mode, adapt_movement_scale=True)
    assert out.shape == (1, 3, 3, 64, 64)
    assert max_err(out[0], ref["prediction"]) < ATOL


def test_semantics_switch_matters(fixture, official_file):
    """align_corners changes the result (so the switch is real) and defaults to True."""
    assert FOMMAnimator.presets()["vox-256"]["align_corners"] is True
    a = load_fixture_model(fixture, official_file, True).animate(fixture["source"], fixture["driving"][None])
    b = load_fixture_model(fixture, official_file, False).animate(fixture["source"], fixture["driving"][None])
    assert max_err(a, b) > 1e-3


@pytest.mark.parametrize("preset", ["vox-256", "taichi-256"])
def test_state_dict_keys_and_shapes_equal_official(preset):
    with torch.device("meta"):
        model = FOMMAnimator.build(preset)
    ours = {f"{name}.{k}": tuple(v.shape) for name in ("generator", "kp_detector", "discriminator")
            for k, v in getattr(model, name).state_dict().items()}
    official = read_key_listing(DATA / f"fomm_keys_{preset.replace('-', '')}.txt")
    assert sorted(set(official) - set(ours)) == [] and sorted(set(ours) - set(official)) == []
    assert {k: v for k, v in ours.items() if official[k] != v} == {}
    assert set(model.state_dict()) == set(ours)  # nothing else (e.g. loss modules) in our checkpoints


def test_fast_path_equals_official_loop(fixture, official_file):
    """Encode-once, B×T-flattened chunks (crossing sample boundaries) = the official per-frame loop."""
    model = load_fixture_model(fixture, official_file, True)
    g = torch.Generator().manual_seed(0)
    sources = torch.cat([fixture["source"], torch.rand(1, 3, 64, 64, generator=g)])
    clips = torch.stack([fixture["driving"], torch.rand(3, 3, 64, 64, generator=g)])
    clips = torch.cat([clips, clips.flip(1)], dim=1)  # B=2, T=6
    for mode, adapt in (("absolute", False), ("relative", True), ("relative", False)):
        fast = model.animate(sources, clips, mode=mode, adapt_movement_scale=adapt, chunk_size=4)
        for b in range(2):
            ref = model.official_animation(sources[b:b + 1], clips[b], mode=mode, adapt_movement_scale=adapt)
            assert max_err(fast[b], ref) < ATOL, (mode, adapt, b)
    # streaming: chunks of a clip with a cached source state and an explicit reference frame
    state = model.encode_source(sources)
    parts = [model.animate(sources, clips[:, i:i + 2], mode="relative", driving_ref=clips[:, 0], source_state=state)
             for i in range(0, 6, 2)]
    assert max_err(torch.cat(parts, dim=1), model.animate(sources, clips, mode="relative")) < ATOL


def test_official_checkpoint_errors_name_keys(fixture, tmp_path):
    gen = dict(fixture["generator"])
    gen["first.conv.weight_renamed"] = gen.pop("first.conv.weight")
    bad = tmp_path / "bad.pth.tar"
    torch.save({"generator": gen, "kp_detector": fixture["kp_detector"]}, bad)
    with pytest.raises(CheckpointError, match=r"missing keys: generator\.first\.conv\.weight.*unexpected keys: generator\.first\.conv\.weight_renamed"):
        motionbench.create_animator("fomm", checkpoint=str(bad), **fixture["config"])
    # a file for another architecture (the tiny fixture loaded as vox-256) names shape mismatches
    good = tmp_path / "good.pth.tar"
    torch.save({"generator": fixture["generator"], "kp_detector": fixture["kp_detector"]}, good)
    with pytest.raises(CheckpointError, match="shape mismatches"):
        FOMMAnimator.from_checkpoint(good, preset="tiny")
    with pytest.raises(CheckpointError, match="not a motionbench checkpoint"):
        torch.save({"something": torch.zeros(1)}, bad)
        FOMMAnimator.from_checkpoint(bad)


def test_motionbench_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = FOMMAnimator.build("tiny").eval()
    path = model.save_checkpoint(tmp_path / "fomm.pt")
    loaded = motionbench.create_animator("fomm", checkpoint=str(path)).eval()
    x = torch.rand(1, 3, 64, 64)
    d = torch.rand(1, 2, 3, 64, 64)
    assert torch.equal(model.animate(x, d), loaded.animate(x, d))


def test_training_losses_tiny_preset():
    from motionbench.core.config import load_conf_yaml

    torch.manual_seed(0)
    model = FOMMAnimator.build("tiny").train()
    batch = {"source": torch.rand(2, 3, 64, 64), "driving": torch.rand(2, 3, 64, 64)}
    cfg = dict(load_conf_yaml("loss/fomm-adv.yaml"), perceptual_kind="pixel")
    losses, generated = model.generator_losses(batch, cfg)
    assert set(losses) == {"perceptual", "gen_gan", "feature_matching", "equivariance_value", "equivariance_jacobian"}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    for part in (model.kp_detector, model.generator):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in part.parameters() if p.requires_grad)
    model.zero_grad()
    d_losses = model.discriminator_losses(batch, generated, cfg)
    assert set(d_losses) == {"disc_gan"} and torch.isfinite(d_losses["disc_gan"])
    d_losses["disc_gan"].backward()
    assert all(p.grad is not None for p in model.discriminator.parameters())
    assert all(p.grad is None for p in model.generator.parameters())  # generated output was detached
    logits = model.discriminator_logits(batch["driving"], batch, generated)
    assert logits[0].shape[:2] == (2, 1)
    # default loss (GAN 0): no discriminator terms, as in the official trainer
    plain = dict(load_conf_yaml("loss/fomm.yaml"), perceptual_kind="pixel")
    losses, generated = model.generator_losses(batch, plain)
    assert set(losses) == {"perceptual", "equivariance_value", "equivariance_jacobian"}
    assert model.discriminator_losses(batch, generated, plain) == {}
    # loss helpers (pixel pyramids, discriminator pyramid) stay out of the state dict
    assert {k.split(".")[0] for k in model.state_dict()} == {"generator", "kp_detector", "discriminator"}


def test_tiny_preset_shapes_and_heatmap_coverage():
    model = FOMMAnimator.build("tiny").eval()
    assert model.capabilities.keypoints and model.capabilities.adversarial
    x = torch.rand(2, 3, 64, 64)
    out = model.animate(x, torch.rand(2, 5, 3, 64, 64), mode="relative")
    assert out.shape == (2, 5, 3, 64, 64) and 0 <= out.min() and out.max() <= 1
    maps = model.kp_detector.heatmaps(x)
    assert maps["heatmap"].shape[-2:] == (32, 32)  # pad 3: heatmaps cover the (half-resolution) input
    assert model.detect_keypoints(x)["value"].shape == (2, 10, 2)


def test_random_tps_identity_and_jacobian():
    frame = torch.rand(2, 3, 16, 16)
    ident = RandomTPS(2, sigma_affine=0.0, sigma_tps=0.0, points_tps=5)
    assert max_err(ident.transform_frame(frame, align_corners=True), frame) < 1e-6
    # float64 central differences; the L1-distance TPS kernel has kinks, so stay 1e-6 away from them
    warp = RandomTPS(2, sigma_affine=0.05, sigma_tps=0.005, points_tps=5, generator=torch.Generator().manual_seed(1),
                     dtype=torch.float64)
    pts = torch.rand(2, 7, 2, dtype=torch.float64) * 1.6 - 0.8
    jac = warp.jacobian(pts)
    eps = 1e-7
    for axis in range(2):
        step = torch.zeros(2, dtype=torch.float64)
        step[axis] = eps
        fd = (warp.warp_coordinates(pts + step) - warp.warp_coordinates(pts - step)) / (2 * eps)
        assert max_err(jac[..., axis], fd) < 1e-6


def test_find_best_frame_needs_face_alignment_weights(tmp_path, monkeypatch):
    from motionbench.hub.weights import MissingWeightsError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="find_best_frame.*s3fd"):
        find_best_frame(torch.rand(3, 64, 64), torch.rand(2, 3, 64, 64), device="cpu")
    model = FOMMAnimator.build("tiny").eval()
    with pytest.raises(MissingWeightsError):
        model.animate(torch.rand(1, 3, 64, 64), torch.rand(1, 2, 3, 64, 64), mode="relative", find_best_frame=True)


def test_find_best_frame_selection_logic():
    """Landmarks are compared after centring and hull-area scaling; frames without a face are skipped."""
    rng = torch.Generator().manual_seed(0)
    base = torch.rand(68, 2, generator=rng).double().numpy() * 100
    noise = [5.0, 0.5, 0.0, 2.0]  # frame 2 would win but has no face -> frame 1 (a scaled, shifted copy)
    kps = [base] + [base * 1.7 + 13 + n * torch.randn(68, 2, generator=rng).double().numpy() for n in noise]

    def detector(images):
        import numpy as np

        found = np.ones((len(kps), 68), bool)
        found[3] = False
        return np.stack(kps), found

    assert find_best_frame(torch.rand(3, 8, 8), torch.rand(4, 3, 8, 8), detector=detector) == 1


def test_find_best_frame_sets_the_reference_for_every_chunk(monkeypatch):
    import motionbench.methods.fomm.animator as fomm_animator

    calls = []
    monkeypatch.setattr(fomm_animator, "best_frames", lambda s, c: calls.append(c.shape[1]) or [1])
    torch.manual_seed(0)
    model = FOMMAnimator.build("tiny").eval()
    src, clip = torch.rand(1, 3, 64, 64), torch.rand(1, 4, 3, 64, 64)
    expected = model.animate(src, clip, mode="relative", driving_ref=clip[:, 1])
    assert max_err(model.animate(src, clip, mode="relative", find_best_frame=True), expected) == 0
    state = model.encode_source(src)  # streamed: the first call's choice is kept for the later chunks
    parts = [model.animate(src, clip[:, i:i + 2], mode="relative", source_state=state, find_best_frame=True)
             for i in (0, 2)]
    assert calls == [4, 2]
    assert max_err(torch.cat(parts, dim=1), expected) < ATOL


def test_channels_last_inference_matches_contiguous():
    torch.manual_seed(0)
    model = FOMMAnimator.build("tiny").eval()
    src, clip = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 3, 64, 64)
    a = model.animate(src, clip, mode="relative")
    model.channels_last = False
    assert max_err(a, model.animate(src, clip, mode="relative")) < ATOL


def test_zeroth_order_config_animates():
    """estimate_jacobian: false (the paper's zeroth-order ablation): no Jacobians anywhere."""
    model = FOMMAnimator.build("tiny", common_params={"estimate_jacobian": False}).eval()
    assert model.kp_detector.jacobian is None
    out = model.animate(torch.rand(1, 3, 64, 64), torch.rand(1, 2, 3, 64, 64), mode="relative")
    assert out.shape == (1, 2, 3, 64, 64) and torch.isfinite(out).all()
