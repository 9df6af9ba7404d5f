"""TPSMM: official state-dict layout, numerical parity with the official code in every mode, checkpoints, losses.

``tests/data/tpsmm_tiny_subset.pt`` holds the official-code fixture's inputs and per-frame outputs (tiny
config); its weights follow the fixture's weight rule and are rebuilt here (``tests/helpers/parity.py``) and checked
against the stored checksums. ``tpsmm_keys_vox256.txt`` lists the official keys and shapes.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import motionbench
from motionbench.core.checkpoint import CheckpointError
from motionbench.methods.tpsmm.animator import TPSMMAnimator
from motionbench.methods.tpsmm.losses import dropout_probability
from helpers import parity
from helpers.methods import loss_cfg
from helpers.parity import (MAP_ATOL, PARAM_ATOL, check_fast_path, check_parity, full_size_file, max_err,
                            write_official_file)

DATA = Path(__file__).parents[1] / "data"
ENTRIES = ("inpainting_network", "kp_detector", "dense_motion_network", "bg_predictor", "avd_network")


@pytest.fixture(scope="module")
def fixture():
    return torch.load(DATA / "tpsmm_tiny_subset.pt", weights_only=True)


@pytest.fixture(scope="module")
def official_file(fixture, tmp_path_factory):
    """An official-layout ``*.pth.tar`` with the fixture's weights."""
    return write_official_file(TPSMMAnimator, fixture, "tpsmm", ENTRIES, {"epoch": 99, "optimizer": {}},
                               tmp_path_factory.mktemp("tpsmm") / "tiny.pth.tar")


@pytest.fixture(scope="module")
def model(fixture, official_file):
    return motionbench.create_animator("tpsmm", checkpoint=str(official_file), **fixture["config"])


def official_outputs(model, fixture, mode):
    def frame_outputs(src, kp_s, kp_n, frame):
        bg = model.bg_predictor(src, frame) if mode == "standard_bg" else None
        motion = model.dense_motion_network(src, kp_n, kp_s, bg_param=bg)
        out = model.inpainting_network(src, motion)
        res = {"kp_norm": kp_n["fg_kp"], "deformed": out["deformed"], "prediction": out["prediction"],
               **{k: motion[k] for k in ("heatmap", "transformations", "deformed_source", "contribution_maps",
                                         "deformation")},
               **{f"occlusion_map_{j}": o for j, o in enumerate(motion["occlusion_map"])}}
        return res if bg is None else {**res, "bg_param": bg}

    return parity.official_outputs(model, fixture, mode, "adapt_movement_scale", frame_outputs)


def test_keypoints_and_movement_scale_match_official(model, fixture):
    from motionbench.methods.common.normalize import movement_scale

    for images, ref in ((fixture["source"], fixture["kp_source"]), (fixture["driving"], fixture["kp_driving"]),
                        (fixture["driving"][:1], fixture["kp_driving_initial"])):
        assert max_err(model.detect_keypoints(images)["value"], ref["fg_kp"]) < PARAM_ATOL
    scale = movement_scale(fixture["kp_source"]["fg_kp"], fixture["kp_driving_initial"]["fg_kp"])
    assert scale.item() == pytest.approx(fixture["relative"]["adapt_movement_scale"], abs=1e-6)


@pytest.mark.parametrize("mode", ["standard", "relative", "avd", "standard_bg"])
def test_parity_with_official_outputs(model, fixture, mode):
    check_parity(model, fixture, mode, fixture[mode], official_outputs(model, fixture, mode), "adapt_movement_scale",
                 lambda key: key == "kp_norm")


def test_fast_path_equals_official_loop(model, fixture):
    check_fast_path(model, fixture, MAP_ATOL)


def test_full_size_official_layout_loads(tmp_path):
    """A vox-256 file built from the official key listing loads strictly; errors name the file and keys."""
    path = tmp_path / "vox.pth.tar"
    data = full_size_file(TPSMMAnimator, DATA / "tpsmm_keys_vox256.txt", 0.01, 7, path)
    model = motionbench.create_animator("tpsmm", checkpoint=str(path))
    assert not model.training and int(model.kp_detector.fg_encoder.bn1.num_batches_tracked) == 7
    assert float(model.avd_network.decoder[9].bias[0].detach()) == pytest.approx(0.01)
    del data["avd_network"], data["bg_predictor"]  # a first-stage file without bg: the demo's minimum
    data["dense_motion_network"]["extra.weight"] = torch.zeros(1)
    data["inpainting_network"].pop("final.bias")
    torch.save(data, path)
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))}.*missing keys: inpainting_network\.final\.bias"
                                              r".*unexpected keys: dense_motion_network\.extra\.weight"):
        motionbench.create_animator("tpsmm", checkpoint=str(path))
    torch.save({"inpainting_network": {}, "epoch": 1}, path)
    with pytest.raises(CheckpointError, match="without entry 'kp_detector'"):
        motionbench.create_animator("tpsmm", checkpoint=str(path))


def test_dropout_schedule_and_bg_start():
    cfg = {"dropout_epoch": 35, "dropout_maxp": 0.3, "dropout_startp": 0.1, "dropout_inc_epoch": 10}
    assert dropout_probability(0, cfg) == pytest.approx(0.1)
    assert dropout_probability(5, cfg) == pytest.approx(0.25)
    assert dropout_probability(20, cfg) == pytest.approx(0.3)
    assert dropout_probability(35, cfg) == 0.0


def test_training_losses_and_background_from_bg_start():
    torch.manual_seed(0)
    model = TPSMMAnimator.build("tiny").train()
    batch = {"source": torch.rand(2, 3, 64, 64), "driving": torch.rand(2, 3, 64, 64)}
    losses, _ = model.generator_losses(batch, loss_cfg("tpsmm"))
    assert set(losses) == {"perceptual", "equivariance_value", "warp_loss"}  # epoch 0 < bg_start
    model.train_progress = 0.5  # epoch 50 of 100: background on, dropout off
    losses, _ = model.generator_losses(batch, loss_cfg("tpsmm"))
    assert set(losses) == {"perceptual", "equivariance_value", "warp_loss", "bg"}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.bg_predictor.parameters())

