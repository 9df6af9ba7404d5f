"""MRAA: official state-dict layout, numerical parity with the official code in every mode under both grid
semantics, checkpoints, losses.

``tests/data/mraa_tiny_subset.pt`` holds the official-code fixture's inputs and per-frame outputs (tiny
config); its weights follow the fixture's weight rule and are rebuilt here (``tests/helpers/parity.py``) and checked
against the stored checksums. ``mraa_keys_vox256.txt`` lists the official keys and shapes.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import motionbench
from motionbench.core.checkpoint import CheckpointError
from motionbench.methods.mraa.animator import MRAAAnimator
from helpers import parity
from helpers.methods import loss_cfg
from helpers.parity import (MAP_ATOL, MODES, PARAM_ATOL, check_fast_path, check_parity, full_size_file, max_err,
                            write_official_file)

DATA = Path(__file__).parents[1] / "data"
ENTRIES = ("generator", "region_predictor", "bg_predictor", "avd_network")
SEMANTICS = [(False, ""), (True, "_align_corners_true")]


@pytest.fixture(scope="module")
def fixture():
    return torch.load(DATA / "mraa_tiny_subset.pt", weights_only=True)


@pytest.fixture(scope="module")
def official_file(fixture, tmp_path_factory):
    """An official-layout ``*.pth`` with the fixture's weights."""
    return write_official_file(MRAAAnimator, fixture, "mraa", ENTRIES,
                               {"epoch_reconstruction": 99, "optimizer_reconstruction": {}},
                               tmp_path_factory.mktemp("mraa") / "tiny.pth", fixture["config"]["num_regions"])


def load(fixture, path, align_corners):
    return motionbench.create_animator("mraa", checkpoint=str(path), align_corners=align_corners, **fixture["config"])


def official_outputs(model, fixture, mode):
    def frame_outputs(src, rs, new, frame):
        bg = model.bg_predictor(src, frame) if mode == "standard_bg" else None
        out = model.generator(src, new, rs, bg_params=bg)
        res = {"new_shift": new["shift"], "new_affine": new["affine"], "new_covar": new["covar"],
               **{k: out[k] for k in ("heatmap", "sparse_motion", "sparse_deformed", "mask", "optical_flow",
                                      "occlusion_map", "deformed", "prediction")}}
        return res if bg is None else {**res, "bg_params": bg}

    return parity.official_outputs(model, fixture, mode, "movement_scale", frame_outputs)


def test_region_parameters_and_movement_scale_match_official(fixture, official_file):
    from motionbench.methods.common.normalize import movement_scale

    model = load(fixture, official_file, False)
    with torch.no_grad():
        for images, ref in ((fixture["source"], fixture["source_region_params"]),
                            (fixture["driving"], fixture["driving_region_params"]),
                            (fixture["driving"][:1], fixture["driving_region_params_initial"])):
            ours = model.region_predictor(images)
            for key in ("shift", "covar", "affine", "heatmap", "u", "d"):
                assert max_err(ours[key], ref[key]) < PARAM_ATOL, key
    scale = movement_scale(fixture["source_region_params"]["shift"], fixture["driving_region_params_initial"]["shift"])
    assert scale.item() == pytest.approx(fixture["relative"]["movement_scale"], abs=1e-6)


# every mode under both semantics; the reconstruction path (standard_bg) is stored for the trained one only
CASES = [(ac, suffix, mode) for ac, suffix in SEMANTICS for mode in MODES] + [(False, "", "standard_bg")]


@pytest.mark.parametrize("align_corners,suffix,mode", CASES)
def test_parity_with_official_outputs(fixture, official_file, align_corners, suffix, mode):
    model = load(fixture, official_file, align_corners)
    check_parity(model, fixture, mode, fixture[mode + suffix], official_outputs(model, fixture, mode), "movement_scale",
                 lambda key: key.startswith("new_"))


def test_semantics_switch_matters_and_defaults_to_trained(fixture, official_file):
    assert all(p["align_corners"] is False for p in MRAAAnimator.presets().values())
    a = load(fixture, official_file, False).animate(fixture["source"], fixture["driving"][None])
    b = load(fixture, official_file, True).animate(fixture["source"], fixture["driving"][None])
    assert max_err(a, b) > 1e-2


def test_fast_path_equals_official_loop(fixture, official_file):
    model = load(fixture, official_file, False)
    check_fast_path(model, fixture, MAP_ATOL)


def test_full_size_official_layout_loads(tmp_path):
    """A vox-256 file built from the official key listing loads strictly; errors name the file and keys."""
    path = tmp_path / "vox256.pth"
    data = full_size_file(MRAAAnimator, DATA / "mraa_keys_vox256.txt", 0.5, 3, path)
    model = motionbench.create_animator("mraa", checkpoint=str(path))
    assert not model.training and float(model.generator.final.bias[0].detach()) == 0.5
    del data["avd_network"], data["bg_predictor"]  # the demo's minimum
    data["region_predictor"]["jacobian.weight"] = torch.zeros(4, 35, 7, 7)
    data["generator"].pop("pixelwise_flow_predictor.mask.bias")
    torch.save(data, path)
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))}.*missing keys: generator\.pixelwise_flow_"
                                              r"predictor\.mask\.bias.*unexpected keys: region_predictor\.jacobian"):
        motionbench.create_animator("mraa", checkpoint=str(path))


def test_training_losses_reach_the_background_predictor():
    torch.manual_seed(0)
    model = MRAAAnimator.build("tiny").train()
    batch = {"source": torch.rand(2, 3, 64, 64), "driving": torch.rand(2, 3, 64, 64)}
    losses, _ = model.generator_losses(batch, loss_cfg("mraa"))
    assert set(losses) == {"perceptual", "equivariance_shift", "equivariance_affine"}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.bg_predictor.parameters())


def test_synthetic_ground_truth_of_avd_mode_is_the_source_body_in_the_driving_pose():
    from motionbench.data.synthetic import SyntheticDataset

    ds = SyntheticDataset(identities={"train": 2, "test": 2}, videos_per_identity={"train": 1, "test": 1},
                          frames_per_video={"train": 4, "test": 4})
    pair = ds.pairs("test", num_pairs=1, seed=0)[0]
    avd = ds.render_cross(pair, [1, 2], mode="avd")
    assert torch.equal(avd, ds.render_cross(pair, [1, 2], mode="absolute"))
    assert not torch.equal(avd, ds.render_cross(pair, [1, 2], mode="relative"))
