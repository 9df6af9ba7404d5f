"""IMF: paper-preset structure (meta device), attention maths, scales without attention, modes, training
losses, input errors. Registry-wide contract / gradient / checkpoint checks are in test_methods.py."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import motionbench
from motionbench.core.config import load_conf_yaml, method_presets
from motionbench.methods.imf.animator import IMFAnimator
from motionbench.methods.imf.motion import ImplicitMotionAlignment, TransformerBlock


def tiny(**overrides) -> IMFAnimator:
    torch.manual_seed(0)
    return IMFAnimator.build("tiny", **overrides)


def images(n: int, seed: int = 0, size: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 8, 8, generator=g)
    return F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)


def test_paper_preset_structure():
    """256², token_dim 32, 4 scales (64², 32², 16², 8²) with IMF_A and 4 transformer blocks each."""
    cfg = method_presets("imf")["256"]
    assert cfg["size"] == 256 and cfg["token_dim"] == 32 and cfg["num_transformer_blocks"] == 4
    with torch.device("meta"):
        model = IMFAnimator.build("256")
    gen = model.generator
    assert gen.resolutions == [64, 32, 16, 8] and gen.attention_scales == [0, 1, 2, 3]
    assert gen.token_encoder.mlp[-1].weight.shape[0] == 32
    assert len(gen.token_decoder.convs) == 1 + 3 * 4  # 4×4, then 3 styled convs at 8, 16, 32, 64
    for i, channels in enumerate([128, 256, 512, 512]):
        align = gen.alignment[str(i)]
        assert len(align.blocks) == 4
        assert tuple(align.pos_q.shape) == (1, gen.resolutions[i] ** 2, channels)
    assert list(model.discriminator.scales) == [1, 0.5]
    assert all(hasattr(m, "weight_orig") for n, m in model.discriminator.named_modules() if n.endswith(".conv"))
    n_gen = sum(p.numel() for p in gen.parameters())
    assert n_gen == 122_263_523  # README number
    train = load_conf_yaml("method/imf.yaml")["train_defaults"]
    assert train["lr_generator"] == train["lr_discriminator"] == 2e-4
    assert list(train["betas_generator"]) == list(train["betas_discriminator"]) == [0.5, 0.999]
    loss = load_conf_yaml("loss/imf.yaml")
    assert (loss["l1"], list(loss["perceptual"]), loss["generator_gan"], loss["gan_kind"]) == \
        (10, [10] * 5, 1, "hinge")
    assert list(loss["scales"]) == [1, 0.5, 0.25, 0.125]


def test_cross_attention_is_softmax_qk_v():
    """IMF_A with no transformer blocks is softmax((m_c+P_q)(m_r+P_k)ᵀ/√d_k) f_r (eq. 5)."""
    torch.manual_seed(0)
    align = ImplicitMotionAlignment(4, motion_dim=6, feature_dim=8, num_blocks=0, num_heads=2)
    m_c, m_r, f_r = torch.randn(2, 6, 4, 4), torch.randn(2, 6, 4, 4), torch.randn(2, 8, 4, 4)
    out = align(m_c, align.keys(m_r), align.tokens(f_r))
    q = m_c.flatten(2).transpose(1, 2) + align.pos_q
    k = m_r.flatten(2).transpose(1, 2) + align.pos_k
    expected = torch.softmax(q @ k.transpose(1, 2) / 6 ** 0.5, dim=-1) @ f_r.flatten(2).transpose(1, 2)
    torch.testing.assert_close(out, expected.transpose(1, 2).reshape(2, 8, 4, 4), atol=1e-5, rtol=1e-5)
    # distinct, peaked motion features: each current position picks the reference position whose motion
    # feature it matches, so the alignment is the permutation (the implicit warp) of f_r
    onehot = F.one_hot(torch.arange(16)).float().T.reshape(1, 16, 4, 4) * 50  # m_r: position p ↦ e_p
    perm = torch.randperm(16)
    big = ImplicitMotionAlignment(4, motion_dim=16, feature_dim=8, num_blocks=0, num_heads=2)
    with torch.no_grad():
        big.pos_q.zero_(), big.pos_k.zero_()
    m_cur = onehot.flatten(2)[:, :, perm].reshape(1, 16, 4, 4)  # current position p looks like reference perm[p]
    out = big(m_cur, big.keys(onehot), big.tokens(f_r[:1]))
    torch.testing.assert_close(out.flatten(2), f_r[:1].flatten(2)[:, :, perm], atol=1e-5, rtol=0)


def test_transformer_block_equals_torch_encoder_layer():
    """Our SDPA block = nn.TransformerEncoderLayer(pre-norm, GELU, no dropout) with the same weights."""
    torch.manual_seed(0)
    block = TransformerBlock(16, 4, ffn_ratio=2.0)
    ref = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
    mapping = {"qkv.weight": "self_attn.in_proj_weight", "qkv.bias": "self_attn.in_proj_bias",
               "proj.weight": "self_attn.out_proj.weight", "proj.bias": "self_attn.out_proj.bias",
               "ffn.0.weight": "linear1.weight", "ffn.0.bias": "linear1.bias",
               "ffn.2.weight": "linear2.weight", "ffn.2.bias": "linear2.bias"}
    state = ref.state_dict()
    block.load_state_dict({k: state[mapping.get(k, k)] for k in block.state_dict()})
    x = torch.randn(2, 10, 16)
    for mode in (True, False):
        block.train(mode), ref.train(mode)
        with torch.no_grad():
            torch.testing.assert_close(block(x), ref(x), atol=1e-5, rtol=1e-5)


def test_transformer_blocks_change_the_aligned_features_and_get_gradients():
    """IMF_A's output is its transformer blocks applied to the cross-attention output, which they change; every
    parameter (positional embeddings and blocks) gets a gradient."""
    torch.manual_seed(0)
    align = ImplicitMotionAlignment(4, motion_dim=6, feature_dim=8, num_blocks=2, num_heads=2)
    m_c, m_r, f_r = torch.randn(1, 6, 4, 4), torch.randn(1, 6, 4, 4), torch.randn(1, 8, 4, 4)
    out = align(m_c, align.keys(m_r), align.tokens(f_r))
    blocks, align.blocks = align.blocks, torch.nn.Sequential()  # the same alignment without its blocks
    with torch.no_grad():
        attended = align(m_c, align.keys(m_r), align.tokens(f_r))
        refined = blocks(align.tokens(attended)).transpose(1, 2).reshape(attended.shape)
    align.blocks = blocks
    torch.testing.assert_close(out.detach(), refined, atol=1e-6, rtol=0)
    assert (out.detach() - attended).abs().max() > 0.1
    out.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in align.parameters())


def test_scales_without_attention_pass_the_reference_feature():
    model = tiny().eval()  # tiny: IMF_A at scales 1, 2 (16², 8²); scale 0 (32²) is a skip connection
    gen = model.generator
    assert gen.attention_scales == [1, 2] and set(gen.alignment) == {"1", "2"}
    assert gen.token_decoder.resolutions == [4, 8, 16]  # not built beyond the finest attention scale
    seen = {}
    gen.frame_decoder.register_forward_pre_hook(lambda mod, args: seen.setdefault("feats", args[0]))
    src, drv = images(1), images(2, seed=1)
    with torch.inference_mode():
        state = model.encode_source(src)
        model.animate(src, drv[None, :1], source_state=state)
    assert torch.equal(seen["feats"][0], state["features"][0])
    assert not torch.equal(seen["feats"][1], state["features"][1])  # aligned
    full = tiny(attention_scales=[0, 1, 2]).generator
    assert full.token_decoder.resolutions == [4, 8, 16, 32] and set(full.alignment) == {"0", "1", "2"}


def test_relative_mode_moves_the_source_token():
    model = tiny().eval()
    src, drv = images(2), images(6, seed=2).reshape(2, 3, 3, 64, 64)
    with torch.inference_mode():
        absolute = model.animate(src, drv)
        # driving_ref = source: t_src + t_d - t_src = t_d
        torch.testing.assert_close(model.animate(src, drv, mode="relative", driving_ref=src), absolute,
                                   atol=1e-5, rtol=0)
        # every frame equal to the reference: the source token itself = absolute animation by the source
        rel = model.animate(src, drv[:, :1].expand(-1, 2, -1, -1, -1), mode="relative")
        by_source = model.animate(src, src[:, None].expand(-1, 2, -1, -1, -1))
        torch.testing.assert_close(rel, by_source, atol=1e-5, rtol=0)
        # frame t is decoded from t_src + (t_d(t) - t_d(0)), against the source's features
        g = model.generator
        token = g.tokens(src) + g.tokens(drv[:, 2]) - g.tokens(drv[:, 0])
        expected = g.decode(token, g.encode_reference(src)).clamp(0, 1)
        torch.testing.assert_close(model.animate(src, drv, mode="relative")[:, 2], expected, atol=1e-5, rtol=0)


def test_training_losses_and_a_few_steps_reduce_them():
    model = tiny().train()
    cfg = dict(load_conf_yaml("loss/imf.yaml"), perceptual_kind="pixel")
    batch = {"source": images(2), "driving": images(2, seed=3)}
    losses, generated = model.generator_losses(batch, cfg)
    assert set(losses) == {"l1", "perceptual", "gen_gan"}
    assert generated["prediction"].shape == batch["driving"].shape
    logits = model.discriminator_logits(batch["driving"], batch, generated)
    assert [tuple(x.shape) for x in logits] == [(2, 1, 10, 10), (2, 1, 2, 2)]  # scales 1 and ½
    model.discriminator.eval()  # spectral norm: no power iteration, so repeated calls agree
    d = model.discriminator_losses(batch, {k: v.detach() for k, v in generated.items()}, cfg)
    # hinge: relu(1 - D(real)) + relu(1 + D(fake)), summed over the two scales
    real = model.discriminator_logits(batch["driving"], batch, generated)
    fake = model.discriminator_logits(generated["prediction"].detach(), batch, generated)
    expected = sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake))
    torch.testing.assert_close(d["disc_gan"], expected)
    model.discriminator.train()
    cfg_rec = dict(cfg, generator_gan=0)
    opt = torch.optim.Adam(model.generator_parameters(), lr=5e-4, betas=(0.5, 0.999))
    first = None
    for _ in range(6):
        losses, _ = model.generator_losses(batch, cfg_rec)
        total = sum(losses.values())
        first = float(total.detach()) if first is None else first
        opt.zero_grad()
        total.backward()
        opt.step()
    with torch.no_grad():
        assert float(sum(model.generator_losses(batch, cfg_rec)[0].values())) < 0.9 * first
    assert model.discriminator_losses(batch, generated, cfg_rec) == {}


def test_input_and_config_errors():
    model = tiny().eval()
    with pytest.raises(ValueError, match=r"imf \(64×64\) got images of size \(32, 32\)"):
        model.animate(torch.rand(1, 3, 32, 32), torch.rand(1, 2, 3, 32, 32))
    with pytest.raises(ValueError, match="attention_scales"):
        tiny(attention_scales=[3])
    with pytest.raises(ValueError, match="num_heads"):
        tiny(num_heads=5)
    with pytest.raises(ValueError, match="token_encoder_channels needs 5 entries"):
        tiny(token_encoder_channels=[32, 64])
    with pytest.raises(ValueError, match="coarsest scale"):
        tiny(feature_channels=[16, 16, 16, 16, 16])
    with pytest.raises(ValueError, match="power of two"):
        tiny(size=48)
    no_d = tiny(discriminator_params=None).train()
    with pytest.raises(ValueError, match="needs a discriminator"):
        no_d.generator_losses({"source": images(1), "driving": images(1)}, {"generator_gan": 1,
                                                                           "perceptual_kind": "pixel"})


def test_registered_with_alias():
    assert "imf" in motionbench.list_animators()
    assert isinstance(motionbench.create_animator("implicit_motion_function", preset="tiny"), IMFAnimator)
