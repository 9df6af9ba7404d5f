"""LWGAN: official state-dict layout (svip-lab/impersonator listing), Liquid Warping Block, compositing,
multi-source fusion, external flow, official-file loading, training losses and the seed-001 stabilisers."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import motionbench
from motionbench.core.checkpoint import CheckpointError
from motionbench.methods.lwgan.animator import LWGANAnimator
from motionbench.methods.lwgan.generator import ImpersonatorGenerator, resize_flow, warp
from motionbench.nn.blocks import make_coordinate_grid

from helpers.methods import loss_cfg

DATA = Path(__file__).parents[1] / "data"


def listing():
    """{"G": {key: shape}, "D": {...}} and the stated parameter totals of the official listing."""
    parts, totals, cur = {"G": {}, "D": {}}, {}, None
    for line in (DATA / "lwgan_keys_impersonator.txt").read_text().splitlines():
        head = re.match(r"# ([GD]) \((\d+) keys, (\d+) params\)", line)
        if head:
            cur = head.group(1)
            totals[cur] = (int(head.group(2)), int(head.group(3)))
        elif line and not line.startswith("#") and cur:
            key, shape = line.split("\t")
            parts[cur][key] = tuple(int(s) for s in re.findall(r"\d+", shape))
    return parts, totals


def tiny(**kw):
    torch.manual_seed(0)
    return LWGANAnimator.build("tiny", **kw)


def images(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_paper_preset_matches_official_listing():
    parts, totals = listing()
    with torch.device("meta"):
        model = LWGANAnimator.build("256")
    for name, module in (("G", model.generator), ("D", model.discriminator)):
        ours = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        assert ours == parts[name], name
        assert len(ours) == totals[name][0]
        assert sum(p.numel() for p in module.parameters()) == totals[name][1]


def test_lwb_adds_warped_source_features_at_every_level():
    torch.manual_seed(0)
    gen = ImpersonatorGenerator(conv_dim=4, repeat_num=2, n_down=3).eval()
    src_in, tsf_in = images(2, 6, 32, 32), images(2, 6, 32, 32, seed=1)
    flow = make_coordinate_grid((16, 16)).unsqueeze(0).repeat(2, 1, 1, 1) * 0.7 + 0.1  # a zoom + shift
    feats = gen.encode_src(src_in)
    # manual LWB: tsf += grid_sample(src, flow resized to the level) after encoders 1..3 and every res block
    t = gen.tsf_model
    x = t.encoders[0](tsf_in)
    enc = [x]
    for i in range(1, 4):
        lvl = feats[0][i]
        x = t.encoders[i](x) + F.grid_sample(lvl, resize_flow(flow, lvl.shape[-2:]), align_corners=True)
        enc.append(x)
    for i in range(2):
        x = t.resnets[i](x) + warp(feats[1][i], flow)
    expected = t.regress(t.decode(x, enc))
    got = gen.transfer([feats], tsf_in, [flow])
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)
    # two sources: the warps are summed
    feats2 = gen.encode_src(images(2, 6, 32, 32, seed=2))
    two = gen.transfer([feats, feats2], tsf_in, [flow, flow.flip(1)])
    x = t.encoders[0](tsf_in)
    enc = [x]
    for i in range(1, 4):
        x = t.encoders[i](x) + warp(feats[0][i], flow) + warp(feats2[0][i], flow.flip(1))
        enc.append(x)
    for i in range(2):
        x = t.resnets[i](x) + warp(feats[1][i], flow) + warp(feats2[1][i], flow.flip(1))
    for a, b in zip(two, t.regress(t.decode(x, enc))):
        torch.testing.assert_close(a, b)
    assert not torch.allclose(two[0], got[0])
    # official forward signature and output shapes
    outs = gen(images(2, 4, 32, 32), src_in, tsf_in, flow)
    assert [tuple(o.shape) for o in outs] == [(2, 3, 32, 32), (2, 3, 32, 32), (2, 1, 32, 32), (2, 3, 32, 32), (2, 1, 32, 32)]


def test_identity_flow_warp_is_identity():
    x = images(1, 5, 8, 8)
    grid = make_coordinate_grid((4, 4)).unsqueeze(0)  # coarser flow, resized with align_corners=True
    torch.testing.assert_close(warp(x, grid), x, atol=1e-5, rtol=0)


def test_output_is_mask_composite_of_background_and_colour():
    model = tiny().eval()
    src, drv = images(2, 3, 64, 64), images(2, 1, 3, 64, 64, seed=1)
    with torch.inference_mode():
        state = model.encode_source(src)
        kp_s = state["kp_source"]
        kp_d = model.kp_detector(drv[:, 0])
        m = model.motion(state["source_down"], kp_d, kp_s, (64, 64))
        out = model.transfer(state, torch.arange(2), [m["flow"]], [m["occlusion"]], m["background"])
        composite = (out["mask"] * state["bg_image"] + (1 - out["mask"]) * out["color"] + 1) / 2
        torch.testing.assert_close(out["prediction"], composite)
        torch.testing.assert_close(model.animate(src, drv)[:, 0], composite.clamp(0, 1), atol=1e-5, rtol=0)
        assert out["tsf_cond"].shape == (2, 3, 64, 64)


def test_multi_source():
    model = tiny().eval()
    src, drv = images(2, 3, 64, 64), images(2, 3, 3, 64, 64, seed=1)
    with torch.inference_mode():
        one = model.animate(src, drv)
        torch.testing.assert_close(model.animate(src.unsqueeze(1), drv), one)  # N = 1 as B×1×3×H×W
        two = model.animate(torch.stack([src, src.flip(-1)], 1), drv, mode="relative")
        assert two.shape == drv.shape and torch.isfinite(two).all()
        assert not torch.allclose(two, model.animate(src, drv, mode="relative"))
    with pytest.raises(ValueError, match="source"):
        model.animate(images(2, 2, 4, 64, 64), drv)


def test_external_flow():
    model = tiny().eval()
    src, drv = images(1, 3, 64, 64), images(1, 2, 3, 64, 64, seed=1)
    identity = make_coordinate_grid((64, 64)).view(1, 1, 64, 64, 2).repeat(1, 2, 1, 1, 1)
    with torch.inference_mode():
        a = model.animate(src, drv, flow=identity)
        b = model.animate(src, drv, flow=identity, background_mask=torch.zeros(1, 2, 1, 64, 64))
        assert a.shape == b.shape == drv.shape
        with pytest.raises(ValueError, match="flow must be"):
            model.animate(src, drv, flow=identity[:, :1])
        with pytest.raises(NotImplementedError):
            model.animate(src, drv, mode="relative", flow=identity)
    ext = LWGANAnimator.build("tiny", flow="external").eval()
    assert ext.kp_detector is None
    with torch.inference_mode():
        assert ext.animate(src, drv, flow=identity).shape == drv.shape
        with pytest.raises(ValueError, match="flow: external"):
            ext.animate(src, drv)
    with pytest.raises(NotImplementedError):
        ext.train().generator_losses({"source": src, "driving": drv[:, 0]}, loss_cfg("lwgan"))


def test_official_generator_file_loads(tmp_path):
    model = tiny()
    state = {f"module.{k}": v + 0.01 for k, v in model.generator.state_dict().items()}  # DataParallel prefix
    torch.save(state, tmp_path / "net_epoch_30_id_G.pth")
    loaded = LWGANAnimator.from_checkpoint(tmp_path / "net_epoch_30_id_G.pth", preset="tiny")
    for k, v in loaded.generator.state_dict().items():
        torch.testing.assert_close(v, state[f"module.{k}"])
    assert not loaded.training
    bad = dict(state)
    bad.pop("module.tsf_model.img_reg.0.weight")
    torch.save(bad, tmp_path / "bad_G.pth")
    with pytest.raises(CheckpointError, match=r"missing keys: generator\.tsf_model\.img_reg\.0\.weight"):
        LWGANAnimator.from_checkpoint(tmp_path / "bad_G.pth", preset="tiny")
    torch.save(model.discriminator.state_dict(), tmp_path / "net_epoch_30_id_D.pth")
    with pytest.raises(CheckpointError, match="discriminator"):
        LWGANAnimator.from_checkpoint(tmp_path / "net_epoch_30_id_D.pth", preset="tiny")
    with pytest.raises(ValueError, match="odd"):
        LWGANAnimator.build("tiny", bg_erode=4)


def test_training_losses_and_masks():
    model = tiny().train()
    batch = {"source": images(2, 3, 64, 64), "driving": images(2, 3, 64, 64, seed=1)}
    losses, gen = model.generator_losses(batch, loss_cfg("lwgan"))
    assert set(losses) == {"rec", "perceptual", "mask", "mask_smooth", "gen_gan", "equivariance_value",
                           "equivariance_jacobian"}
    assert all(torch.isfinite(v) for v in losses.values())
    # official weights: λ_rec on the [-1, 1] L1 of the SID reconstruction
    torch.testing.assert_close(losses["rec"], 10 * (gen["fake_src"] - (batch["source"] * 2 - 1)).abs().mean())
    assert 0 <= gen["tsf_mask_target"].min() and gen["tsf_mask_target"].max() <= 1
    d = model.discriminator_losses(batch, {k: v.detach() for k, v in gen.items()}, loss_cfg("lwgan"))
    real = model.discriminator_logits(batch["driving"], batch, gen)[0]
    fake = model.discriminator_logits(gen["prediction"].detach(), batch, gen)[0]
    torch.testing.assert_close(d["disc_gan"], ((real - 1) ** 2).mean() + ((fake + 1) ** 2).mean())  # official LSGAN
    assert real.shape == (2, 1, 6, 6)


@pytest.mark.parametrize("experiment", ["lwgan-e1", "lwgan-e3"])
def test_experiment_configs_train(experiment, tmp_path):
    """E1 (WGAN-GP 2, TTUR) and E3 (spectral norm, λ_rec 15) compose and run a trainer step."""
    from hydra import compose, initialize_config_module

    from motionbench.hub.build import to_dict
    from motionbench.cli.schema import register_schemas
    from motionbench.train.trainer import Trainer

    register_schemas()
    with initialize_config_module(config_module="motionbench.conf", version_base=None):
        cfg = compose("config", overrides=[f"experiment={experiment}", "task=train"])
    assert cfg.method.name == "lwgan" and "lambda_mask" in cfg.loss  # loss/lwgan.yaml follows the method
    model = tiny()
    loss = to_dict(cfg.loss)
    trainer = Trainer(model, loss, to_dict(cfg.train), to_dict(cfg.method).get("train_defaults") or {}, tmp_path,
                      torch.device("cpu"))
    logs = trainer.train_step({"source": images(2, 3, 64, 64), "driving": images(2, 3, 64, 64, seed=1)})
    lrs = (trainer.opt["generator"].param_groups[0]["initial_lr"], trainer.opt["discriminator"].param_groups[0]["initial_lr"])
    if experiment == "lwgan-e1":
        assert "d/gradient_penalty" in logs and lrs == (1e-4, 3e-4)
    else:
        from torch.nn.utils.parametrize import is_parametrized

        assert is_parametrized(model.discriminator.model[0], "weight") and lrs == (4e-4, 1e-4)
        assert loss["lambda_rec"] == 15


def test_registered():
    assert "lwgan" in motionbench.list_animators()
    caps = LWGANAnimator.capabilities
    assert caps.multi_source and caps.adversarial and caps.relative
