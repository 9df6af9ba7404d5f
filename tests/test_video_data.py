"""FOMM-layout real-video datasets: every format, streaming, resize, identities, pairs CSV, bad inputs.

Fixtures are tiny videos written into tmp dirs with imageio (no file from /work/shared is read).
"""
import os
import pickle
import struct
import zlib

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from motionbench.data.base import DatasetError, Pair
from motionbench.data.readers import FFmpegReader, MetaCache, open_reader
from motionbench.data.video import FOMMLayoutDataset, parse_identity, read_pairs_csv

S = 32  # frame size of the fixtures


def _frames(n, h=S, w=S, seed=0):
    """Smooth, distinct frames (codecs keep them recognisable)."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for t in range(n):
        r = (xx * 255 // max(w - 1, 1) + 20 * t) % 256
        g = (yy * 255 // max(h - 1, 1) + 10 * seed) % 256
        b = np.full_like(xx, (40 * t + 30 * seed) % 256)
        out.append(np.stack([r, g, b], -1).astype(np.uint8))
    return np.stack(out)


def _mp4(path, frames, fps=10, **kw):
    imageio.mimsave(str(path), list(frames), fps=fps, macro_block_size=1, **kw)


def _png16(path, rgb16):
    """Write a 16-bit RGB PNG by hand (Pillow cannot write one)."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _folder(path, frames, ext=".png"):
    os.makedirs(path)
    for i, f in enumerate(frames):
        iio.imwrite(os.path.join(path, f"{i:07d}{ext}"), f)


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """A FOMM-layout root with one video of every format in test/ and two in train/."""
    root = tmp_path_factory.mktemp("fomm")
    test, train = root / "test", root / "train"
    test.mkdir(), train.mkdir()
    _mp4(test / "alice#001.mp4", _frames(12, seed=1))
    _mp4(test / "bob#007.mov", _frames(9, seed=2))
    iio.imwrite(test / "carl#a.gif", _frames(7, seed=3), duration=100, loop=0)
    iio.imwrite(test / "dora#b.png", np.concatenate(list(_frames(5, seed=4)), axis=1))  # horizontal strip
    _folder(str(test / "alice#002.mp4"), _frames(6, seed=5))  # a folder named like a video (FOMM png format)
    _mp4(train / "erin#1.mp4", _frames(4, seed=6))
    _folder(str(train / "fred"), _frames(3, seed=7))
    (test / ".DS_Store").write_bytes(b"junk")  # hidden files are ignored
    return root


def _ds(root, **kw):
    kw.setdefault("resolution", S)
    kw.setdefault("cache_dir", None)
    return FOMMLayoutDataset(str(root), **kw)


def test_every_format_loads_with_right_count_and_shape(layout):
    ds = _ds(layout)
    vids = {v.name: v for v in ds.videos("test")}
    assert {n: v.num_frames for n, v in vids.items()} == {
        "alice#001.mp4": 12, "bob#007.mov": 9, "carl#a.gif": 7, "dora#b.png": 5, "alice#002.mp4": 6}
    for v in vids.values():
        x = ds.read_frames(v, [0, v.num_frames - 1])
        assert x.shape == (2, 3, S, S) and x.dtype == torch.float32
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    # lossless formats return the exact pixels
    exact = torch.from_numpy(_frames(5, seed=4)).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(ds.read_frames(vids["dora#b.png"], range(5)), exact)
    exact = torch.from_numpy(_frames(6, seed=5)).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(ds.read_frames(vids["alice#002.mp4"], [5, 0, 5]), exact[[5, 0, 5]])
    # lossy formats are close to the source frames
    mp4 = ds.read_frames(vids["alice#001.mp4"], range(12))
    ref = torch.from_numpy(_frames(12, seed=1)).permute(0, 3, 1, 2).float() / 255
    assert (mp4 - ref).abs().mean() < 0.05
    assert [v.name for v in ds.videos("train")] == ["erin#1.mp4", "fred"]


def test_identity_parsing_and_id_sampling(layout):
    assert parse_identity("ab28GAufK8o#000261#000596.mp4") == "ab28GAufK8o"
    assert parse_identity("plain.gif") == "plain" and parse_identity("frames_dir") == "frames_dir"
    ds = _ds(layout)
    ids = {v.name: v.identity for v in ds.videos("test")}
    assert ids["alice#001.mp4"] == ids["alice#002.mp4"] == "alice" and ids["dora#b.png"] == "dora"
    assert set(ds.videos_by_identity("test")) == {"alice", "bob", "carl", "dora"}
    ids = {v.identity for v in _ds(layout, id_sampling=False).videos("test")}
    assert len(ids) == 5


def test_resize_antialiased_and_center_crop(tmp_path):
    root = tmp_path / "d"
    (root / "test").mkdir(parents=True)
    wide = np.zeros((2, 40, 80, 3), np.uint8)
    wide[:, :, 20:60] = 200  # the central 40x40 square is bright, the sides are black
    _folder(str(root / "test" / "w"), wide)
    checker = ((np.indices((64, 64)).sum(0) % 2) * 255).astype(np.uint8)
    _folder(str(root / "test" / "c"), np.repeat(checker[None, ..., None], 3, -1)[:1])
    ds = _ds(root, resolution=16)
    v = ds.video("test", "w")
    x = ds.read_frames(v, [0, 1])
    assert x.shape == (2, 3, 16, 16)
    assert torch.allclose(x, torch.full_like(x, 200 / 255), atol=1e-5)  # center crop kept only the square
    y = _ds(root, resolution=16, crop="none").read_frames(v, [0])
    assert float(y.min()) < 0.1  # stretched: the black sides are in the frame
    c = ds.read_frames(ds.video("test", "c"), [0])  # anti-aliasing: a checkerboard becomes flat grey
    assert abs(float(c.mean()) - 0.5) < 0.02 and float(c.std()) < 0.05
    assert ds.read_frames(v, [0]).shape[-1] == 16 and _ds(root, resolution=48).read_frames(v, [0]).shape[-1] == 48


def test_streaming_chunks_equal_whole_read(layout):
    ds = _ds(layout)
    for v in ds.videos("test"):
        whole = ds.read_frames(v, list(range(v.num_frames)))
        chunks = list(ds.iter_chunks(v, chunk=4))
        assert [i for idx, _ in chunks for i in idx] == list(range(v.num_frames))
        assert all(len(idx) <= 4 for idx, _ in chunks)
        assert torch.equal(torch.cat([c for _, c in chunks]), whole), v.name
        assert torch.equal(ds.read_frames(v, [v.num_frames - 1, 1, 1]), whole[[v.num_frames - 1, 1, 1]])
    v = ds.video("test", "alice#001.mp4")
    assert sum(len(i) for i, _ in ds.iter_chunks(v, chunk=5, max_frames=7)) == 7
    capped = _ds(layout, max_frames=3)
    assert max(v.num_frames for v in capped.videos("test")) == 3


def test_mp4_reader_moves_forward_without_restarting(layout):
    r = open_reader(str(layout / "test" / "alice#001.mp4"))
    assert isinstance(r, FFmpegReader) and r.num_frames == 12
    a = r.read([0, 1, 2])
    gen = r._gen
    b = r.read([5, 6])
    assert r._gen is gen and r._pos == 7  # same ffmpeg stream, positioned after the last frame read
    c = r.read([1])  # going back restarts the stream
    assert r._gen is not gen and np.array_equal(c[0], a[1]) and b.shape == (2, S, S, 3)
    r.close()


def test_mp4_seeking_is_frame_exact(tmp_path, monkeypatch):
    noise = np.random.default_rng(1).integers(0, 256, (40, S, S, 3), dtype=np.uint8)
    _mp4(tmp_path / "n.mp4", noise, output_params=["-g", "8"])  # a keyframe every 8 frames
    r = open_reader(str(tmp_path / "n.mp4"))
    assert r.constant_rate and r.fps == 10
    whole = np.concatenate([f for _, f in r.iter_chunks(16)])
    monkeypatch.setattr(FFmpegReader, "seek_min_frames", 2)
    r2 = open_reader(str(tmp_path / "n.mp4"))
    rng = np.random.default_rng(0)
    for _ in range(4):
        idx = [int(i) for i in rng.choice(40, 3, replace=False)]
        assert np.array_equal(r2.read(idx), whole[idx]), idx
    assert np.array_equal(r2.read([39]), whole[[39]]) and r2._sought


def test_frame_count_cache(tmp_path, layout, monkeypatch):
    cache = MetaCache(str(tmp_path / "meta.json"))
    path = str(layout / "test" / "alice#001.mp4")
    assert open_reader(path, cache=cache).num_frames == 12
    folder = str(layout / "test" / "alice#002.mp4")
    assert open_reader(folder, cache=cache).num_frames == 6
    cache.flush()
    monkeypatch.setattr(FFmpegReader, "_probe", staticmethod(lambda *a: pytest.fail("probed twice")))
    monkeypatch.setattr("motionbench.data.readers.image_size", lambda p: pytest.fail("headers read twice"))
    again = MetaCache(str(tmp_path / "meta.json"))
    assert open_reader(path, cache=again).num_frames == 12 and open_reader(folder, cache=again).num_frames == 6
    ds = _ds(layout, cache_dir=str(tmp_path / "dscache"))
    monkeypatch.undo()
    ds.videos("test")
    assert os.path.isfile(tmp_path / "dscache" / "video_meta.json")


def test_conversions_grayscale_rgba_16bit(tmp_path):
    root = tmp_path / "conv"
    (root / "test" / "gray").mkdir(parents=True)
    for d in ("rgba", "g16", "rgb16", "pal"):
        (root / "test" / d).mkdir()
    gray = _frames(2)[..., 0]
    for i in range(2):
        iio.imwrite(root / "test" / "gray" / f"{i}.png", gray[i])
        rgba = np.concatenate([_frames(2)[i], np.full((S, S, 1), 255, np.uint8)], -1)
        rgba[:4, :4, 3] = 0  # a transparent corner -> white
        iio.imwrite(root / "test" / "rgba" / f"{i}.png", rgba)
        iio.imwrite(root / "test" / "g16" / f"{i}.png", (gray[i].astype(np.uint16) * 257))
        _png16(root / "test" / "rgb16" / f"{i}.png", _frames(2)[i].astype(np.uint16) * 257)
        Image.fromarray(gray[i]).convert("P").save(root / "test" / "pal" / f"{i}.png")
    iio.imwrite(root / "test" / "la.png", np.stack([gray[0], np.full((S, S), 255, np.uint8)], -1))
    ds = _ds(root)
    ref = torch.from_numpy(_frames(2)).permute(0, 3, 1, 2).float() / 255
    gref = ref[:, :1].expand(-1, 3, -1, -1)
    get = lambda n: ds.read_frames(ds.video("test", n), [0, 1])  # noqa: E731
    assert torch.equal(get("gray"), gref)
    rgba = get("rgba")
    assert torch.equal(rgba[:, :, 4:, 4:], ref[:, :, 4:, 4:]) and torch.equal(rgba[:, :, :4, :4], torch.ones(2, 3, 4, 4))
    assert torch.allclose(get("g16"), gref, atol=1e-6)  # 16-bit scaled by 65535
    assert torch.allclose(get("rgb16"), ref, atol=1e-6)
    assert torch.equal(get("pal"), gref)
    assert torch.equal(ds.read_frames(ds.video("test", "la.png"), [0]), gref[:1])


def _pairs_layout(tmp_path):
    root = tmp_path / "p"
    (root / "test").mkdir(parents=True)
    _folder(str(root / "test" / "a#1.mp4"), _frames(3, seed=1))  # FOMM png-format folder named .mp4
    iio.imwrite(root / "test" / "b#2.png", np.concatenate(list(_frames(4, seed=2)), axis=1))
    _folder(str(root / "test" / "c#3"), _frames(2, seed=3))
    return root


def test_pairs_csv(tmp_path):
    root = _pairs_layout(tmp_path)
    csv = tmp_path / "pairs.csv"
    csv.write_text("distance,source,driving,frame\n1.5,a#1.mp4,b#2.mp4,2\n2.0,b#2.mp4,c#3.mp4,0\n0.3,c#3.mp4,a#1.mp4,1\n")
    ds = _ds(root, pairs_csv=str(csv))
    assert ds.pairs("test") == [Pair("a#1.mp4", "b#2.png", 2), Pair("b#2.png", "c#3", 0), Pair("c#3", "a#1.mp4", 1)]
    assert len(ds.pairs("test", num_pairs=2, seed=3)) == 2
    no_csv = _ds(root).pairs("test", num_pairs=2, seed=0)  # fallback: seeded random pairs of different ids
    assert len(no_csv) == 2 and no_csv == _ds(root).pairs("test", num_pairs=2, seed=0)
    videos = {v.name: v for v in ds.videos("test")}
    assert all(videos[p.source].identity != videos[p.driving].identity for p in no_csv)


def test_pairs_csv_missing_video_names_csv_row_and_video(tmp_path):
    root = _pairs_layout(tmp_path)
    csv = tmp_path / "bad_pairs.csv"
    csv.write_text("distance,source,driving,frame\n1.0,a#1.mp4,b#2.mp4,0\n1.0,a#1.mp4,zed#9.mp4,0\n")
    with pytest.raises(DatasetError) as e:
        _ds(root, pairs_csv=str(csv)).pairs("test")
    msg = str(e.value)
    assert "bad_pairs.csv" in msg and "row 3" in msg and "zed#9.mp4" in msg
    with pytest.raises(DatasetError, match="out of range"):
        csv.write_text("source,driving,frame\na#1.mp4,b#2.png,3\n")
        _ds(root, pairs_csv=str(csv)).pairs("test")
    with pytest.raises(DatasetError, match="lacks column"):
        csv.write_text("src,drv\na,b\n")
        read_pairs_csv(str(csv), [])
    with pytest.raises(DatasetError, match="nope.csv"):
        _ds(root, pairs_csv=str(tmp_path / "nope.csv")).pairs("test")


def test_bad_pairs_csv_fails_before_any_frame_is_animated(tmp_path):
    from motionbench import create_animator
    from motionbench.eval.runner import BenchmarkOptions, run_benchmark

    root = _pairs_layout(tmp_path)
    csv = tmp_path / "bad_pairs.csv"
    csv.write_text("source,driving,frame\na#1.mp4,zed#9.mp4,0\n")
    model = create_animator("identity")
    calls = []
    model.encode_source = lambda *a, **k: calls.append(1)  # the runner's first step of any animation
    with pytest.raises(DatasetError, match="zed#9.mp4"):
        run_benchmark(model, _ds(root, pairs_csv=str(csv)), [], BenchmarkOptions(progress=False))
    assert not calls


# ----------------------------------------------------------------------------------------- bad input
def _one_video_root(tmp_path, name, make):
    root = tmp_path / "bad"
    (root / "test").mkdir(parents=True)
    make(root / "test" / name)
    return root


def _error(root, **kw):
    with pytest.raises(DatasetError) as e:
        _ds(root, **kw).videos("test")
    return str(e.value)


def test_missing_root_explains_layout(tmp_path):
    msg = _error(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in msg and "train/" in msg and "test/" in msg and "#" in msg


def test_missing_and_empty_split(tmp_path):
    (tmp_path / "r" / "train").mkdir(parents=True)
    msg = _error(tmp_path / "r")
    assert str(tmp_path / "r" / "test") in msg and "not found" in msg
    (tmp_path / "r" / "test").mkdir()
    (tmp_path / "r" / "test" / "notes.txt").write_text("x")
    msg = _error(tmp_path / "r")
    assert "empty" in msg and str(tmp_path / "r" / "test") in msg and "notes.txt" in msg


@pytest.mark.parametrize("name,make,expect", [
    ("zero.mp4", lambda p: p.write_bytes(b""), "empty (0 bytes)"),
    ("junk.mov", lambda p: p.write_bytes(b"not a video" * 20), "not a video"),
    ("zero.gif", lambda p: p.write_bytes(b""), "empty (0 bytes)"),
    ("zero.png", lambda p: p.write_bytes(b""), "empty (0 bytes)"),
    ("junk.png", lambda p: p.write_bytes(b"\x89PNG junk"), "cannot read image"),
    ("odd.png", lambda p: iio.imwrite(p, np.zeros((10, 25, 3), np.uint8)), "multiple of its height"),
])
def test_bad_files_name_the_file(tmp_path, name, make, expect):
    msg = _error(_one_video_root(tmp_path, name, make))
    assert name in msg and expect in msg


def _truncate(src, dst, keep=0.5):
    data = open(src, "rb").read()
    open(dst, "wb").write(data[: int(len(data) * keep)])


def test_truncated_videos(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _mp4(src / "v.mp4", _frames(20))
    noise = np.random.default_rng(0).integers(0, 256, (20, S, S, 3), dtype=np.uint8)  # big frames: cut mid-stream
    _mp4(src / "fs.mp4", noise, output_params=["-movflags", "+faststart"])  # index first: decodes partly
    iio.imwrite(src / "g.gif", _frames(6), duration=100, loop=0)
    iio.imwrite(src / "s.png", np.concatenate(list(_frames(6)), axis=1))
    for name, expect in [("v.mp4", "truncated, corrupt or not a video"), ("fs.mp4", "truncated or corrupt"),
                         ("g.gif", "truncated"), ("s.png", "truncated or corrupt")]:
        root = tmp_path / f"r_{name}"
        (root / "test").mkdir(parents=True)
        _truncate(src / name, root / "test" / f"cut_{name}")
        msg = _error(root)
        assert f"cut_{name}" in msg and expect in msg, msg
    lenient = _ds(tmp_path / "r_fs.mp4", strict=False).videos("test")[0]  # the decodable prefix
    assert 0 < lenient.num_frames < 20


def test_frame_folder_mixed_sizes_and_unreadable_frame(tmp_path):
    root = _one_video_root(tmp_path, "mixed", lambda p: _folder(str(p), _frames(3)))
    iio.imwrite(root / "test" / "mixed" / "0000003.png", np.zeros((S, S + 2, 3), np.uint8))
    msg = _error(root)
    assert "mixed" in msg and "mixed frame sizes" in msg and "0000003.png" in msg
    (root / "test" / "mixed" / "0000003.png").write_bytes(b"garbage")
    msg = _error(root)
    assert "0000003.png" in msg and "cannot read image" in msg
    # a frame damaged after its header is caught when read, with the file named
    (root / "test" / "mixed" / "0000003.png").unlink()
    _truncate(root / "test" / "mixed" / "0000001.png", root / "test" / "mixed" / "0000001.png", keep=0.6)
    ds = _ds(root)
    with pytest.raises(DatasetError, match="0000001.png"):
        ds.read_frames(ds.video("test", "mixed"), [1])


def test_skip_bad_videos_warns(tmp_path):
    root = _one_video_root(tmp_path, "ok", lambda p: _folder(str(p), _frames(2)))
    (root / "test" / "broken.mp4").write_bytes(b"")
    with pytest.warns(UserWarning, match="broken.mp4"):
        vids = _ds(root, skip_bad_videos=True).videos("test")
    assert [v.name for v in vids] == ["ok"]


# ----------------------------------------------------------------------------------------- configs
def _compose_dataset(name, overrides=()):
    from hydra import compose, initialize_config_module

    from motionbench.cli.schema import register_schemas

    register_schemas()
    with initialize_config_module(config_module="motionbench.conf", version_base="1.3"):
        return compose(config_name=f"dataset/{name}", overrides=list(overrides)).dataset


@pytest.mark.parametrize("name", ["taichi", "vox", "ted", "mgif", "folder"])
def test_configs_build_the_dataset(name, layout, monkeypatch):
    from hydra.errors import ConfigCompositionException

    from motionbench.hub.build import build_dataset

    monkeypatch.setenv("MOTIONBENCH_DATA", "/nonexistent")
    overrides = ["dataset.cache_dir=null"] + ([f"dataset.root={layout}"] if name == "folder" else [])
    cfg = _compose_dataset(name, overrides)
    assert cfg.name == name and cfg.type == "fomm_layout"
    ds = build_dataset(cfg)
    assert isinstance(ds, FOMMLayoutDataset) and ds.name == name
    assert ds.resolution == (384 if name == "ted" else 256)
    if name == "folder":
        assert len(ds.videos("test")) == 5
        assert OmegaConf.is_missing(_compose_dataset("folder"), "root")  # root is mandatory
    else:
        assert ds.root == f"/nonexistent/{name}"
        with pytest.raises(DatasetError, match=f"/nonexistent/{name}"):
            ds.videos("test")
    with pytest.raises(ConfigCompositionException):  # typed schema: a wrong-typed override fails early
        _compose_dataset(name, ["dataset.resolution=big"])


def test_dataset_pickles_for_workers(layout):
    ds = _ds(layout)
    v = ds.videos("test")[0]
    ds.read_frames(v, [0])
    clone = pickle.loads(pickle.dumps(ds))
    assert torch.equal(clone.read_frames(v, [1]), ds.read_frames(v, [1]))
    ds.close()
