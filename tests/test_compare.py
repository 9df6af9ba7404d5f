"""task=compare (video, grid, gallery page), benchmark.save_samples / precision, task=animate's resolution and domain warning, CLI manners."""
import json

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

import motionbench
from motionbench.cli.tasks.compare import caption_bar, side_by_side, with_caption
from helpers.cli import cli, cli_error, run_cli, write_clip


@pytest.fixture
def real_clip(tmp_path):
    """A 'real' (non-puppet) source image and a 5-frame driving video of other sizes than 64."""
    return write_clip(tmp_path, source_hw=(80, 96), frame_size=72, frames=5)


def test_caption_layout_is_labelled_and_even():
    bar = caption_bar(["source", "a-very-long-checkpoint-name-that-does-not-fit.pt"], 64)
    assert bar.shape[1] == 128 and bar.shape[0] % 2 == 0 and bar.dtype == np.uint8
    assert (bar < 128).any()  # some dark caption pixels
    assert (bar[:, 62:66] == 255).all()  # the cut label stays inside its own column
    cols = [torch.zeros(2, 3, 32, 32), torch.ones(2, 3, 64, 64)]
    frames = with_caption(side_by_side(cols, 64), caption_bar(["a", "b"], 64))
    assert frames.shape[0] == 2 and frames.shape[2:] == (128, 3)
    assert (frames[:, -64:, :64] == 0).all() and (frames[:, -64:, 64:] == 255).all()


@pytest.mark.slow
def test_compare_task_writes_labelled_video_and_grid(tmp_path, real_clip):
    src, drv = real_clip
    out = tmp_path / "cmp" / "c.mp4"
    r = run_cli(["task=compare", "methods=[fomm,identity]", f"animate.source={src}", f"animate.driving={drv}",
                 f"compare.output={out}", "compare.grid_rows=2", f"compare.gallery={tmp_path / 'g.html'}",
                 f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    video = imageio.mimread(out)
    assert len(video) == 5
    h, w, _ = video[0].shape
    assert w == 4 * 128 and h > 128  # source | driving | fomm | identity, 128-px columns under a caption band
    grid = imageio.imread(out.with_name("c_grid.png"))
    assert grid.shape[1] == 4 * 128 and grid.shape[0] > 2 * 128
    assert "SYNTHETIC PUPPETS" in r.stdout + r.stderr  # fomm's committed checkpoint on a real image: warned
    assert "compare" in r.stderr and "5/5" in r.stderr  # the progress bar
    page = (tmp_path / "g.html").read_text()  # the same columns as a synchronized gallery, videos embedded
    assert page.count("<video data-media=") == 3 and page.count("data:video/mp4;base64,") == 3
    assert "<th>fomm</th><th>identity</th>" in page and 'class="play"' in page
    for name in ("1-driving", "2-fomm", "3-identity"):
        assert len(imageio.mimread(tmp_path / "run" / "gallery" / f"{name}.mp4")) == 5


def test_compare_needs_methods_and_leaves_no_folder(tmp_path, real_clip, monkeypatch, capsys):
    src, drv = real_clip
    line = cli_error(["task=compare", f"animate.source={src}", f"animate.driving={drv}"], tmp_path, monkeypatch, capsys)
    assert "methods=[m1,m2,...]" in line
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_animate_runs_at_the_checkpoint_resolution_and_warns(tmp_path, real_clip):
    src, drv = real_clip
    out = tmp_path / "a.mp4"
    r = run_cli(["task=animate", "method=fomm", f"animate.source={src}", f"animate.driving={drv}",
                 f"animate.output={out}", "animate.resolution=48", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert imageio.mimread(out)[0].shape[:2] == (48, 48)  # told otherwise: runs at 48, and says so
    assert "running at 48×48 although its checkpoint was trained at 64×64" in r.stdout
    r = run_cli(["task=animate", f"animate.source={src}", f"animate.driving={drv}", f"animate.output={out}",
                 f"hydra.run.dir={tmp_path / 'run2'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert imageio.mimread(out)[0].shape[:2] == (64, 64)  # the checkpoint's 64, whatever the inputs' sizes
    assert "SYNTHETIC PUPPETS" in r.stdout and "official:vox" in r.stdout  # Hydra logs to stdout
    assert "animate lia" in r.stderr and "frame" in r.stderr  # tqdm progress


def test_domain_check_tells_puppets_from_photos():
    from motionbench.cli.tasks.animate import looks_like_puppet
    from motionbench.data.synthetic import SyntheticDataset

    ds = SyntheticDataset(resolution=64)
    video = ds.videos("test")[0]
    assert looks_like_puppet(ds.read_frames(video, [0])[0])
    assert not looks_like_puppet(torch.rand(3, 64, 64))


@pytest.mark.slow
def test_benchmark_precision_and_samples(tmp_path):
    r = run_cli(["method=fomm", "benchmark.max_videos=2", "benchmark.max_frames=4", "benchmark.progress=false",
                 "benchmark.protocols=[same_identity]", "benchmark.precision=bf16", "benchmark.save_samples=1",
                 "device=cpu", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    rec = json.loads((tmp_path / "run" / "results.json").read_text())
    assert rec["benchmark"]["precision"] == "bf16" and rec["checkpoint"]["tag"] == "fomm-synthetic64.pt@bf16"
    index = json.loads((tmp_path / "run" / "samples" / "index.json").read_text())
    assert [s["key"] for s in index["samples"]] == ["same_identity"]  # one per protocol run
    output = tmp_path / "run" / "samples" / index["samples"][0]["files"]["output"]
    assert len(imageio.mimread(output)) == 4 and str(output) in rec["samples"]
    r = run_cli(["method=fomm", "benchmark.precision=fp16", "device=cpu", f"hydra.run.dir={tmp_path / 'run16'}"],
                cwd=tmp_path)
    assert r.returncode == 2 and "float16 inference needs a GPU" in r.stderr
    assert not (tmp_path / "run16").exists()


# ---------------------------------------------------------------------------------------- CLI manners
def test_help_starts_with_usage_then_config_help(tmp_path, monkeypatch, capsys):
    code, out, _ = cli(["--help"], tmp_path, monkeypatch, capsys)
    assert code == 0
    head = out[:2500]
    for word in ("usage:", "benchmark", "animate", "train", "compare", "list", "weights", "leaderboard",
                 "method.checkpoint=", "official:vox"):
        assert word in head, word
    assert out.index("usage:") < out.index("== Configuration groups ==")
    # every registered method, from the registry; the dataset group lists datasets, not the typed schemas
    methods = next(line.strip() for line in out.splitlines() if line.strip().startswith("method="))
    assert methods == "method=" + "|".join(motionbench.list_animators())
    groups = out.split("== Configuration groups ==")[1].split("== Config ==")[0]
    assert "dataset: folder, mgif, synthetic, taichi, ted, vox\n" in groups and "schema" not in groups
    assert not any(tmp_path.iterdir())


def test_version_is_motionbench_s(tmp_path, monkeypatch, capsys):
    code, out, _ = cli(["--version"], tmp_path, monkeypatch, capsys)
    assert code == 0 and out.strip() == f"motionbench {motionbench.__version__}"


@pytest.mark.parametrize("args", [["list"], ["weights"], ["task=list"], ["task=weights"], ["benchmark.seed=abc"],
                                  ["method=lai"], ["task=animate"]])
def test_no_output_folder_for_listings_and_failures(tmp_path, args, monkeypatch, capsys):
    code, out, _ = cli(args, tmp_path, monkeypatch, capsys)
    assert code == (0 if args[0] in ("list", "weights", "task=list", "task=weights") else 2)
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())
    if args == ["task=weights"]:
        assert "official:vox" in out and "vox-cpk.pth.tar" in out
