"""End-to-end CLI: the default benchmark, multirun, plugins, animate, listings and bad input."""
import csv
import json

import imageio.v2 as imageio
import numpy as np
import pytest

from plugins import install_plugin, plugin_env, run_cli

SMALL = ["benchmark.max_videos=2", "benchmark.max_frames=6", "benchmark.progress=false"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_default_benchmark_writes_record_and_leaderboard(tmp_path):
    r = run_cli([*SMALL, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "same-identity" in r.stdout and "cross-identity" in r.stdout and "| l1 |" in r.stdout
    assert "## leaderboard" in r.stdout and "| method | checkpoint | l1 ↓ |" in r.stdout  # the leaderboard so far
    rec = json.loads((tmp_path / "run" / "results.json").read_text())
    # the default is LIA with its committed trained synthetic checkpoint
    assert rec["method"] == "lia" and rec["dataset"]["name"] == "synthetic"
    assert rec["checkpoint"]["tag"] == "lia-synthetic64.pt" and len(rec["checkpoint"]["sha256"]) == 64
    for protocol in ("same_identity", "cross_identity"):
        for metric in ("l1", "psnr", "ssim", "akd", "mkr", "aed"):
            res = rec["results"][protocol][metric]
            assert set(res) >= {"value", "higher_is_better", "n"}
            # akd counts frames with markers found in both images: none when every marker is missed (mkr 1)
            assert res["n"] > 0 or (metric == "akd" and res["value"] is None and rec["results"][protocol]["mkr"]["value"] == 1)
    for key in ("protocol_version", "config", "seeds", "provenance", "wall_time_s", "animate_frames_per_s", "metric_settings"):
        assert key in rec
    assert {"git", "torch", "device", "date", "motionbench_version"} <= set(rec["provenance"])
    assert (tmp_path / "run" / "per_video.csv").exists() and (tmp_path / "run" / ".hydra" / "config.yaml").exists()
    rows = _rows(tmp_path / "leaderboard.csv")
    assert [r["protocol"] for r in rows] == ["same_identity", "cross_identity"]
    assert list(rows[0])[:4] == ["method", "checkpoint", "dataset", "protocol"]
    assert rows[0]["method"] == "lia" and float(rows[0]["l1"]) == pytest.approx(
        rec["results"]["same_identity"]["l1"]["value"], rel=1e-5)


def test_multirun_seeds_each_add_rows_and_same_seed_is_identical(tmp_path):
    r = run_cli(["-m", "method=identity", "dataset=synthetic", "benchmark.seed=0,1,0", *SMALL,
                 f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(list((tmp_path / "sweep").glob("*/results.json"))) == 3
    rows = _rows(tmp_path / "leaderboard.csv")
    assert len(rows) == 6 and len({r["selection"] for r in rows}) == 2  # the seed is part of the frame selection
    seed0 = [r for r in rows if r["seed"] == "0" and r["protocol"] == "cross_identity"]
    metrics = ["l1", "psnr", "ssim", "akd", "mkr", "aed"]
    assert [seed0[0][m] for m in metrics] == [seed0[1][m] for m in metrics]


def test_third_party_plugin_is_listed_and_benchmarked(tmp_path):
    root = install_plugin(tmp_path / "site")
    env = plugin_env(root)
    r = run_cli(["list", "methods"], cwd=tmp_path, env=env)
    assert r.returncode == 0 and "blendnet" in r.stdout
    r = run_cli(["method=blendnet", *SMALL, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = _rows(tmp_path / "leaderboard.csv")
    assert {r["method"] for r in rows} == {"blendnet"} and len(rows) == 2


def test_animate_task_writes_video_and_grid(tmp_path):
    rng = np.random.default_rng(0)
    imageio.imwrite(tmp_path / "src.png", (rng.random((40, 48, 3)) * 255).astype(np.uint8))
    frames = [(rng.random((48, 48, 3)) * 255).astype(np.uint8) for _ in range(5)]
    imageio.mimwrite(tmp_path / "drv.mp4", frames, fps=10, macro_block_size=1)
    out = tmp_path / "out" / "anim.mp4"
    r = run_cli(["task=animate", f"animate.source={tmp_path / 'src.png'}", f"animate.driving={tmp_path / 'drv.mp4'}",
                 f"animate.output={out}", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(imageio.mimread(out)) == 5
    grid = imageio.imread(out.with_name("anim_grid.png"))
    assert grid.shape[1] > 3 * 64  # three columns: source | driving | result


def test_list_and_weights_commands(tmp_path):
    r = run_cli(["list"], cwd=tmp_path)
    assert r.returncode == 0
    for word in ("identity", "fomm", "lia", "synthetic", "taichi", "l1", "lpips", "markers"):
        assert word in r.stdout
    r = run_cli(["weights"], cwd=tmp_path)
    assert r.returncode == 0 and "vgg19-dcbb9e9d.pth" in r.stdout and "pt_inception" in r.stdout


@pytest.mark.parametrize("args,message", [
    (["method=lai"], "unknown method 'lai'; did you mean 'lia'"),
    (["dataset=taichii"], "unknown dataset 'taichii'; did you mean 'taichi'"),
    (["benchmark.seed=abc"], "benchmark.seed"),
    (["dataset.resolution=big"], "dataset.resolution"),
    (["dataset=folder", "dataset.root=/nonexistent/videos"], "/nonexistent/videos"),
])
def test_bad_input_one_clear_error_and_no_row(tmp_path, args, message):
    r = run_cli([*args, *SMALL, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "leaderboard.csv").exists()
