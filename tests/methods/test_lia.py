"""LIA: parity with the official code (fixture from wyhsirius/LIA, size 64), official state-dict layout,
fast path == per-frame path, training losses, checkpoint loading and errors."""
from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import pytest
import torch

import motionbench
from motionbench.core.checkpoint import CheckpointError
from motionbench.methods.lia.animator import LIAAnimator

from helpers.parity import read_key_listing

DATA = Path(__file__).parents[1] / "data"
ATOL = 1e-4


def seed_rule_weights(reference: dict, weight_seed: int) -> dict:
    """The fixture's documented weight rule: randn per key seeded by crc32(key); biases × 0.1."""
    out = {}
    for key in sorted(reference):
        if key.endswith(".kernel"):
            out[key] = reference[key].clone()
            continue
        seed = (zlib.crc32(key.encode("utf-8")) + weight_seed * 0x9E3779B9) % 2 ** 32
        value = torch.randn(tuple(reference[key].shape), generator=torch.Generator().manual_seed(seed),
                            dtype=torch.float32)
        out[key] = value * 0.1 if key.endswith("bias") else value
    return out


@pytest.fixture(scope="module")
def fixture() -> dict:
    return torch.load(DATA / "lia_small_subset.pt", weights_only=True)


@pytest.fixture(scope="module")
def official_file(fixture, tmp_path_factory) -> Path:
    """An official-layout file {"gen": state_dict} with the fixture's weights, verified by checksum."""
    cfg = fixture["config"]
    with torch.device("meta"):
        shapes = LIAAnimator(size=cfg["size"], style_dim=cfg["style_dim"], motion_dim=cfg["motion_dim"],
                             channel_multiplier=cfg["channel_multiplier"], use_discriminator=False)
    reference = {k: torch.empty(v.shape) for k, v in shapes.generator.state_dict().items()}
    for key, kernel in fixture["kernel_buffers"].items():
        reference[key] = kernel
    checksums = fixture["state_dict_checksums"]
    assert sorted(reference) == sorted(checksums)  # our keys == the official keys (131 at size 64)
    state = seed_rule_weights(reference, fixture["weight_seed"])
    for key, value in state.items():
        v = value.double()
        got = torch.stack([v.sum(), v.abs().sum(), torch.tensor(float(v.numel()), dtype=torch.float64)])
        assert torch.allclose(got, checksums[key], rtol=1e-9, atol=1e-6), key
    path = tmp_path_factory.mktemp("lia") / "lia_small_official.pt"
    torch.save({"gen": state}, path)
    return path


@pytest.fixture(scope="module")
def model(official_file) -> LIAAnimator:
    m = motionbench.create_animator("lia", size=64, checkpoint=str(official_file))
    return m.eval()


def _max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().abs().max())


def test_parity_intermediates(model, fixture):
    gen = model.generator
    with torch.inference_mode():
        assert _max_err(gen.get_direction(), fixture["directions"]) < ATOL
        state = model.encode_source((fixture["source"] + 1) / 2)
        assert _max_err(state["wa"], fixture["wa"]) < ATOL
        for feat, sub, (c, s), sums in zip(state["feats"], fixture["feats_subset"], fixture["feat_strides"],
                                           fixture["feats_checksums"]):
            assert _max_err(feat[:, ::c, ::s, ::s], sub) < ATOL
            f = feat.double()
            assert torch.allclose(torch.stack([f.sum(), f.abs().sum()]), sums, rtol=1e-5)
        driving01 = (fixture["driving"] + 1) / 2
        alpha = model.motion_code(driving01)
        assert _max_err(alpha, fixture["absolute"]["alpha"]) < ATOL
        assert _max_err(alpha[:1], fixture["h_start"]) < ATOL
        rel = fixture["relative"]
        assert _max_err(state["alpha_source"].expand(3, -1), rel["alpha_source"]) < ATOL
        q = gen.dec.direction.basis()
        assert _max_err(alpha @ q.t(), fixture["absolute"]["direction_vec"]) < ATOL
        assert _max_err(gen.dec.latent(state["wa"], [alpha]), fixture["absolute"]["latent"]) < ATOL
        latent_rel = gen.dec.latent(state["wa"], [alpha, rel["alpha_source"], rel["alpha_start"]])
        assert _max_err(latent_rel, rel["latent"]) < ATOL


@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_parity_images(model, fixture, mode):
    source01 = (fixture["source"] + 1) / 2
    driving01 = ((fixture["driving"] + 1) / 2).unsqueeze(0)  # 1×3×3×64×64
    out = model.animate(source01, driving01, mode=mode)
    assert out.shape == driving01.shape
    expected = ((fixture[mode]["img"] + 1) / 2).unsqueeze(0)
    assert _max_err(out, expected) < ATOL


def test_state_dict_keys_and_shapes_match_official_256():
    listing = read_key_listing(DATA / "lia_keys_256.txt")
    with torch.device("meta"):
        m = LIAAnimator.build("256")
    ours = {f"gen.{k}": tuple(v.shape) for k, v in m.generator.state_dict().items()}
    ours.update({f"dis.{k}": tuple(v.shape) for k, v in m.discriminator.state_dict().items()})
    assert ours == listing
    assert sum(p.numel() for p in m.generator.parameters()) == 45116317
    assert sum(p.numel() for p in m.discriminator.parameters()) == 24001089


@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_fast_path_equals_official_per_frame_path(model, fixture, mode):
    """Encode-once, B×T-batched path == the official per-frame call (re-encoding the source every frame,
    relative: h_start of the first frame) == the fixture. B=2, T=2, chunks straddle the two videos."""
    src = (fixture["source"] + 1) / 2
    drv = (fixture["driving"] + 1) / 2
    source = torch.cat([src, src.flip(-1)])
    driving = torch.stack([drv[:2], drv[1:].flip(-2)])  # 2×2×3×64×64
    chunk, model.chunk_size = model.chunk_size, 3
    try:
        fast = model.animate(source, driving, mode=mode)
    finally:
        model.chunk_size = chunk
    for b in range(2):
        slow = model.official_animation(source[b:b + 1], driving[b], mode=mode)  # official Generator.forward per frame
        if b == 0:
            assert _max_err(slow, ((fixture[mode]["img"][:2] + 1) / 2).clamp(0, 1)) < ATOL
        assert _max_err(fast[b], slow) < ATOL


@pytest.fixture(scope="module")
def tiny() -> LIAAnimator:
    torch.manual_seed(0)
    return motionbench.create_animator("lia", preset="tiny").eval()


def test_relative_reference_frame(tiny):
    torch.manual_seed(1)
    source, driving = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 3, 64, 64)
    default = tiny.animate(source, driving, mode="relative")
    first = tiny.animate(source, driving, mode="relative", driving_ref=driving[:, 0])
    other = tiny.animate(source, driving, mode="relative", driving_ref=driving[:, 2])
    assert torch.equal(default, first) and not torch.allclose(default, other)
    assert default.shape == driving.shape and 0 <= float(default.min()) and float(default.max()) <= 1
    state = tiny.encode_source(source)  # a cached source state gives the same frames, chunk by chunk
    chunks = torch.cat([tiny.animate(source, driving[:, i:i + 1], mode="relative", driving_ref=driving[:, 0],
                                     source_state=state) for i in range(3)], 1)
    # random tiny weights give rough 64×64 skip features: grid_sample turns batch-size-dependent conv
    # rounding (~1e-6 in the flow) into ~1e-4 differences, hence the looser tolerance here
    assert torch.allclose(chunks, default, atol=1e-3)


def test_training_losses_finite_and_backward():
    torch.manual_seed(0)
    m = motionbench.create_animator("lia", preset="tiny").train()
    batch = {"source": torch.rand(2, 3, 64, 64), "driving": torch.rand(2, 3, 64, 64)}
    cfg = {"perceptual": [10, 10, 10, 10, 10], "perceptual_kind": "pixel", "scales": [1, 0.5, 0.25, 0.125],
           "l1": 1.0, "generator_gan": 1.0, "discriminator_gan": 1.0, "gan_kind": "nonsat", "label_smoothing": 0.0}
    losses, generated = m.generator_losses(batch, cfg)
    assert set(losses) == {"perceptual", "l1", "gen_gan"}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    grads = [p.grad for p in m.generator.enc.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert m.generator.dec.direction.weight.grad.abs().sum() > 0
    m.zero_grad(set_to_none=True)
    detached = {k: v.detach() for k, v in generated.items()}
    d_losses = m.discriminator_losses(batch, detached, dict(cfg, label_smoothing=0.1))
    assert set(d_losses) == {"disc_gan"} and torch.isfinite(d_losses["disc_gan"])
    d_losses["disc_gan"].backward()
    assert all(p.grad is not None for p in m.discriminator.parameters())
    assert all(p.grad is None for p in m.generator.parameters())


def test_checkpoint_round_trips(tiny, tmp_path):
    source, driving = torch.rand(1, 3, 64, 64), torch.rand(1, 2, 3, 64, 64)
    expected = tiny.animate(source, driving)
    # official trainer layout, argparse args included; network shape read off the file
    official = dict(tiny.official_checkpoint(), g_optim={}, d_optim={},
                    args=argparse.Namespace(size=64, latent_dim_style=256))
    torch.save(official, tmp_path / "official.pt")
    loaded = motionbench.create_animator("lia", checkpoint=str(tmp_path / "official.pt")).eval()
    assert loaded.config["channel_max"] == 64 and loaded.config["style_dim"] == 256
    assert torch.equal(loaded.animate(source, driving), expected)
    # motionbench layout
    tiny.save_checkpoint(tmp_path / "mb.pt")
    again = motionbench.create_animator("lia", checkpoint=str(tmp_path / "mb.pt")).eval()
    assert torch.equal(again.animate(source, driving), expected)


def test_bad_checkpoint_names_keys(tiny, tmp_path):
    gen = tiny.generator.state_dict()
    gen["enc.extra.weight"] = torch.zeros(1)
    del gen["dec.direction.weight"]
    torch.save({"gen": gen}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError) as err:
        LIAAnimator.from_checkpoint(tmp_path / "bad.pt", preset="tiny", motion_dim=20, style_dim=256)
    msg = str(err.value)
    assert "bad.pt" in msg and "dec.direction.weight" in msg and "enc.extra.weight" in msg
    torch.save({"gen": tiny.generator.state_dict()}, tmp_path / "wrong_size.pt")
    with pytest.raises(CheckpointError, match="shape mismatches"):
        LIAAnimator.from_checkpoint(tmp_path / "wrong_size.pt", preset="tiny", style_dim=128)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a motionbench checkpoint"):
        LIAAnimator.from_checkpoint(tmp_path / "other.pt")


def test_stylegan2_fast_ops_equal_reference_formulations():
    """upfirdn2d / modulated convs (plain, up, down, no demod) / ConvLayer / ResBlock / discriminator:
    the fast formulations (autograd off and on) equal the official ones."""
    from motionbench.nn import stylegan2 as sg
    from motionbench.nn.stylegan2_reference import reference_ops, upfirdn2d_native

    torch.manual_seed(0)
    x = torch.randn(2, 8, 9, 9)
    k = sg.make_kernel([1, 3, 3, 1])
    for up, down, pad in [(1, 1, (2, 2)), (1, 1, (2, 1)), (2, 1, (2, 1)), (1, 2, (1, 1)), (2, 1, (-1, 0))]:
        assert _max_err(sg.upfirdn2d(x, k * up * up, up, down, pad), upfirdn2d_native(x, k * up * up, up, down, pad)) < 1e-5
    style = torch.randn(2, 16)
    modules = [sg.ModulatedConv2d(8, 6, 3, 16), sg.ModulatedConv2d(8, 6, 3, 16, upsample=True),
               sg.ModulatedConv2d(8, 6, 3, 16, downsample=True), sg.ModulatedConv2d(8, 3, 1, 16, demodulate=False),
               sg.StyledConv(8, 6, 3, 16, upsample=True), sg.StyledConv(8, 6, 3, 16)]
    for m in modules:
        for p in m.parameters():
            p.data.normal_()
        with torch.no_grad():
            fast = m(x, style)
        slow = m(x, style)  # autograd on: unfused path
        with torch.no_grad(), reference_ops():
            ref = m(x, style)
        assert fast.shape == ref.shape and _max_err(fast, ref) < 1e-4 and _max_err(slow, ref) < 1e-4, m
    disc = sg.StyleGAN2Discriminator(16, channel_max=16)
    img = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        fast = disc(img)
    with torch.no_grad(), reference_ops():
        ref = disc(img)
    assert _max_err(fast, ref) < 1e-4 and _max_err(disc(img), ref) < 1e-4
    assert disc(torch.randn(3, 3, 16, 16)).shape == (3, 1)  # batch not divisible by the stddev group
