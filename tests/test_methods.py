"""Every registered method through the same contract checks (tiny presets, 64×64, random init, CPU)."""
import pytest
import torch

import motionbench
from motionbench.registries import ANIMATORS

from helpers.methods import clip, loss_cfg
from helpers.methods import tiny as build

METHODS = [m for m in motionbench.list_animators()]


def train_cfg(name):
    """The loss config with the adversarial path on wherever the method has one."""
    cfg = loss_cfg(name)
    return {**cfg, "generator_gan": 1.0} if "generator_gan" in cfg else cfg


@pytest.mark.parametrize("name", METHODS)
def test_animate_contract(name):
    model = build(name).eval()
    src, drv = clip()
    with torch.inference_mode():
        modes = ["absolute"] + (["relative"] if model.capabilities.relative else []) + (["avd"] if model.capabilities.avd else [])
        for mode in modes:
            out = model.animate(src, drv, mode=mode)
            assert out.shape == drv.shape, (mode, out.shape)
            assert torch.isfinite(out).all()
            assert out.min() >= 0 and out.max() <= 1
            # encode once + chunks == one call (what the runner does for long videos)
            state = model.encode_source(src)
            chunks = [model.animate(src, drv[:, i:i + 1], mode=mode, driving_ref=drv[:, 0], source_state=state)
                      for i in range(drv.shape[1])]
            torch.testing.assert_close(torch.cat(chunks, 1), out, atol=1e-4, rtol=0)  # batching changes float sums


@pytest.mark.parametrize("name", [m for m in METHODS if ANIMATORS.get(m).capabilities.trainable])
def test_gradients_reach_every_parameter(name):
    model = build(name).train()
    src, drv = clip(t=1)
    batch = {"source": src, "driving": drv[:, 0], "other": clip(seed=1)[0]}
    cfg = train_cfg(name)
    losses, generated = model.generator_losses(batch, cfg)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    disc = model.discriminator_module()
    d_ids = {id(p) for p in disc.parameters()} if disc is not None else set()
    missing = [n for n, p in model.named_parameters() if id(p) not in d_ids and p.requires_grad and p.grad is None
               and not n.startswith(tuple(model.unused_parameters))]
    assert not missing, f"generator parameters without gradient: {missing[:10]}"
    if model.capabilities.adversarial:
        model.zero_grad(set_to_none=True)
        d_losses = model.discriminator_losses(batch, {k: v.detach() for k, v in generated.items()}, cfg)
        sum(d_losses.values()).backward()
        missing = [n for n, p in disc.named_parameters() if p.requires_grad and p.grad is None]
        assert not missing, f"discriminator parameters without gradient: {missing[:10]}"


@pytest.mark.parametrize("name", METHODS)
def test_checkpoint_round_trip(name, tmp_path):
    model = build(name).eval()
    with torch.no_grad():  # make every parameter and buffer non-default
        for t in list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]:
            t.add_(0.01 * torch.randn_like(t))
    path = model.save_checkpoint(tmp_path / f"{name}.pt")
    loaded = motionbench.create_animator(name, checkpoint=str(path)).eval()
    sd_a, sd_b = model.state_dict(), loaded.state_dict()
    assert sd_a.keys() == sd_b.keys()
    for k in sd_a:
        assert torch.equal(sd_a[k], sd_b[k]), k
    src, drv = clip(t=2)
    with torch.inference_mode():
        torch.testing.assert_close(model.animate(src, drv), loaded.animate(src, drv), atol=0, rtol=0)


@pytest.mark.parametrize("name", METHODS)
def test_config_is_every_constructor_argument(name):
    """The config a checkpoint stores is captured from the constructor: every argument, defaults applied,
    as plain data, and it rebuilds the same architecture."""
    import inspect

    model = build(name)
    cls = type(model)
    init = inspect.unwrap(cls.__init__)
    params = [p for p in list(inspect.signature(init).parameters.values())[1:] if p.kind is not p.VAR_KEYWORD]
    if params:
        assert [p.name for p in params] == list(model.config)[:len(params)]
    assert not any(isinstance(v, tuple) for v in model.config.values())
    rebuilt = cls(**model.config)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    assert rebuilt.config == model.config
    assert model.capabilities.adversarial == isinstance(model, motionbench.Adversarial)


BUILT_IN = [m for m in METHODS if ANIMATORS.get(m).__module__.startswith("motionbench.methods.")]


@pytest.mark.parametrize("name", [m for m in BUILT_IN if ANIMATORS.get(m).capabilities.trainable])
def test_a_built_in_method_keeps_its_training_objective_in_losses_py(name):
    """One place per method: the animator's training hooks call its ``losses`` module."""
    import importlib
    import inspect

    cls = ANIMATORS.get(name)
    losses = importlib.import_module(cls.__module__.rpartition(".")[0] + ".losses")
    hooks = ["generator_losses", "reconstruction_losses", "discriminator_logits"]
    for hook in [h for h in hooks if h in vars(cls)]:
        assert "_losses." in inspect.getsource(vars(cls)[hook]), (name, hook)
    assert losses.__doc__


#: the config setting that builds each adversarial method without its discriminator
NO_DISCRIMINATOR = {"use_discriminator: true": {"use_discriminator": False},
                    "discriminator_params": {"discriminator_params": None}}


@pytest.mark.parametrize("name", [m for m in BUILT_IN if ANIMATORS.get(m).capabilities.adversarial])
def test_one_error_for_a_model_without_its_discriminator(name):
    cls = ANIMATORS.get(name)
    model = cls.build("tiny", **NO_DISCRIMINATOR[cls.discriminator_option]).train()
    assert model.discriminator_module() is None
    src, drv = clip(t=1)
    with pytest.raises(ValueError, match=f"method '{name}': discriminator_logits needs a discriminator, but this "
                                         f"model was built without one; set loss.generator_gan=0 or build it with"):
        model.discriminator_logits(src, {"source": src, "driving": drv[:, 0]}, {})
    with pytest.raises(ValueError, match="loss.generator_gan=1 needs a discriminator"):
        model.generator_losses({"source": src, "driving": drv[:, 0], "other": clip(seed=1)[0]}, train_cfg(name))


def test_adversarial_capability_needs_the_mixin():
    with pytest.raises(TypeError, match="does not inherit motionbench.core.adversarial.Adversarial"):
        class NoMixin(motionbench.Animator):  # noqa: F841
            capabilities = motionbench.Capabilities(adversarial=True)


ADVERSARIAL = [m for m in METHODS if ANIMATORS.get(m).capabilities.adversarial]


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_trainer_gan_defaults_and_gradient_penalty(name, tmp_path):
    """A loss config without the GAN keys trains with the method's own defaults on both sides; the gradient
    penalty runs on the method's discriminator inputs."""
    from motionbench.train.trainer import Trainer

    src, drv = clip(t=1)
    batch = {"source": src, "driving": drv[:, 0], "other": clip(seed=1)[0]}
    bare = {k: v for k, v in train_cfg(name).items() if k not in ("generator_gan", "discriminator_gan", "gan_kind")}
    model = build(name).train()
    trainer = Trainer(model, bare, {"max_steps": 2}, {}, tmp_path / "bare", torch.device("cpu"))
    assert trainer.adversarial == (float(model.gan_defaults["generator_gan"]) > 0)
    logs = trainer.train_step(batch)
    assert ("d/disc_gan" in logs) == trainer.adversarial and ("g/gen_gan" in logs) == trainer.adversarial
    gp = dict(train_cfg(name), gradient_penalty={"type": "wgan-gp", "weight": 1.0})
    trainer = Trainer(build(name).train(), gp, {"max_steps": 2}, {}, tmp_path / "gp", torch.device("cpu"))
    logs = trainer.train_step(batch)
    assert "d/gradient_penalty" in logs and all(torch.isfinite(torch.tensor(v)) for v in logs.values())


def test_leaderboard_tag_of_a_trainer_export_names_its_run(tmp_path):
    from motionbench.hub.build import build_model

    path = build("fomm").save_checkpoint(tmp_path / "fomm-e1-synthetic64" / "final.pt")
    _, info = build_model({"name": "fomm", "checkpoint": str(path)}, "synthetic", 64)
    assert info["tag"] == "fomm-e1-synthetic64/final.pt"
    other = build("fomm").save_checkpoint(tmp_path / "mine.pt")
    assert build_model({"name": "fomm", "checkpoint": str(other)}, "synthetic", 64)[1]["tag"] == "mine.pt"


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_inference_only_checkpoint_drops_the_discriminator(name, tmp_path):
    from motionbench.train.optim import apply_spectral_norm

    model = build(name).eval()
    apply_spectral_norm(model.discriminator_module())  # trained with loss.spectral_norm: D keys differ from a fresh model's
    prefix = model._discriminator_prefix()
    path = model.save_checkpoint(tmp_path / "inf.pt", inference_only=True)
    state = torch.load(path, weights_only=True)["model"]
    assert prefix and state and not any(k.startswith(prefix) for k in state)
    loaded = motionbench.create_animator(name, checkpoint=str(path)).eval()
    src, drv = clip(t=2)
    with torch.inference_mode():
        torch.testing.assert_close(model.animate(src, drv), loaded.animate(src, drv), atol=0, rtol=0)


def test_half_checkpoint_is_smaller_and_loads_as_float32(tmp_path):
    model = build("lwgan").eval()
    full = model.save_checkpoint(tmp_path / "full.pt", inference_only=True)
    half = model.save_checkpoint(tmp_path / "half.pt", inference_only=True, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = motionbench.create_animator("lwgan", checkpoint=str(half)).eval()
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    src, drv = clip(t=2)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.animate(src, drv), model.animate(src, drv), atol=2e-2, rtol=0)
