"""End-to-end CLI: the default benchmark, multirun, plugins, animate, listings and bad input."""
import csv
import json

import imageio.v2 as imageio
import pytest

from helpers.cli import cli, cli_error, install_plugin, plugin_env, run_cli, write_clip

SMALL = ["benchmark.max_videos=2", "benchmark.max_frames=6", "benchmark.progress=false"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
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
        for metric in ("l1", "psnr", "ssim", "fg_l1", "fg_psnr", "akd", "mkr", "aed", "tof"):
            res = rec["results"][protocol][metric]
            assert set(res) >= {"value", "higher_is_better", "n", "ci_low", "ci_high", "n_boot"}
            # every scored frame (frame 0 is the trivial one) has a value: AKD is defined on the trained model
            assert res["n"] == res["n_videos"] * 5 and res["n_undefined_frames"] == 0, (protocol, metric, res)
            assert res["n_videos"] == rec["protocols"][protocol]["frames"] // 6
            assert res["ci_low"] <= res["value"] <= res["ci_high"], (protocol, metric, res)
        # the learned detector finds the trained model's joints: MKR is a measurement, not 'everything missing'
        assert rec["results"][protocol]["mkr"]["value"] < 0.5, rec["results"][protocol]["mkr"]
    akd = rec["metric_settings"]["akd"]
    assert akd["extractor"] == "puppet_pose" and len(akd["extractor_settings"]["sha256"]) == 64
    assert akd["extractor_settings"]["accuracy"]["markers/sigma=0"]["akd"] <= 0.7
    for key in ("protocol_version", "config", "seeds", "provenance", "wall_time_s", "animate_frames_per_s", "metric_settings"):
        assert key in rec
    assert {"git", "torch", "device", "date", "motionbench_version"} <= set(rec["provenance"])
    assert (tmp_path / "run" / "per_video.csv").exists() and (tmp_path / "run" / ".hydra" / "config.yaml").exists()
    rows = _rows(tmp_path / "leaderboard.csv")
    assert [r["protocol"] for r in rows] == ["same_identity", "cross_identity"]
    assert float(rows[0]["l1_ci_low"]) <= float(rows[0]["l1"]) <= float(rows[0]["l1_ci_high"])
    assert json.loads(rows[0]["metric_info"])["psnr"]["higher_is_better"] is True
    assert set(json.loads(rows[0]["per_video"])["l1"]) == {"test_0000#00", "test_0001#00"}
    assert list(rows[0])[:4] == ["method", "checkpoint", "dataset", "protocol"]
    assert rows[0]["method"] == "lia" and float(rows[0]["l1"]) == pytest.approx(
        rec["results"]["same_identity"]["l1"]["value"], rel=1e-5)


@pytest.mark.slow
def test_multirun_seeds_each_add_rows_and_same_seed_is_identical(tmp_path):
    # a method with random parameters (not only the parameter-free identity): same seed, same numbers. Its
    # output has no detectable joints, so AKD/AED would be undefined on every frame: an error (no blank cells)
    r = run_cli(["-m", "method=fomm", "method.checkpoint=null", "dataset=synthetic", "benchmark.seed=0,1,0", *SMALL,
                 "benchmark.metrics=[l1,psnr,ssim,fg_l1]", f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(list((tmp_path / "sweep").glob("*/results.json"))) == 3
    rows = _rows(tmp_path / "leaderboard.csv")
    assert len(rows) == 6 and len({r["selection"] for r in rows}) == 2  # the seed is part of the frame selection
    seed0 = [r for r in rows if r["seed"] == "0" and r["protocol"] == "cross_identity"]
    seed1 = [r for r in rows if r["seed"] == "1" and r["protocol"] == "cross_identity"]
    metrics = ["l1", "l1_ci_low", "l1_ci_high", "psnr", "ssim", "fg_l1"]
    assert [seed0[0][m] for m in metrics] == [seed0[1][m] for m in metrics]
    assert seed0[0]["per_video"] == seed0[1]["per_video"]
    assert seed0[0]["l1"] != seed1[0]["l1"]  # another seed: other initial weights and pairs


@pytest.mark.slow
def test_floors_scored_in_both_cross_modes(tmp_path):
    r = run_cli(["-m", "method=identity,copy_driving", *SMALL, f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = _rows(tmp_path / "leaderboard.csv")
    got = {(x["method"], x["protocol"], x["mode"]) for x in rows}
    for method in ("identity", "copy_driving"):
        assert {(method, "same_identity", "absolute"), (method, "cross_identity", "relative"),
                (method, "cross_identity", "absolute")} <= got
    by = {(x["method"], x["protocol"], x["mode"]): x for x in rows}
    # copy_driving is the driving frame itself: perfect pose on same identity
    assert float(by[("copy_driving", "same_identity", "absolute")]["l1"]) == 0.0
    # absolute cross identity: copy_driving has the ground-truth pose, identity the source pose
    assert float(by[("copy_driving", "cross_identity", "absolute")]["akd"]) < float(
        by[("identity", "cross_identity", "absolute")]["akd"])
    assert "(relative mode)" in r.stdout and "(absolute mode)" in r.stdout


@pytest.mark.slow
def test_third_party_plugin_is_listed_and_benchmarked(tmp_path):
    root = install_plugin(tmp_path / "site")
    env = plugin_env(root)
    r = run_cli(["list", "methods"], cwd=tmp_path, env=env)
    assert r.returncode == 0 and "blendnet" in r.stdout
    r = run_cli(["method=blendnet", *SMALL, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = _rows(tmp_path / "leaderboard.csv")
    assert {r["method"] for r in rows} == {"blendnet"} and len(rows) == 2


@pytest.mark.slow
def test_animate_task_writes_video_and_grid(tmp_path):
    src, drv = write_clip(tmp_path, source_hw=(40, 48), frame_size=48, frames=5)
    out = tmp_path / "out" / "anim.mp4"
    r = run_cli(["task=animate", f"animate.source={src}", f"animate.driving={drv}", f"animate.output={out}",
                 f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(imageio.mimread(out)) == 5
    grid = imageio.imread(out.with_name("anim_grid.png"))
    assert grid.shape[1] > 3 * 64  # three columns: source | driving | result


def test_list_and_weights_commands(tmp_path, monkeypatch, capsys):
    code, out, _ = cli(["list"], tmp_path, monkeypatch, capsys)
    assert code == 0
    for word in ("identity", "fomm", "lia", "tpsmm", "mraa", "synthetic", "taichi", "l1", "lpips", "markers"):
        assert word in out
    code, out, _ = cli(["weights"], tmp_path, monkeypatch, capsys)
    assert code == 0 and "vgg19-dcbb9e9d.pth" in out and "pt_inception" in out and "official:ted" in out


@pytest.mark.parametrize("args,message", [
    (["method=lai"], "unknown method 'lai'; did you mean 'lia'"),
    (["dataset=taichii"], "unknown dataset 'taichii'; did you mean 'taichi'"),
    (["benchmark.seed=abc"], "benchmark.seed"),
    (["dataset.resolution=big"], "dataset.resolution"),
    (["dataset=folder", "dataset.root=/nonexistent/videos"], "/nonexistent/videos"),
])
def test_bad_input_one_clear_error_and_no_row(tmp_path, args, message, monkeypatch, capsys):
    assert message in cli_error([*args, *SMALL], tmp_path, monkeypatch, capsys, run_dir=tmp_path / "run")
    assert not (tmp_path / "leaderboard.csv").exists()
