"""task=prepare: synthetic "downloaded" videos at another size and frame rate than the metadata's reference,
cut into the FOMM layout and checked against crops computed independently (imageio's decode, the official
selection and box expressions, skimage's resize); every report status, resume, a killed run, own videos with
a deterministic detector, the manifest digest in leaderboard rows, and bad input."""
import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image
from skimage import img_as_ubyte
from skimage.transform import resize

from motionbench.cli.app import main
from motionbench.data.base import DatasetError
from motionbench.data.video import FOMMLayoutDataset
from motionbench.prepare import chunk_frames, official_name, prepare_dataset, read_metadata, scale_box
from motionbench.prepare.detect import _Tracker, aspect_preserved_box, fit_box
from motionbench.prepare.output import output_digest

HERE = Path(__file__).parent
RES = 32
# reference: 192x128 at 30 fps; the raw videos are 96x64 at 15 fps
META = """video_id,start,end,bbox,fps,width,height,partition
alpha,10,40,20-10-100-90,30,192,128,test
alpha,30,70,40-0-120-80,30,192,128,test
beta,0,20,0-0-64-64,30,192,128,train
beta,10,90,0-0-64-64,30,192,128,train
beta,0,20,0-0-64-64,30,192,128,train
broken,0,10,0-0-64-64,30,192,128,test
gone,0,10,0-0-64-64,30,192,128,test
alpha,0,10,300-0-400-64,30,192,128,test
"""
STATUS = {2: "written", 3: "written", 4: "written", 5: "truncated", 6: "duplicate", 7: "unreadable",
          8: "missing_video", 9: "empty_crop"}


def _frames(n, h=64, w=96, seed=0):
    """Frames whose content differs by position (R, G ramps), frame index (B) and a seeded texture."""
    tex = np.random.default_rng(seed).integers(0, 40, (h, w), dtype=np.uint8)
    out = []
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[..., 0] = np.arange(w, dtype=np.uint8)[None, :] * 2 + tex
        f[..., 1] = np.arange(h, dtype=np.uint8)[:, None] * 3
        f[..., 2] = (i * 6) % 256
        out.append(f)
    return out


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    videos = root / "videos"
    videos.mkdir()
    imageio.mimwrite(videos / "alpha.mp4", _frames(40), fps=15, macro_block_size=1)
    imageio.mimwrite(videos / "beta.mp4", _frames(30, seed=1), fps=15, macro_block_size=1)
    (videos / "broken.mp4").write_bytes(b"not a video at all" * 64)
    (root / "meta.csv").write_text(META)
    return root


def _opts(raw, out, **kw):
    return {"preset": "taichi", "videos": str(raw / "videos"), "metadata": str(raw / "meta.csv"),
            "output": str(out), "resolution": RES, "progress": False, **kw}


def _report(root):
    with open(Path(root) / "prepare_report.csv", newline="") as f:
        return {int(r["line"]): r for r in csv.DictReader(f) if r["line"]}


def _tree(root):
    """sha256 of every file under root (relative paths), the dataset's exact content."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for n in files:
            p = Path(dirpath) / n
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _expected(video, start, end, bbox, ref_fps=30.0, ref_w=192, ref_h=128):
    """The official loop, written out: imageio's decode, the selection test and box expression, skimage."""
    reader = imageio.get_reader(video)
    fps = reader.get_meta_data()["fps"]
    out = []
    for i, frame in enumerate(reader):
        if i * ref_fps >= start * fps and i * ref_fps < end * fps:
            left, top, right, bot = bbox
            left, right = int(left / (ref_w / frame.shape[1])), int(right / (ref_w / frame.shape[1]))
            top, bot = int(top / (ref_h / frame.shape[0])), int(bot / (ref_h / frame.shape[0]))
            out.append(img_as_ubyte(resize(frame[top:bot, left:right], (RES, RES), anti_aliasing=True)))
    reader.close()
    return np.stack(out)


@pytest.fixture(scope="module")
def prepared_png(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("png") / "taichi"
    result = prepare_dataset(_opts(raw, out, format="png"))
    return out, result


# ------------------------------------------------------------------------------------------ rules
def test_rules_are_the_official_expressions():
    rng = np.random.default_rng(0)
    for fps, ref in [(29.97, 30.0), (30.0, 29.97), (25.0, 30.0), (59.94, 29.97), (15.0, 30.0), (24.0, 25.0)]:
        for _ in range(40):
            start = int(rng.integers(0, 500))
            end = start + int(rng.integers(1, 300))
            brute = [i for i in range(2000) if i * ref >= start * fps and i * ref < end * fps]
            assert list(chunk_frames(start, end, fps, ref)) == brute, (fps, ref, start, end)
    for _ in range(200):
        ref_w, ref_h = int(rng.integers(200, 2000)), int(rng.integers(200, 2000))
        w, h = int(rng.integers(100, 2000)), int(rng.integers(100, 2000))
        box = tuple(int(v) for v in rng.integers(0, 2200, 4))
        want = (int(box[0] / (ref_w / w)), int(box[1] / (ref_h / h)), int(box[2] / (ref_w / w)), int(box[3] / (ref_h / h)))
        want = (min(want[0], w), min(want[1], h), min(want[2], w), min(want[3], h))
        assert scale_box(box, ref_w, ref_h, w, h) == want
    assert official_name("WMh3ye5tBsE", 3657, 3994, "id10005") == "id10005#WMh3ye5tBsE#003657#003994.mp4"
    assert official_name("abc#id1", 5, 1234567) == "id1#abc#000005#1234567.mp4"


def test_metadata_first_row_rule_and_person_id(tmp_path):
    p = tmp_path / "vox.csv"
    p.write_text("video_id,start,end,bbox,fps,width,height,partition,person_id\n"
                 "v1,10,20,1-2-30-40,25,1280,720,train,id1\n"
                 "v1,30,45,1-2-30-40,25,1280,720,test,id1\n"
                 "v2,0,5,0-0-10-10,25,640,360,test,id2\n")
    chunks = read_metadata(str(p))
    assert [c.partition for c in chunks] == ["train", "train", "test"]  # v1's chunks follow its first row
    assert "partition 'test' in this row, 'train' used" in chunks[1].notes[0]
    assert chunks[0].name == "id1#v1#000010#000020.mp4" and chunks[2].file_id == "v2"


# ------------------------------------------------------------------------------------------ cutting
def test_png_chunks_equal_independent_crops_and_report_every_status(raw, prepared_png):
    out, result = prepared_png
    rows = _report(out)
    assert {line: r["status"] for line, r in rows.items()} == STATUS
    assert rows[5]["frames"] == "25" and "ends first" in rows[5]["detail"]  # frames 5-44 needed, 30 exist
    assert rows[6]["path"] == rows[4]["path"] and "line 4" in rows[6]["detail"]
    assert "cannot open video" in rows[7]["detail"] and "0x" not in rows[7]["detail"]
    assert rows[9]["crop_box"] == "96-0-96-32"
    for line, video, start, end, bbox, part in [(2, "alpha", 10, 40, (20, 10, 100, 90), "test"),
                                                (3, "alpha", 30, 70, (40, 0, 120, 80), "test"),
                                                (4, "beta", 0, 20, (0, 0, 64, 64), "train")]:
        folder = out / part / f"{video}#{start:06d}#{end:06d}.mp4"
        assert rows[line]["path"] == f"{part}/{folder.name}"
        got = np.stack([np.asarray(Image.open(folder / n)) for n in sorted(os.listdir(folder))])
        want = _expected(raw / "videos" / f"{video}.mp4", start, end, bbox)
        assert got.shape == want.shape and np.array_equal(got, want), line
        assert rows[line]["frames"] == str(len(want)) and rows[line]["sha256"] == output_digest(folder)
    assert sorted(os.listdir(out / "test")) == ["alpha#000010#000040.mp4", "alpha#000030#000070.mp4"]
    assert sorted(os.listdir(out / "train")) == ["beta#000000#000020.mp4"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"test": 2, "train": 1} and manifest["format"] == "png"
    assert [e["name"] for e in manifest["chunks"]["test"]] == sorted(os.listdir(out / "test"))
    table = result.summary()
    assert "| test | 5 | 2 | 1 | 0 | 1 | 1 | 0 |" in table and "| train | 3 | 1 | 0 | 1 | 0 | 0 | 1 |" in table


@pytest.fixture(scope="module")
def prepared_mp4(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("mp4") / "taichi"
    result = prepare_dataset(_opts(raw, out, workers=2))
    return out, result, _tree(out)


def test_mp4_with_two_workers_reads_back_and_records_the_manifest(prepared_mp4, prepared_png, tmp_path):
    import shutil

    out = tmp_path / "mp4"
    shutil.copytree(prepared_mp4[0], out)
    assert prepared_mp4[1].count("written") == 3 and not list(out.glob("*/.*"))
    png_root = prepared_png[0]
    ds = FOMMLayoutDataset(str(out), resolution=RES, cache_dir=None)
    for v in ds.videos("test") + ds.videos("train"):
        frames = np.stack([f for f in imageio.get_reader(v.path)])
        png = np.stack([np.asarray(Image.open(p)) for p in sorted((png_root / v.split / v.name).iterdir())])
        assert frames.shape == png.shape
        assert np.abs(frames.astype(float) - png).mean() < 4  # the same crops through H.264
    info = ds.describe()
    digest = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    assert info["manifest_sha256"] == digest and info["manifest_matches"] and info["test_videos"] == 2
    (out / "test" / "alpha#000030#000070.mp4").unlink()
    assert not FOMMLayoutDataset(str(out), cache_dir=None).describe()["manifest_matches"]


def test_variable_frame_rate_video_is_decoded_as_the_official_tool(tmp_path):
    import imageio_ffmpeg

    videos = tmp_path / "videos"
    videos.mkdir()
    # 30 stored frames with a 1 s gap after frame 10: ffmpeg's constant-rate output repeats frames over it
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=10:duration=3", "-vf", "setpts='if(lt(N,10),N,N+10)/10/TB'",
                    "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(videos / "v.mp4")], check=True)
    (tmp_path / "m.csv").write_text("video_id,start,end,bbox,fps,width,height,partition\n"
                                    "v,2,40,0-0-128-96,10,128,96,test\n")
    prepare_dataset({"preset": "taichi", "videos": str(videos), "metadata": str(tmp_path / "m.csv"),
                     "output": str(tmp_path / "out"), "resolution": RES, "format": "png", "progress": False})
    row = _report(tmp_path / "out")[2]
    folder = tmp_path / "out" / row["path"]
    got = np.stack([np.asarray(Image.open(folder / n)) for n in sorted(os.listdir(folder))])
    want = _expected(videos / "v.mp4", 2, 40, (0, 0, 128, 96), ref_fps=10.0, ref_w=128, ref_h=96)
    assert np.array_equal(got, want) and "variable frame rate" in row["detail"]


def test_decoding_failure_part_way_writes_nothing_for_the_chunk(raw, tmp_path, monkeypatch):
    from motionbench.prepare import extract
    from motionbench.prepare.extract import ConstantRateReader

    monkeypatch.setattr(extract, "BLOCK", 8)  # frames 5-12 decode and are written into the open chunk first
    read = ConstantRateReader.read

    def failing(self, indices):
        if max(indices) >= 20 and self.path.endswith("alpha.mp4"):
            raise DatasetError(f"cannot decode frame 20 of video '{self.path}': corrupt packet")
        return read(self, indices)

    monkeypatch.setattr(ConstantRateReader, "read", failing)
    out = tmp_path / "out"
    prepare_dataset(_opts(raw, out))
    rows = _report(out)
    assert rows[2]["status"] == rows[3]["status"] == "unreadable"  # frames 5-19 and 15-34: both need frame 20+
    assert "decoding failed part-way" in rows[2]["detail"] and rows[4]["status"] == "written"
    assert os.listdir(out / "test") == []  # the started chunk's temporary file is gone too


# ------------------------------------------------------------------------------------------ resume
def test_rerun_skips_finished_chunks_and_redoes_damaged_ones(raw, tmp_path):
    out = tmp_path / "out"
    prepare_dataset(_opts(raw, out))
    first, report = _tree(out), (out / "prepare_report.csv").read_text()
    again = prepare_dataset(_opts(raw, out))
    assert again.reused == 3 and _tree(out) == first
    (out / "test" / "alpha#000010#000040.mp4").unlink()
    (out / "train" / "beta#000000#000020.mp4").write_bytes(b"damaged")
    third = prepare_dataset(_opts(raw, out))
    assert third.reused == 1 and _tree(out) == first and (out / "prepare_report.csv").read_text() == report
    sha_before = _report(out)[2]["sha256"]
    changed = prepare_dataset(_opts(raw, out, resolution=RES // 2))  # another spec: everything is redone
    assert changed.reused == 0 and _report(out)[2]["sha256"] != sha_before
    assert json.loads((out / "manifest.json").read_text())["resolution"] == RES // 2


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["KILL", "TERM"])
def test_run_killed_mid_chunk_resumes_to_identical_files(raw, prepared_mp4, tmp_path, sig):
    out = tmp_path / "out"
    args = ["task=prepare", "prepare.preset=taichi", f"prepare.videos={raw / 'videos'}",
            f"prepare.metadata={raw / 'meta.csv'}", f"prepare.output={out}", f"prepare.resolution={RES}",
            "prepare.progress=false", f"hydra.run.dir={tmp_path / 'run'}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # alpha's chunks hold 15 + 20 frames; the 25th appended frame is inside the second one
    r = subprocess.run([sys.executable, str(HERE / "prepare_kill.py"), sig, "25", *args], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == (-9 if sig == "KILL" else 143), r.stderr[-2000:]
    assert not (out / "test" / "alpha#000030#000070.mp4").exists()
    temps = [p.name for p in (out / "test").iterdir() if p.name.startswith(".")]
    assert len(temps) == (1 if sig == "KILL" else 0)  # SIGKILL leaves the half chunk's temporary file
    assert not (out / "manifest.json").exists()
    resumed = prepare_dataset(_opts(raw, out))
    assert resumed.count("written") == 3 and _tree(out) == prepared_mp4[2]  # the uninterrupted run's files


# ------------------------------------------------------------------------------------------ CLI
def _cli_error(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MOTIONBENCH_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(["task=prepare", "prepare.progress=false", *argv, f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    errors = [ln for ln in err.splitlines() if ln.startswith("motionbench: error:")]
    assert exc.value.code == 2 and len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.mark.parametrize("case, message", [
    ("columns", r"does not have the video-preprocessing columns: expected video_id,start,end,bbox,fps,width,height,partition"),
    ("ted", r"every row has start = end = 0\. This is the broken ted-metadata\.csv"),
    ("rows", r"line 3: bbox '1-2-3' is not L-T-R-B.*line 4: end 5 <= start 9"),
    ("no_videos", r"prepare\.videos=.*nowhere: no such folder"),
    ("faces_metadata", r"prepare\.preset=faces finds its chunks itself; drop prepare\.metadata"),
    ("workers", r"prepare\.workers=0: must be an integer >= 1"),
    ("output_file", r"prepare\.output: .* exists and is not a directory"),
    ("faces_weights", r"s3fd-619a316812\.pth.*not found"),
])
def test_bad_input_one_error_line_nothing_written(case, message, raw, tmp_path, monkeypatch, capsys, offline_torch_home):
    import re

    meta, out = tmp_path / "m.csv", tmp_path / "out"
    meta.write_text({"columns": "video_id,start,end,box\nx,1,2,3\n",
                     "ted": "video_id,start,end,bbox,fps,width,height,partition\nA#000001#000009,0,0,1-2-3-4,10.0,9,9,train\n"
                            "B#000003#000019,0,0,1-2-3-4,10.0,9,9,train\n",
                     "rows": "video_id,start,end,bbox,fps,width,height,partition\na,0,5,1-2-3-4,25,9,9,test\n"
                             "a,0,5,1-2-3,25,9,9,test\na,9,5,1-2-3-4,25,9,9,test\n"}.get(case, META))
    args = {"preset": "taichi", "videos": raw / "videos", "metadata": meta, "output": out}
    if case == "no_videos":
        args["videos"] = tmp_path / "nowhere"
    elif case in ("faces_metadata", "faces_weights"):
        args["preset"] = "faces"
        if case == "faces_weights":
            del args["metadata"]
    elif case == "workers":
        args["workers"] = 0
    elif case == "output_file":
        args["output"] = out = tmp_path / "a_file"
        out.write_text("x")
    line = _cli_error([f"prepare.{k}={v}" for k, v in args.items()], tmp_path, monkeypatch, capsys)
    assert re.search(message, line), line
    assert case == "output_file" or not out.exists()


def test_nothing_written_exits_2_with_the_report(raw, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    line = _cli_error(["prepare.preset=taichi", f"prepare.videos={empty}", f"prepare.metadata={raw / 'meta.csv'}",
                       f"prepare.output={out}"], tmp_path, monkeypatch, capsys)
    assert "nothing was written" in line and "prepare_report.csv" in line
    assert {r["status"] for r in _report(out).values()} == {"missing_video", "duplicate"}


def test_list_datasets_shows_roots_counts_and_manifest(prepared_png, tmp_path, monkeypatch):
    from motionbench.cli.tasks.listing import dataset_roots

    os.symlink(prepared_png[0], tmp_path / "taichi")
    monkeypatch.setenv("MOTIONBENCH_DATA", str(tmp_path))
    lines = dataset_roots()
    digest = hashlib.sha256((prepared_png[0] / "manifest.json").read_bytes()).hexdigest()
    assert f"taichi: {tmp_path / 'taichi'}: train 1, test 2, manifest {digest[:12]}" in lines
    assert f"vox: {tmp_path / 'vox'} (missing)" in lines and "synthetic: rendered on the fly (no files)" in lines


def test_leaderboard_rows_carry_the_manifest_and_old_boards_still_load(tmp_path):
    from motionbench.eval.leaderboard import append_leaderboard, leaderboard_rows, load_latest, read_leaderboard
    from motionbench.eval.results import MetricResult, ResultRecord

    record = ResultRecord(
        method="identity", checkpoint={"tag": "none", "sha256": None}, benchmark={"compat": "default", "split": "test"},
        dataset={"name": "taichi", "manifest_sha256": "ab" * 32, "manifest_matches": True, "test_videos": 285},
        results={"same_identity": {"l1": MetricResult(value=0.1, higher_is_better=False, n=2)}},
        protocols={"same_identity": {"protocol": "same_identity", "mode": "absolute", "frames": 4}},
        metric_settings={}, seeds={"benchmark": 0}, frames=4, wall_time_s=1.0, animate_frames_per_s=None,
        run_dir="r", provenance={"date": "d", "motionbench_version": "0", "git": "g", "torch": "t", "device": "cpu"},
        config={})
    row = leaderboard_rows(record)[0]
    assert row["dataset_manifest"] == "ab" * 32 and row["test_videos"] == 285
    board = tmp_path / "lb.csv"
    old = ["method", "checkpoint", "dataset", "protocol", "l1", "mode", "compat", "selection", "metric_settings",
           "protocol_version"]
    board.write_text(",".join(old) + "\nfomm,x,taichi,same_identity,0.2,absolute,default,s,{},p1\n")
    append_leaderboard(board, [row])
    rows = read_leaderboard(board)
    assert rows[0]["dataset_manifest"] == "" and rows[1]["test_videos"] == "285"
    assert len(load_latest(board)[0]) == 2


# ------------------------------------------------------------------------------------------ own videos
class SquareDetector:
    """A deterministic stand-in for a face detector: the box of the bright-red pixels (score 1)."""

    def settings(self):
        return {"detector": "red square (test)"}

    def __call__(self, frame):
        ys, xs = np.nonzero(frame[..., 0] > 200)
        if not len(xs):
            return np.zeros((0, 5))
        return np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, 1.0]])


def _square_clip(n, x_of, gone=()):
    frames = []
    for i in range(n):
        f = np.full((72, 96, 3), 40, np.uint8)
        f[..., 1] = np.arange(96, dtype=np.uint8)[None, :]
        if i not in gone:
            f[20:44, x_of(i):x_of(i) + 20, 0] = 255
        frames.append(f)
    return frames


def test_faces_preset_cuts_tubes_of_own_videos_and_writes_pairs(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    # alice: the square drifts right, jumps at frame 18 (IoU 0 -> new tube); bob: 12 frames; carol: 5 (too short)
    imageio.mimwrite(videos / "alice.mp4", _square_clip(30, lambda i: 10 + i // 2 if i < 18 else 60), fps=10,
                     macro_block_size=1)
    imageio.mimwrite(videos / "bob.mp4", _square_clip(12, lambda i: 30), fps=10, macro_block_size=1)
    imageio.mimwrite(videos / "carol.mp4", _square_clip(12, lambda i: 30, gone=range(5, 12)), fps=10,
                     macro_block_size=1)
    imageio.mimwrite(videos / "dave.mp4", _square_clip(10, lambda i: 0, gone=range(10)), fps=10, macro_block_size=1)
    out = tmp_path / "out"
    result = prepare_dataset({"preset": "faces", "videos": str(videos), "output": str(out), "resolution": RES,
                              "format": "png", "min_frames": 8, "pairs": 4, "progress": False},
                             detector=SquareDetector)
    rows = sorted(_rows_of(out), key=lambda r: (r["video_id"], int(r["start"])))
    assert [(r["video_id"], r["start"], r["end"], r["status"]) for r in rows] == [
        ("alice", "0", "18", "written"), ("alice", "18", "30", "written"), ("bob", "0", "12", "written"),
        ("carol", "0", "5", "short_tube"), ("dave", "0", "10", "no_subject")]
    # alice's first tube: union of the squares x 10..38, y 20..44, enlarged 10% and made square
    box = fit_box(aspect_preserved_box((10, 20, 38, 44), 0.1), 96, 72)
    assert rows[0]["bbox"] == "-".join(map(str, box)) == "7-15-40-48"
    folder = out / rows[0]["path"]
    want = np.stack([img_as_ubyte(resize(f[15:48, 7:40], (RES, RES), anti_aliasing=True))
                     for f in imageio.get_reader(videos / "alice.mp4")][:18])
    got = np.stack([np.asarray(Image.open(folder / n)) for n in sorted(os.listdir(folder))])
    assert np.array_equal(got, want)
    assert "faces: red square (test)" in rows[0]["detail"] and "5 frames < 8" in rows[3]["detail"]
    pairs = list(csv.DictReader(open(result.pairs_csv)))
    assert list(pairs[0]) == ["distance", "source", "driving", "frame"] and len(pairs) == 3
    assert all(p["source"].split("#")[0] != p["driving"].split("#")[0] for p in pairs)
    assert (out / "metadata.csv").read_text().splitlines()[1] == "alice,0,18,7-15-40-48,10.0,96,72,test"
    again = prepare_dataset({"preset": "faces", "videos": str(videos), "output": str(out), "resolution": RES,
                             "format": "png", "min_frames": 8, "progress": False}, detector=SquareDetector)
    assert again.reused == 3  # detections come from the cache, chunks from the report


def _rows_of(root):
    with open(Path(root) / "prepare_report.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_bodies_tube_keeps_its_first_box_until_the_person_leaves_it():
    rules = {"detect_every": 1, "min_frames": 1, "max_frames": 6, "increase": 0.05, "min_score": 0.9}
    tracker = _Tracker("bodies", rules, (200, 300))
    person = lambda x: np.array([[x, 40, x + 40, 160, 0.99]])  # noqa: E731
    for i, x in enumerate([100, 101, 102, 160, 161, 161, 161, 161, 161, 161]):
        tracker.feed(i, person(x))
    tubes = tracker.finish(10)
    first = fit_box(aspect_preserved_box((100, 40, 140, 160), 0.05), 300, 200)
    assert [(t.start, t.end) for t in tubes] == [(0, 3), (3, 9), (9, 10)]  # left the box; then 6 frames max
    assert tubes[0].box == first and tubes[0].why_end == "the person left the box"
    assert tubes[1].why_end == "reached 6 frames"


def test_default_detectors_name_their_missing_weight_files(offline_torch_home):
    from motionbench.prepare.detect import KeypointRCNNPersonDetector, SFDFaceDetector
    from motionbench.hub.weights import MissingWeightsError

    with pytest.raises(MissingWeightsError, match=r"s3fd-619a316812\.pth.*not found at .*hub/checkpoints"):
        SFDFaceDetector()
    with pytest.raises(MissingWeightsError, match=r"keypointrcnn_resnet50_fpn_coco-fc266e95\.pth.*not found"):
        KeypointRCNNPersonDetector()


def test_person_detector_keeps_confident_full_people_only():
    import torch

    from motionbench.prepare.detect import KeypointRCNNPersonDetector

    head_and_ankles = torch.full((17,), 3.0)
    no_ankles = head_and_ankles.clone()
    no_ankles[-2:] = 0.0
    out = {"boxes": torch.tensor([[10., 20, 50, 140], [60, 20, 100, 140], [110, 20, 150, 140], [160, 20, 200, 40]]),
           "scores": torch.tensor([0.95, 0.5, 0.99, 0.99]),
           "keypoints_scores": torch.stack([head_and_ankles, head_and_ankles, no_ankles, head_and_ankles])}
    det = KeypointRCNNPersonDetector.__new__(KeypointRCNNPersonDetector)  # the filter, without the network
    det.model, det.device, det.min_score, det.keypoint_logit, det.min_height = (lambda images: [out]), "cpu", 0.9, 2.0, 0.1
    kept = det(np.zeros((200, 300, 3), np.uint8))  # low score, no ankles, shorter than 10% of the width: dropped
    assert kept.shape == (1, 5) and np.allclose(kept[0], [10, 20, 50, 140, 0.95])


def test_face_detector_runs_face_alignment_on_a_weight_file_it_finds(offline_torch_home):
    import torch
    from face_alignment.detection.sfd.net_s3fd import s3fd

    from motionbench.prepare.detect import SFDFaceDetector

    folder = offline_torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(s3fd().state_dict(), folder / "s3fd-619a316812.pth")  # random weights, the published layout
    det = SFDFaceDetector(verify=False)
    boxes = det(np.random.default_rng(0).integers(0, 255, (720, 64, 3), dtype=np.uint8))  # detected at 360x32
    assert boxes.ndim == 2 and boxes.shape[1] == 5 and np.isfinite(boxes).all()
    assert det.settings()["weights"] == "s3fd-619a316812.pth"
