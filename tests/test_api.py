"""The public door: eval mode by default, animate() never changes state, and it takes what users hold."""
import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from PIL import Image

import motionbench
from motionbench.registries import ANIMATORS

from helpers.methods import clip, tiny

METHODS = motionbench.list_animators()


# ---------------------------------------------------------------------------------------- inference
@pytest.mark.parametrize("name", METHODS)
def test_create_and_load_give_eval_mode(name, tmp_path):
    model = tiny(name)
    assert not any(m.training for m in model.modules())
    path = model.save_checkpoint(tmp_path / "m.pt")
    loaded = motionbench.create_animator(name, checkpoint=str(path))
    assert not any(m.training for m in loaded.modules())


@pytest.mark.parametrize("name", METHODS)
def test_animate_is_repeatable_and_leaves_state_alone(name):
    """Even on a model left in training mode: same output twice, every buffer and every training flag kept."""
    model = tiny(name).train()
    flags = {n: m.training for n, m in model.named_modules()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    src, drv = clip(1, 2)
    a = model.animate(src, drv)
    b = model.animate(src, drv)
    assert torch.equal(a, b)
    assert {n: m.training for n, m in model.named_modules()} == flags
    for n, buf in model.named_buffers():
        assert torch.equal(buf, buffers[n]), f"buffer {n} changed"
    model.eval()
    assert torch.equal(model.animate(src, drv), a)  # the output of eval mode, not of batch statistics


def test_batchnorm_statistics_are_really_at_stake():
    """The check above can fail: a training-mode forward of FOMM changes BatchNorm running stats."""
    model = tiny("fomm").train()
    before = {n: b.clone() for n, b in model.named_buffers() if "running_mean" in n}
    assert before
    src, _ = clip(1, 2)
    with torch.no_grad():
        model.kp_detector(src)
    assert any(not torch.equal(b, before[n]) for n, b in model.named_buffers() if n in before)


def test_trainer_switches_to_train_mode(tmp_path):
    from motionbench.train.trainer import Trainer

    model = tiny("fomm")
    assert not model.training
    trainer = Trainer(model, {"perceptual_kind": "pixel", "generator_gan": 0}, {"max_steps": 1}, {}, tmp_path,
                      torch.device("cpu"))
    src, drv = clip(b=2, t=1)
    trainer.train_step({"source": src, "driving": drv[:, 0]})
    assert model.training


# ---------------------------------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def fomm():
    return tiny("fomm")


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    src = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    frames = (rng.random((3, 64, 64, 3)) * 255).astype(np.uint8)
    imageio.imwrite(tmp_path / "src.png", src)
    (tmp_path / "frames").mkdir()
    for i, f in enumerate(frames):
        imageio.imwrite(tmp_path / "frames" / f"{i:03d}.png", f)
    return tmp_path, src, frames


def test_every_input_kind_gives_the_same_result(fomm, files):
    folder, src, frames = files
    ref = fomm.animate(torch.from_numpy(src).permute(2, 0, 1)[None].float() / 255,
                       torch.from_numpy(frames).permute(0, 3, 1, 2)[None].float() / 255)
    assert ref.shape == (1, 3, 3, 64, 64)
    variants = [
        (src, frames),                                                       # uint8 arrays
        (torch.from_numpy(src), torch.from_numpy(frames)),                   # uint8 tensors, channels last
        (torch.from_numpy(src).permute(2, 0, 1), torch.from_numpy(frames).permute(0, 3, 1, 2)),  # torchvision layout
        (Image.fromarray(src), [Image.fromarray(f) for f in frames]),        # PIL
        (str(folder / "src.png"), str(folder / "frames")),                   # files: image + frame folder
        (folder / "src.png", frames.astype(np.float32) / 255),               # pathlib.Path + float array
    ]
    for source, driving in variants:
        out = fomm.animate(source, driving)
        assert out.shape == (3, 3, 64, 64)  # unbatched inputs -> T×3×H×W
        torch.testing.assert_close(out, ref[0], atol=1e-5, rtol=0)
    single = fomm.animate(src, frames[0])
    assert single.shape == (3, 64, 64)
    torch.testing.assert_close(single, ref[0, 0], atol=1e-5, rtol=0)
    state = fomm.encode_source(str(folder / "src.png"))  # encode_source takes the same inputs
    torch.testing.assert_close(fomm.animate(src, frames, source_state=state), ref[0], atol=1e-5, rtol=0)


def test_media_are_resized_to_the_working_resolution(fomm, tmp_path):
    rng = np.random.default_rng(1)
    big = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    video = [(rng.random((80, 80, 3)) * 255).astype(np.uint8) for _ in range(4)]
    imageio.mimwrite(tmp_path / "d.mp4", video, fps=10, macro_block_size=1)
    assert fomm.animate(big, str(tmp_path / "d.mp4"), size=64).shape == (4, 3, 64, 64)
    src, _ = clip(1, 2)
    assert fomm.animate(src, str(tmp_path / "d.mp4")).shape == (1, 4, 3, 64, 64)  # media follow a tensor's size


@pytest.mark.parametrize("source,driving,message", [
    (torch.rand(1, 3, 64, 64) * 255, torch.rand(1, 2, 3, 64, 64), "0-255"),
    (torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 2, 3, 64, 64), "[-1, 1]"),
    (torch.full((1, 3, 64, 64), float("nan")), torch.rand(1, 2, 3, 64, 64), "NaN"),
    (torch.rand(1, 3, 64, 64), torch.full((1, 2, 3, 64, 64), float("inf")), "NaN or Inf"),
    (np.random.rand(64, 64, 3) * 255, np.zeros((2, 64, 64, 3), np.uint8), "0-255"),
    (np.zeros((64, 64, 3), np.int32), np.zeros((2, 64, 64, 3), np.uint8), "dtype int32"),
    (np.zeros((64, 64), np.uint8), np.zeros((2, 64, 64, 3), np.uint8), "H×W×3"),
    (torch.zeros(1, 3, 64, 64, dtype=torch.int64), torch.rand(1, 2, 3, 64, 64), "dtype torch.int64"),
    ({"image": 1}, torch.rand(1, 2, 3, 64, 64), "cannot use a dict"),
    ("/nonexistent/face.png", torch.rand(1, 2, 3, 64, 64), "does not exist"),
    (torch.rand(2, 3, 64, 64), torch.rand(1, 2, 3, 64, 64), "source batch 2 != driving batch 1"),
    (torch.rand(1, 3, 64, 64), torch.rand(1, 2, 3, 32, 32), "source size"),
    (torch.rand(1, 4, 64, 64), torch.rand(1, 2, 3, 64, 64), "source must be B×3×H×W"),
    (torch.rand(1, 3, 64, 64), torch.rand(1, 2, 1, 64, 64), "RGB"),
])
def test_bad_inputs_raise_value_error_saying_what_was_expected(fomm, source, driving, message):
    with pytest.raises(ValueError) as err:
        fomm.animate(source, driving)
    assert message in str(err.value)


def test_helpers_load_save_round_trip(tmp_path, files):
    folder, src, frames = files
    img = motionbench.load_image(folder / "src.png")
    assert img.shape == (3, 64, 64) and img.dtype == torch.float32
    torch.testing.assert_close(img, torch.from_numpy(src).permute(2, 0, 1).float() / 255)
    assert motionbench.load_image(folder / "src.png", size=32).shape == (3, 32, 32)
    video = motionbench.load_video(folder / "frames")
    assert video.shape == (3, 3, 64, 64)
    # streaming: a generator of chunks is written as it comes (smooth frames: the codec is lossy)
    ramp = torch.linspace(0, 1, 64)
    smooth = torch.stack([torch.stack([ramp[None].expand(64, 64) * (k + 1) / 4, ramp[:, None].expand(64, 64),
                                       torch.full((64, 64), 0.5)]) for k in range(4)])
    out = motionbench.save_video((smooth[i:i + 2] for i in range(0, 4, 2)), tmp_path / "o.mp4", fps=5)
    back = motionbench.load_video(out)
    assert back.shape == smooth.shape and (back - smooth).abs().mean() < 0.02
    gif = motionbench.save_video(frames, tmp_path / "o.gif")
    assert motionbench.load_video(gif).shape == (3, 3, 64, 64)
    with pytest.raises(ValueError, match="no frames"):
        motionbench.save_video([], tmp_path / "empty.mp4")
    assert not (tmp_path / "empty.mp4").exists()


# ---------------------------------------------------------------------------------------- precision
class FullPrecisionOnly(motionbench.Animator):
    name = "fp32only"
    capabilities = motionbench.Capabilities(trainable=False)

    def encode_source(self, source):
        return {"source": source}

    def animate_state(self, state, driving, *, mode, driving_ref):
        return state["source"].unsqueeze(1).expand_as(driving).clone()


def test_half_precision_is_refused_clearly_where_unsupported():
    src, drv = clip(1, 2)
    with pytest.raises(ValueError, match="does not support half precision"):
        FullPrecisionOnly().animate(src, drv, dtype=torch.bfloat16)
    half_capable = [m for m in METHODS if ANIMATORS.get(m).capabilities.half_precision]
    assert half_capable
    model = tiny(half_capable[0])
    with pytest.raises(ValueError, match="float16 inference needs a GPU"):
        model.animate(src, drv, dtype=torch.float16)
    with pytest.raises(ValueError, match="precision must be one of"):
        model.animate(src, drv, dtype="fp8")


@pytest.mark.parametrize("name", [m for m in METHODS if ANIMATORS.get(m).capabilities.half_precision])
def test_bf16_on_cpu_is_close_to_fp32(name):
    model = tiny(name)
    src, drv = clip(1, 2)
    ref = model.animate(src, drv)
    out = model.animate(src, drv, dtype=torch.bfloat16)
    assert out.dtype == torch.float32 and out.shape == ref.shape
    assert (out - ref).abs().mean() < 0.05
    if any(True for _ in model.parameters()):  # floors (identity, copy_driving) compute nothing: exact in bf16
        assert not torch.equal(out, ref)  # autocast really ran
    with model.precision("bf16"):
        assert torch.equal(model.animate(src, drv), out)
    assert torch.equal(model.animate(src, drv), ref)


# ---------------------------------------------------------------------------------------- training records
def test_checkpoints_record_what_they_were_trained_on_and_losses_show_from_step_one(tmp_path, monkeypatch):
    from motionbench.train import trainer as trainer_module
    from motionbench.train.trainer import Trainer

    logged = []

    class Recorder:
        def __init__(self, folder):
            pass

        def log(self, step, values):
            logged.append(step)

        def close(self):
            pass

    monkeypatch.setattr(trainer_module, "ScalarLogger", Recorder)
    model = tiny("fomm")
    model.trained_on = {"dataset": "synthetic", "resolution": 64}  # what run_train_task sets
    trainer = Trainer(model, {"perceptual_kind": "pixel", "generator_gan": 0}, {"max_steps": 2, "log_every": 50,
                      "checkpoint_every": 1}, {}, tmp_path, torch.device("cpu"))
    src, drv = clip(b=2, t=1)
    trainer.fit([{"source": src, "driving": drv[:, 0]}] * 2, 2, progress=False)
    assert logged == [1, 2]  # the first step is logged (and shown on the bar) although log_every=50
    step = torch.load(tmp_path / "checkpoints" / "step-00000002.pt", weights_only=True)
    assert step["trained_on"] == {"dataset": "synthetic", "resolution": 64}
    final = model.save_checkpoint(tmp_path / "final.pt", inference_only=True)
    loaded = motionbench.create_animator("fomm", checkpoint=str(final))
    assert loaded.trained_on == {"dataset": "synthetic", "resolution": 64} and loaded.resolution == 64
