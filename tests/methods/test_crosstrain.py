"""crosstrain: architecture, the cross-training terms, animate / visualize, trainer and runner."""
from __future__ import annotations

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from motionbench.data.synthetic import SyntheticDataset
from motionbench.metrics import build_metrics
from motionbench.metrics.base import MetricContext
from motionbench.methods.crosstrain.animator import CrossTrainAnimator
from motionbench.methods.crosstrain.networks import CodeEncoder, LordGenerator, adain
from motionbench.registries import ANIMATORS
from motionbench.eval.runner import BenchmarkOptions, run_benchmark
from motionbench.train.data import FramePairDataset
from motionbench.train.trainer import Trainer

from helpers.cli import run_cli, write_clip
from helpers.methods import loss_cfg


def tiny(seed: int = 0, **overrides) -> CrossTrainAnimator:
    torch.manual_seed(seed)
    return CrossTrainAnimator.build("tiny", **overrides)


def images(n: int, seed: int, s: int = 64) -> torch.Tensor:
    return torch.rand(n, 3, s, s, generator=torch.Generator().manual_seed(seed))


def test_registered_with_other_input_and_absolute_only():
    assert ANIMATORS.get("crosstrain") is CrossTrainAnimator and ANIMATORS.get("cross_training") is CrossTrainAnimator
    assert "other" in CrossTrainAnimator.training_inputs
    assert not CrossTrainAnimator.capabilities.relative
    model = tiny().eval()
    with pytest.raises(NotImplementedError, match="no relative mode"):
        model.animate(images(1, 0), images(1, 1), mode="relative")
    with pytest.raises(ValueError, match=r"64×64\) got source of size \(32, 32\)"):
        model.animate(images(1, 0, 32), images(1, 1, 32))


def test_paper_architecture():
    """The report's §2: 6 [Conv, BN, LeakyReLU] blocks 3×128×128 -> 256; LORD G: code B -> 256×8×8, 4 AdaIN blocks."""
    enc = CodeEncoder(128, 256)
    assert len(enc.blocks) == 6
    for block in enc.blocks:
        assert [type(m).__name__ for m in block] == ["Conv2d", "BatchNorm2d", "LeakyReLU"]
    assert enc.eval()(images(2, 0, 128)).shape == (2, 256)
    assert len(CodeEncoder(64, 128).blocks) == 5  # one stride-2 block fewer at 64×64
    with torch.device("meta"):  # the 128 preset (92 M parameters) without allocating it
        paper = CrossTrainAnimator.build("128")
    assert paper.generator.h0 == 8 and paper.generator.adain_dim == 256 and len(paper.generator.convs) == 4
    assert paper.generator.fc_layers[-2].out_features == 256 * 8 * 8
    assert len(paper.modulation.adain_per_layer) == 4 and paper.modulation.adain_per_layer[0].out_features == 512
    n_gen = sum(p.numel() for p in paper.generator_parameters())
    assert 80e6 < n_gen < 90e6  # LORD's dense layers dominate (76 M)
    small = tiny()
    assert small.generator.h0 == 8 and len(small.generator.convs) == 3


def test_adain_is_lords_batch_norm_formulation():
    x = torch.randn(3, 5, 8, 8, dtype=torch.float64)
    bias, weight = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    # avivga/lord-pytorch AdaptiveInstanceNorm2d.forward
    ref = F.batch_norm(x.reshape(1, 15, 8, 8), None, None, weight=weight.reshape(-1), bias=bias.reshape(-1),
                       training=True).reshape(3, 5, 8, 8)
    torch.testing.assert_close(adain(x, bias, weight), ref)


def test_code_a_acts_only_through_adain():
    gen = LordGenerator(32, 16, 2, 16, 8).eval()
    code_b = torch.randn(2, 16)
    params = torch.randn(2, 2, 16, 2)
    out = gen(code_b, params)
    assert out.shape == (2, 3, 32, 32) and out.min() >= 0 and out.max() <= 1
    changed = params.clone()
    changed[:, 1, :, 1] *= 2  # scale of the last AdaIN layer
    assert not torch.allclose(gen(code_b, changed), out)
    with pytest.raises(ValueError, match="adain_params must be B×2×16×2"):
        gen(code_b, torch.randn(2, 3, 16, 2))


def test_cross_wiring_matches_the_seed_notation():
    model = tiny().eval()
    x1, x2, drv = images(2, 0), images(2, 1), images(2, 2)
    with torch.no_grad():
        out = model.cross(x1, x2, driving=drv)
        ea, eb, g = model.encoder_a, model.encoder_b, model.generate
        m12, m21 = g(ea(x1), eb(x2)), g(ea(x2), eb(x1))
        torch.testing.assert_close(out["mixed_12"], m12, atol=1e-5, rtol=0)
        torch.testing.assert_close(out["mixed_21"], m21, atol=1e-5, rtol=0)
        torch.testing.assert_close(out["cycle_1"], g(ea(m12), eb(m21)), atol=1e-5, rtol=0)
        torch.testing.assert_close(out["cycle_2"], g(ea(m21), eb(m12)), atol=1e-5, rtol=0)
        torch.testing.assert_close(out["prediction"], g(ea(x1), eb(drv)), atol=1e-5, rtol=0)
        # the loss terms are exactly the report's eqs. 1-3 (+ the same-video term), mean-reduced, γ-weighted
        batch = {"source": x1, "driving": drv, "other": x2}
        losses, generated = model.generator_losses(batch, loss_cfg("crosstrain", gamma=1.5, cycle_b=2.0))
    assert set(losses) == {"pair_reconstruction", "reconstruction", "cycle_a", "cycle_b"}
    torch.testing.assert_close(losses["pair_reconstruction"], (out["prediction"] - drv).abs().mean())
    torch.testing.assert_close(losses["reconstruction"],
                               (out["cycle_1"] - x1).abs().mean() + (out["cycle_2"] - x2).abs().mean())
    torch.testing.assert_close(losses["cycle_a"], 1.5 * ((ea(x1) - ea(m12)).pow(2).mean()
                                                         + (ea(x2) - ea(m21)).pow(2).mean()), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(losses["cycle_b"], 3.0 * ((eb(x1) - eb(m21)).pow(2).mean()
                                                         + (eb(x2) - eb(m12)).pow(2).mean()), atol=1e-5, rtol=1e-4)
    assert set(generated) >= {"prediction", "mixed_12", "mixed_21"}
    no_cycle, _ = model.generator_losses(batch, loss_cfg("crosstrain", gamma=0.0))
    assert set(no_cycle) == {"pair_reconstruction", "reconstruction"}
    with pytest.raises(ValueError, match=r"needs batch\['other'\]"):
        model.generator_losses({"source": x1, "driving": drv}, loss_cfg("crosstrain"))
    with pytest.raises(ValueError, match="use_discriminator"):
        tiny(use_discriminator=False).generator_losses(batch, loss_cfg("crosstrain", generator_gan=0.1))


def test_animate_is_g_of_source_identity_and_driving_pose():
    model = tiny().eval()
    src, drv = images(2, 0), images(6, 1).reshape(2, 3, 3, 64, 64)
    with torch.inference_mode():
        out = model.animate(src, drv)
        state = model.encode_source(src)
        assert set(state) == {"code_a", "adain"}
        for b in range(2):
            for t in range(3):
                ref = model.generate(model.encoder_a(src[b:b + 1]), model.encoder_b(drv[b, t:t + 1]))
                torch.testing.assert_close(out[b, t], ref[0], atol=1e-5, rtol=0)


def test_visualize_has_the_seed_layout():
    model = tiny().eval()
    src, drv = images(1, 0), images(2, 1)
    with torch.inference_mode():
        fig = model.visualize(src, drv)
        out = model.cross(src.expand(2, -1, -1, -1), drv)
    # per driving frame a 3-row × 2-column panel (64-px images, 2-px padding), 8-px gap between panels
    assert fig.dtype == np.uint8 and fig.shape == (3 * 66 + 2, 2 * (2 * 66 + 2) + 8, 3)

    def cell(panel, row, col):
        x0 = panel * (2 * 66 + 2 + 8) + 2 + col * 66
        return torch.from_numpy(fig[2 + row * 66:2 + row * 66 + 64, x0:x0 + 64]).permute(2, 0, 1).float() / 255

    for panel in range(2):
        expected = [[src[0], drv[panel]], [out["mixed_12"][panel], out["mixed_21"][panel]],
                    [out["cycle_1"][panel], out["cycle_2"][panel]]]
        for row in range(3):
            for col in range(2):
                assert (cell(panel, row, col) - expected[row][col]).abs().max() <= 1 / 255 + 1e-6
    with pytest.raises(ValueError, match="3 sources for 2 driving frames"):
        model.visualize(images(3, 0), drv)


def test_trainer_gets_other_identity_and_trains_with_and_without_gan(tmp_path):
    ds = SyntheticDataset(identities={"train": 2, "test": 2}, videos_per_identity={"train": 1, "test": 1},
                          frames_per_video={"train": 8, "test": 4})
    pairs = FramePairDataset(ds, "train", with_other="other" in CrossTrainAnimator.training_inputs)
    sample = pairs.sample(0, 0)
    assert set(sample) == {"source", "driving", "other"}
    batch = {k: torch.stack([sample[k], pairs.sample(1, 0)[k]]) for k in sample}
    for gan in (0.0, 0.1):
        model = tiny()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        trainer = Trainer(model, loss_cfg("crosstrain", generator_gan=gan), {"max_steps": 2, "lr_generator": 1e-3}, {},
                          tmp_path / f"gan{gan}", torch.device("cpu"))
        assert trainer.adversarial == (gan > 0)
        logs = [trainer.train_step(batch) for _ in range(2)]
        assert all(np.isfinite(v) for log in logs for v in log.values())
        assert ("d/disc_gan" in logs[-1]) == (gan > 0) and ("g/gen_gan" in logs[-1]) == (gan > 0)
        after = model.state_dict()
        assert not torch.equal(before["generator.convs.0.weight"], after["generator.convs.0.weight"])
        assert not torch.equal(before["encoder_a.blocks.0.0.weight"], after["encoder_a.blocks.0.0.weight"])
        d_key = "discriminator.final_linear.1.weight"
        assert torch.equal(before[d_key], after[d_key]) == (gan == 0)


def test_runner_runs_cross_identity_in_absolute_mode():
    ds = SyntheticDataset(identities={"train": 2, "test": 2}, videos_per_identity={"train": 1, "test": 1},
                          frames_per_video={"train": 4, "test": 3})
    metrics = build_metrics(["l1"], MetricContext(dataset="synthetic", resolution=64), {})
    res = run_benchmark(tiny(), ds, metrics, BenchmarkOptions(max_videos=2, progress=False))
    assert res["same_identity"].mode == "absolute" and res["cross_identity"].mode == "absolute"
    assert res["cross_identity"].metrics["l1"].n == 2 * 3  # absolute: no trivial frame excluded


@pytest.mark.slow
def test_animate_task_writes_the_seed_figure(tmp_path):
    src, drv = write_clip(tmp_path)
    out = tmp_path / "out" / "anim.mp4"
    r = run_cli(["task=animate", "method=crosstrain", f"animate.source={src}", f"animate.driving={drv}",
                 f"animate.output={out}",
                 f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "no relative mode: animating in absolute mode" in r.stdout + r.stderr
    fig = imageio.imread(out.with_name("anim_crosstrain.png"))
    assert fig.shape == (3 * 66 + 2, 2 * (2 * 66 + 2) + 8, 3)  # frames 0 and T/2, the report's layout each
