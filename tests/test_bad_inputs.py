"""The bad-input corpus: every user-fixable mistake gives ONE ``motionbench: error: ...`` line
that names the key / file and the fix, exit status 2, no traceback, and nothing written. Grows with
each bug. CLI cases run in-process (``motionbench.cli.app.main``); all of them fail before any real work.
"""
import argparse
import csv
import logging
import math
import os
import stat
from pathlib import Path

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import pytest
import torch

from motionbench.core.checkpoint import CHECKPOINT_FORMAT
from motionbench.cli.app import main
from motionbench.data.base import DatasetError
from motionbench.files.atomic import OutputError
from motionbench.eval.leaderboard import LeaderboardError, append_leaderboard, read_leaderboard
from motionbench.registries import ANIMATORS

from helpers.cli import cli_error


def _cli(argv, tmp_path, monkeypatch, capsys):
    return cli_error(argv, tmp_path, monkeypatch, capsys, run_dir=tmp_path / "run")


# (overrides, what the one line must say) -- composition and value errors, all caught before any work
CONFIG_CASES = [
    (["benchmark.seeed=1"], r"unknown config key 'benchmark\.seeed'; did you mean 'benchmark\.seed'\?"),
    (["methd=fomm"], r"unknown config key 'methd'; did you mean 'method'"),
    (["dataset.identities.tset=2"], r"'dataset\.identities\.tset'; did you mean 'dataset\.identities\.test'"),
    (["benchmark.seed=abc"], r"benchmark\.seed=abc: .*could not be converted to an integer"),
    (["train=bogus"], r"Could not find 'train/bogus'"),
    (["benchmark.seed=0,1"], r"Ambiguous value for argument 'benchmark\.seed=0,1'"),
    (["-m", "benchmark.seed=0,abc"], r"benchmark\.seed=abc"),
    (["seed"], r"override syntax"),
    (["method=fmom"], r"unknown method 'fmom'; did you mean 'fomm'"),
    (["benchmark.seed=-1"], r"benchmark\.seed=-1: must be >= 0"),
    (["benchmark.batch_frames=0"], r"benchmark\.batch_frames=0: must be a positive number"),
    (["benchmark.max_videos=0"], r"benchmark\.max_videos=0: must be a positive number or null"),
    (["benchmark.max_frames=0"], r"benchmark\.max_frames=0"),
    (["benchmark.num_pairs=0"], r"benchmark\.num_pairs=0"),
    (["benchmark.n_boot=-3"], r"benchmark\.n_boot=-3: must be >= 0"),
    (["benchmark.protocols=[same_identity,cross]"], r"benchmark\.protocols=.*choose one or more"),
    (["benchmark.compat=posey"], r"benchmark\.compat=posey"),
    (["dataset.frames_per_video.test=1"], r"dataset\.frames_per_video\.test=1: must be >= 2"),
    (["dataset.resolution=0"], r"dataset\.resolution=0"),
    (["device=bogus"], r"device=bogus: unknown device"),
    (["method=fomm", "method.preset=bogus"], r"method\.preset=bogus: method 'fomm' has no such preset \(known: .*tiny"),
    (["task=train", "train.batch_size=0"], r"train\.batch_size=0: must be a positive number"),
    (["task=train", "train.max_steps=0"], r"train\.max_steps=0"),
    (["task=train", "train.num_workers=-1"], r"train\.num_workers=-1"),
    (["task=animate", "animate.output=out"], r"animate\.output=out: unsupported video extension '\(none\)'"),
    (["task=animate", "animate.output=out.txt"], r"unsupported video extension '\.txt'; use one of \.mp4"),
    (["task=animate", "animate.fps=-5"], r"animate\.fps=-5\.0: must be a positive number"),
    (["task=animate", "animate.max_frames=0"], r"animate\.max_frames=0"),
    (["task=animate", "animate.batch_frames=0"], r"animate\.batch_frames=0"),
    (["task=animate", "animate.mode=sideways"], r"animate\.mode=sideways"),
    (["task=animate", "method=crosstrain", "animate.find_best_frame=true"],
     r"find_best_frame=true: .*crosstrain"),
    (["task=animate", "method=lia", "animate.find_best_frame=true"], r"method 'lia' has no find_best_frame option"),
    (["benchmark.leaderboard="], r"benchmark\.leaderboard is empty"),
]


@pytest.mark.parametrize("argv,message", CONFIG_CASES, ids=[" ".join(a) for a, _ in CONFIG_CASES])
def test_config_errors_are_one_line(argv, message, tmp_path, monkeypatch, capsys):
    import re

    line = _cli(argv, tmp_path, monkeypatch, capsys)
    assert re.search(message, line), line
    assert not (tmp_path / "leaderboard.csv").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_cpu_machine(tmp_path, monkeypatch, capsys):
    assert "device=cuda: CUDA is not available on this machine; use device=cpu" in _cli(
        ["device=cuda"], tmp_path, monkeypatch, capsys)


def test_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOTIONBENCH_DEBUG", "1")
    with pytest.raises(SystemExit):
        main(["benchmark.batch_frames=0", f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert "Traceback" in err and "ConfigValueError: benchmark.batch_frames=0" in err


# ------------------------------------------------------------------ output paths, refused before the run
def _leaderboard(path: Path, header, rows=()):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


FULL_HEADER = ["method", "checkpoint", "dataset", "protocol", "l1", "mode", "compat", "selection", "metric_settings",
               "seed", "protocol_version"]


def test_leaderboard_paths_refused_before_the_run(tmp_path, monkeypatch, capsys):
    (tmp_path / "adir").mkdir()
    assert "benchmark.leaderboard: " in _cli([f"benchmark.leaderboard={tmp_path / 'adir'}"], tmp_path, monkeypatch, capsys)
    ro = _leaderboard(tmp_path / "ro.csv", FULL_HEADER)
    os.chmod(ro, 0o444)
    line = _cli([f"benchmark.leaderboard={ro}"], tmp_path, monkeypatch, capsys)
    assert "is read-only; make it writable" in line
    assert stat.S_IMODE(ro.stat().st_mode) == 0o444 and len(read_leaderboard(ro)) == 0
    rodir = tmp_path / "rodir"
    rodir.mkdir()
    os.chmod(rodir, 0o555)
    try:
        assert "is not writable" in _cli([f"benchmark.leaderboard={rodir / 'lb.csv'}"], tmp_path, monkeypatch, capsys)
        assert "is not writable" in _cli(["task=animate", f"animate.output={rodir / 'o.mp4'}"], tmp_path, monkeypatch,
                                         capsys)
    finally:
        os.chmod(rodir, 0o755)
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "exists and is not a directory" in _cli(["task=animate", f"animate.output={afile / 'o.mp4'}"], tmp_path,
                                                   monkeypatch, capsys)
    assert "is a directory" in _cli(["task=animate", f"animate.output={tmp_path / 'adir'}"], tmp_path, monkeypatch, capsys)
    assert not (tmp_path / "run" / "results.json").exists()


def test_leaderboard_contents_refused_before_the_run(tmp_path, monkeypatch, capsys):
    old = _leaderboard(tmp_path / "old.csv", ["method", "checkpoint", "dataset", "protocol", "l1"], [["a", "b", "c", "d", "1"]])
    line = _cli([f"benchmark.leaderboard={old}"], tmp_path, monkeypatch, capsys)
    assert "has a different column set" in line and "missing mode, compat" in line and "to migrate" in line
    bad = _leaderboard(tmp_path / "bad.csv", FULL_HEADER, [["x"] * len(FULL_HEADER), ["x"] * (len(FULL_HEADER) + 2)])
    assert f"leaderboard {bad}, line 3: malformed row (13 fields, the header has 11)" in _cli(
        [f"benchmark.leaderboard={bad}"], tmp_path, monkeypatch, capsys)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(",".join(FULL_HEADER).encode() + "\nmethod é\n".encode("latin-1"))
    assert f"leaderboard {latin} is not UTF-8 text" in _cli([f"benchmark.leaderboard={latin}"], tmp_path, monkeypatch,
                                                             capsys)


def test_leaderboard_append_keeps_permissions_and_never_reshapes(tmp_path):
    lb = _leaderboard(tmp_path / "lb.csv", FULL_HEADER, [["m", "c", "d", "p", "0.5", "absolute", "default", "s", "{}", "0", "2"]])
    os.chmod(lb, 0o640)
    append_leaderboard(lb, [dict(zip(FULL_HEADER, ["m2", "c", "d", "p", "0.25", "absolute", "default", "s", "{}", "0", "2"]))])
    assert stat.S_IMODE(lb.stat().st_mode) == 0o640 and [r["l1"] for r in read_leaderboard(lb)] == ["0.5", "0.25"]
    with open(lb, "a") as f:
        f.write("m3,c,d,p,0.1,extra\n")
    with pytest.raises(LeaderboardError, match="line 4: malformed row"):
        append_leaderboard(lb, [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lb.csv", "lb.csv.lock"]


# ------------------------------------------------------------------ checkpoints
def _fomm_tiny():
    return ANIMATORS.get("fomm").build("tiny")


CKPT_CASES = {
    "no-config": ({"format": CHECKPOINT_FORMAT, "method": "fomm", "model": {}}, r"checkpoint without config"),
    "no-model": ({"format": CHECKPOINT_FORMAT, "method": "fomm", "config": {}}, r"checkpoint without model"),
    "config-list": ({"format": CHECKPOINT_FORMAT, "method": "fomm", "config": [1], "model": {}},
                    r"'config' and 'model' must be dicts, found list"),
    "config-bad-kwarg": ({"format": CHECKPOINT_FORMAT, "method": "fomm", "config": {"nonsense": 1}, "model": {}},
                         r"its config does not build a 'fomm' model \(TypeError"),
    "other-method": ({"format": CHECKPOINT_FORMAT, "method": "lia", "config": {}, "model": {}}, r"written by method 'lia'"),
    "pickled-object": ({"format": CHECKPOINT_FORMAT, "ns": argparse.Namespace(a=1)}, r"refused, it holds Python objects"),
    "not-a-dict": ([1, 2], r"expected a dict, found list"),
}


@pytest.mark.parametrize("case", list(CKPT_CASES))
def test_bad_checkpoints(case, tmp_path, monkeypatch, capsys):
    import re

    data, message = CKPT_CASES[case]
    torch.save(data, tmp_path / "bad.pt")
    line = _cli(["method=fomm", f"method.checkpoint={tmp_path / 'bad.pt'}"], tmp_path, monkeypatch, capsys)
    assert re.search(message, line) and "bad.pt" in line, line
    assert "weights_only=False" not in line
    assert not (tmp_path / "leaderboard.csv").exists()


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_weights_are_refused_and_write_no_row(bad, tmp_path, monkeypatch, capsys):
    model = _fomm_tiny()
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = bad
    model.save_checkpoint(tmp_path / "nan.pt")
    line = _cli(["method=fomm", f"method.checkpoint={tmp_path / 'nan.pt'}"], tmp_path, monkeypatch, capsys)
    assert "nan.pt holds NaN/Inf weights" in line and "use an earlier checkpoint" in line
    assert not (tmp_path / "leaderboard.csv").exists()


def test_resume_from_inference_checkpoint_is_one_line(tmp_path, monkeypatch, capsys):
    _fomm_tiny().save_checkpoint(tmp_path / "final.pt", inference_only=True)
    line = _cli(["task=train", "method=fomm", f"train.run_dir={tmp_path / 'r'}", f"train.resume={tmp_path / 'final.pt'}"],
                tmp_path, monkeypatch, capsys)
    assert "final.pt holds no training state" in line and "inference checkpoint" in line
    assert "train.resume=never" in line


# ------------------------------------------------------------------ data and results (API level)
def test_pairs_csv_fractional_frame_names_file_and_row(tmp_path):
    from motionbench.data.base import VideoRef
    from motionbench.data.video import read_pairs_csv

    vids = [VideoRef("a#1", "test", "a", 10, ""), VideoRef("b#1", "test", "b", 10, "")]
    path = tmp_path / "pairs.csv"
    path.write_text("source,driving,frame\na#1,b#1,2\nb#1,a#1,1.7\na#1,b#1,x\n")
    with pytest.raises(DatasetError, match=r"pairs\.csv' has bad rows: row 3: frame '1\.7' is not a whole frame index; "
                                           r"row 4: frame 'x'"):
        read_pairs_csv(str(path), vids)


def test_blank_protocol_is_an_error_not_a_blank_row():
    from motionbench.cli.tasks.benchmark import _require_defined
    from motionbench.eval.results import MetricResult
    from motionbench.eval.runner import ProtocolResult
    from motionbench.metrics.base import MetricError

    nan = float("nan")
    ok = ProtocolResult({"l1": MetricResult(0.1, False, 3)}, [], 3, 0.0)
    # one metric undefined on every frame: recorded (the tables say "not measurable"), not an error
    partly = ProtocolResult({"l1": MetricResult(0.1, False, 3), "akd": MetricResult(nan, False, 0, n_undefined_frames=4)},
                            [], 4, 0.0)
    _require_defined({"same_identity": ok, "cross_identity": partly})
    blank = ProtocolResult({"l1": MetricResult(nan, False, 0, n_undefined_frames=4),
                            "akd": MetricResult(nan, False, 0, n_undefined_frames=4)}, [], 4, 0.0)
    with pytest.raises(MetricError, match=r"protocol cross_identity: no metric has a finite value \(l1 \(4 undefined frames, 0 defined\)"):
        _require_defined({"same_identity": ok, "cross_identity": blank})


def test_max_videos_limits_both_protocols():
    from motionbench.hub.build import build_dataset
    from motionbench.metrics import build_metrics
    from motionbench.eval.runner import BenchmarkOptions, run_benchmark

    ds = build_dataset({"name": "synthetic", "type": "synthetic", "resolution": 32, "frames_per_video": {"test": 3}})
    model = ANIMATORS.get("identity").build()
    res = run_benchmark(model, ds, build_metrics(["l1"]), BenchmarkOptions(max_videos=3, n_boot=0, progress=False))
    names = {v.name for v in ds.videos("test")[:3]}
    cross = [r["video"] for r in res["cross_identity"].per_video]
    assert len(cross) == 3 and all(set(v.split(" <- ")) <= names for v in cross), cross
    assert {r["video"] for r in res["same_identity"].per_video} == names


def test_fid_cache_key_covers_the_dataset_definition(tmp_path):
    from motionbench.metrics.base import MetricContext
    from motionbench.metrics.fid import FID

    def key(**desc):
        ctx = MetricContext(dataset_description={"name": "synthetic", "seed": 0, "root": "data/x", **desc},
                            frame_selection="split=test,max_videos=None")
        return FID(ctx, cache_dir=str(tmp_path), extractor=lambda x: np.zeros((len(x), 4))).cache_file("cross_identity")

    base = key()
    assert base == key()
    for change in ({"seed": 1}, {"root": "data/y"}, {"identities": {"test": 4}}, {"resolution": 128}):
        assert key(**change) != base, change


# ------------------------------------------------------------------ verified video output
def _inputs(tmp_path, size=65, frames=5):
    rng = np.random.default_rng(0)
    src = tmp_path / "src.png"
    imageio.imwrite(src, rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    drv = tmp_path / "drv"
    drv.mkdir()
    for i in range(frames):
        imageio.imwrite(drv / f"{i:07d}.png", rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    return str(src), str(drv)


def test_odd_size_video_is_padded_verified_and_said(tmp_path, caplog):
    from motionbench.cli.tasks.animate import animate_file
    from motionbench.files.video_out import count_frames

    src, drv = _inputs(tmp_path)
    with caplog.at_level(logging.WARNING, logger="motionbench"):
        res = animate_file(ANIMATORS.get("identity").build(), src, drv, tmp_path / "o65.mp4", resolution=65)
    assert res["frames"] == 5 and count_frames(tmp_path / "o65.mp4") == 5
    assert iio.imread(tmp_path / "o65.mp4", index=0).shape == (66, 66, 3)
    assert "padded to 66x66" in caplog.text
    assert sorted(p.name for p in tmp_path.glob("o65*")) == ["o65.mp4", "o65_grid.png"]
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("failure", ["short-file", "writer-crash"])
def test_failed_video_leaves_nothing_behind(failure, tmp_path, monkeypatch):
    import motionbench.files.video_out as vo
    from motionbench.cli.tasks.animate import animate_file

    src, drv = _inputs(tmp_path, size=32)
    if failure == "short-file":  # a truncated file, as on a full disk: the frame count check catches it
        monkeypatch.setattr(vo, "count_frames", lambda path: 2)
        expect = (OutputError, r"has 2 frames, expected 5")
    else:
        def crash(self, frame):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(vo.VideoSink, "append", crash)
        expect = (OutputError, r"No space left on device; nothing was written")
    with pytest.raises(expect[0], match=expect[1]):
        animate_file(ANIMATORS.get("identity").build(), src, drv, tmp_path / "out.mp4", resolution=32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drv", "src.png"]
