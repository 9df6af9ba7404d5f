"""The HTML results report and the benchmark samples it shows.

Runs are made here the way the benchmark task makes them (the runner, a results record, leaderboard rows,
``save_samples``) for the two floors and two small non-floor animators on a few synthetic videos; the report
is then rendered from their leaderboard and opened in headless Chromium (skipped, with the reason, when no
Chromium / chromedriver / selenium is installed)."""
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from motionbench.core.animator import Animator, Capabilities
from motionbench.cli.app import main as cli_main
from motionbench.data.synthetic import SyntheticDataset
from motionbench.eval.htmlreport import build_report
from motionbench.eval.leaderboard import append_leaderboard, leaderboard_rows, load_latest
from motionbench.metrics import build_metrics
from motionbench.methods.baselines.identity import CopyDrivingAnimator, IdentityAnimator
from motionbench.eval.report import paired
from motionbench.eval.results import ResultRecord
from motionbench.eval.runner import BenchmarkOptions, run_benchmark
from motionbench.eval.samples import save_samples
from helpers.cli import run_cli

K = 2  # samples per protocol


class Blend(Animator):
    """source·(1 − w) + driving·w: a method that is neither floor, better the larger w on same identity."""

    capabilities = Capabilities(relative=False, trainable=False)

    def __init__(self, weight: float = 0.5) -> None:
        super().__init__()
        self.weight = weight

    def encode_source(self, source):
        return {"source": source}

    def animate_state(self, state, driving, *, mode, driving_ref):
        return state["source"][:, None] * (1 - self.weight) + driving * self.weight


def _run(root: Path, name: str, model: Animator, dataset, opts: BenchmarkOptions, board: Path) -> Path:
    """One benchmark run as the benchmark task writes it: results.json, leaderboard rows and samples."""
    model.name = name
    run_dir = root / name
    results = run_benchmark(model, dataset, build_metrics(["l1", "psnr"]), opts)
    record = ResultRecord(
        method=name, checkpoint={"tag": f"{name}.pt", "sha256": f"{abs(hash(name)):064x}"[:64]},
        dataset=dataset.describe() | {"name": dataset.name},
        benchmark={"compat": "default", "split": "test", "same_mode": "absolute", "cross_mode": opts.cross_mode,
                   "selection": "tiny", "n_boot": opts.n_boot},
        results={k: r.metrics for k, r in results.items()},
        protocols={k: {"protocol": r.protocol, "mode": r.mode, "frames": r.frames} for k, r in results.items()},
        metric_settings={}, seeds={"benchmark": 0}, frames=sum(r.frames for r in results.values()), wall_time_s=1.5,
        animate_frames_per_s=120.0, run_dir=str(run_dir),
        provenance={"date": "2026-01-01T00:00:00+00:00", "motionbench_version": "test", "git": "abc123",
                    "torch": torch.__version__, "device": "cpu"},
        config={})
    record.samples = [str(p) for p in save_samples(model, dataset, opts, results, K, run_dir / "samples")]
    record.write(run_dir / "results.json")
    append_leaderboard(board, leaderboard_rows(record, [row for r in results.values() for row in r.per_video]))
    return run_dir


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("report")
    dataset = SyntheticDataset(resolution=64)
    opts = BenchmarkOptions(max_videos=4, max_frames=6, n_boot=200, progress=False)
    board = root / "leaderboard.csv"
    models = {"identity": IdentityAnimator(), "copy_driving": CopyDrivingAnimator(),
              "blend_half": Blend(0.5), "blend_most": Blend(0.8)}
    runs = {name: _run(root / "runs", name, m, dataset, opts, board) for name, m in models.items()}
    return {"root": root, "board": board, "runs": runs, "dataset": dataset, "opts": opts}


@pytest.fixture(scope="module")
def page(bench):
    out = bench["root"] / "out" / "report.html"
    build_report(bench["board"], [bench["root"] / "runs"], out, figure=bench["root"] / "out" / "fig.png", n_boot=200)
    return out


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []  # (tag, attrs dict)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _parse(path: Path):
    p = _Collect()
    text = path.read_text(encoding="utf-8")
    p.feed(text)
    media = json.loads(re.search(r'<script type="application/json" id="media">(.*?)</script>', text, re.S).group(1))
    return text, p.tags, media


# ------------------------------------------------------------------------------------------------ samples
def test_samples_are_the_same_videos_for_every_method_with_their_metrics(bench):
    index = {n: json.loads((d / "samples" / "index.json").read_text()) for n, d in bench["runs"].items()}
    keys = {n: [(s["key"], s["video"]) for s in idx["samples"]] for n, idx in index.items()}
    assert keys["identity"][:2 * K] == keys["blend_half"][:2 * K]  # same seeded videos and pairs
    assert {k for k, _ in keys["identity"]} == {"same_identity", "cross_identity", "cross_identity@absolute"}
    assert {k for k, _ in keys["blend_half"]} == {"same_identity", "cross_identity"}  # absolute only: no @
    assert all(sum(1 for k, _ in v if k == "same_identity") == K for v in keys.values())
    df, _ = load_latest(bench["board"])
    for name, idx in index.items():
        for s in idx["samples"]:
            row = df[(df.method == name) & (df.protocol == s["protocol"]) & (df["mode"] == s["mode"])].iloc[0]
            per_video = json.loads(row["per_video"])
            assert s["metrics"]["l1"] == pytest.approx(per_video["l1"][s["video"]], rel=1e-5)
            folder = bench["runs"][name] / "samples"
            frames = list(iio.imiter(folder / s["files"]["output"]))
            assert len(frames) == 6 and frames[0].shape == (64, 64, 3)
            assert iio.imread(folder / s["files"]["source"]).shape == (64, 64, 3)
            assert ("target" in s["files"]) == (s["protocol"] == "cross_identity")  # synthetic ground truth
    # the identity floor's output is its source image, the copy floor's its driving clip
    s = index["copy_driving"]["samples"][0]
    out = np.stack(list(iio.imiter(bench["runs"]["copy_driving"] / "samples" / s["files"]["output"]))).astype(float)
    drv = np.stack(list(iio.imiter(bench["runs"]["copy_driving"] / "samples" / s["files"]["driving"]))).astype(float)
    assert np.abs(out - drv).mean() < 2.0


# ------------------------------------------------------------------------------------------------ page
def test_page_is_self_contained_with_every_row_and_resolved_cells(bench, page):
    text, tags, media = _parse(page)
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing from the network
    assert all(url.startswith(("data:video/mp4;base64,", "data:image/png;base64,")) for url in media.values())
    refs = {a["data-media"] for t, a in tags if "data-media" in a}
    assert refs == set(media)  # every referenced medium is in the page, nothing unused
    df, metrics = load_latest(bench["board"])
    boards = [a for t, a in tags if t == "table" and "board" in a.get("class", "")]
    assert len(boards) == 3  # same identity; cross identity relative (floors only: Blend has no relative
    # mode) and absolute
    rows = [a for t, a in tags if t == "tr" and "data-row" in a]
    assert len(rows) == len(df)
    assert sum(1 for t, a in tags if t == "span" and a.get("class") == "badge") >= 4  # floor badges
    videos = [a for t, a in tags if t == "video"]
    # per protocol: K samples × (driving [+ ground truth] + one per row with samples)
    assert len(videos) == K * (1 + 4) + K * (2 + 2) + K * (2 + 4)
    # best / not-resolved cells agree with the paired bootstrap of `leaderboard compare`
    same = df[df.protocol == "same_identity"]
    best = same[same.method == "blend_most"].iloc[0]
    for _, r in same.iterrows():
        if r.method in ("blend_half",):
            d = paired(r, best, "l1", n_boot=200)
            cls = "tie" if d["verdict"] == "no" else ""
            assert re.search(rf'<tr class="" data-row="{r.method}:{r.checkpoint}">.*?<td class="{cls}" data-v="'
                             rf'{r.l1!r}"', text), d
    assert re.search(r'<td class="best" data-v="[^"]+" title="l1 = [^"]+; best among the methods">', text)
    assert (bench["root"] / "out" / "fig.png").stat().st_size > 10_000


def test_not_measurable_is_explained(tmp_path):
    videos = [f"v{i}" for i in range(4)]
    rows = []
    for name, undefined in (("a", 0), ("b", 200)):
        rows.append({"method": name, "checkpoint": "c", "dataset": "d", "protocol": "same_identity",
                     "akd": 1.0 if not undefined else float("nan"), "mkr": 0.95 if name == "a" else 0.1,
                     "l1": 0.1, "mode": "absolute", "compat": "default", "selection": "s",
                     "metric_info": json.dumps({"akd": {"higher_is_better": False, "n": 248 - undefined,
                                                        "n_undefined_frames": undefined},
                                                "l1": {"higher_is_better": False, "n": 248, "n_undefined_frames": 0}}),
                     "per_video": json.dumps({"l1": {v: 0.1 + 0.01 * i for i, v in enumerate(videos)}})})
    append_leaderboard(tmp_path / "b.csv", rows)
    out = build_report(tmp_path / "b.csv", [], tmp_path / "r.html", n_boot=50)
    text = out.read_text()
    assert "not measurable: 200 of 248 frames are undefined (more than half)" in text
    assert "not measurable: MKR 0.950 &gt; 0.9" in text
    assert "No sample videos for this section" in text


def test_copy_media_writes_files_beside_the_page(bench, tmp_path):
    out = build_report(bench["board"], [bench["runs"]["identity"]], tmp_path / "r.html", media="copy", n_boot=50)
    _, tags, media = _parse(out)
    assert media and all(u.startswith("r_media/") for u in media.values())
    for url in media.values():
        assert (tmp_path / url.replace("%23", "#")).is_file()
    assert out.stat().st_size < 400_000


def test_bad_input_is_one_line_before_any_output(bench, tmp_path, capsys):
    def run(*args):
        with pytest.raises(SystemExit) as exc:
            cli_main(["report", *map(str, args)])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.startswith("motionbench: error: ") and err.count("\n") == 1, err
        assert not (tmp_path / "r.html").exists()
        return err

    assert "missing.csv does not exist" in run(tmp_path / "missing.csv", "--out", tmp_path / "r.html")
    assert "nowhere: not a directory" in run(bench["board"], "--runs", tmp_path / "nowhere", "--out", tmp_path / "r.html")
    assert "no metric(s) ['lpips']" in run(bench["board"], "--headline", "lpips", "--out", tmp_path / "r.html")
    assert "--copy-media" in run(bench["board"], "--runs", bench["root"] / "runs", "--max-embed-mb", "0.01",
                                 "--out", tmp_path / "r.html")
    bad = tmp_path / "bad"
    shutil.copytree(bench["runs"]["identity"], bad / "identity")
    first = json.loads((bad / "identity" / "samples" / "index.json").read_text())["samples"][0]
    (bad / "identity" / "samples" / first["files"]["output"]).unlink()
    assert "lists missing file(s)" in run(bench["board"], "--runs", bad, "--out", tmp_path / "r.html")


@pytest.mark.slow
def test_benchmark_report_true_writes_the_sweep_report(tmp_path):
    r = run_cli(["-m", "method=identity,copy_driving", "benchmark.max_videos=3", "benchmark.max_frames=4",
                 "benchmark.metrics=[l1]", "benchmark.progress=false", "benchmark.save_samples=1", "benchmark.report=true",
                 "device=cpu", f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    text, tags, media = _parse(tmp_path / "sweep" / "report.html")
    assert sum(1 for t, a in tags if t == "tr" and "data-row" in a) == 6  # 2 floors × (same, cross rel., cross abs.)
    # one sample each: same identity (driving + 2 rows), both cross modes (driving, ground truth + 2 rows)
    assert sum(1 for t, _ in tags if t == "video") == 3 + 4 + 4 and len(media) > 6


# ------------------------------------------------------------------------------------------------ browser
def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("no Chromium with chromedriver on PATH (Debian: apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    return chromium, driver, webdriver, Service


def test_report_in_headless_chromium(page, tmp_path):
    chromium, driver_path, webdriver, Service = _browser()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1400,1800",
                f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        driver.get(page.as_uri())
        js = driver.execute_script
        # every leaderboard row is in the DOM
        df, _ = load_latest(page.parent.parent / "leaderboard.csv")
        assert js("return document.querySelectorAll('table.board tbody tr').length") == len(df)
        # sorting: click the l1 header of the first table: best (lowest) first, then reversed
        col = js("return [...document.querySelectorAll('table.board')[0].tHead.rows[0].cells]"
                 ".findIndex(c => c.textContent.trim().startsWith('l1'))")
        values = "return [...document.querySelectorAll('table.board')[0].tBodies[0].rows].map(r => " \
                 f"parseFloat(r.cells[{col}].dataset.v))"
        js(f"document.querySelectorAll('table.board')[0].tHead.rows[0].cells[{col}].click()")
        up = js(values)
        assert up == sorted(up) and len(up) == 4
        js(f"document.querySelectorAll('table.board')[0].tHead.rows[0].cells[{col}].click()")
        assert js(values) == sorted(up, reverse=True)
        # every video decodes (H.264 mp4 in this Chromium) up to a current frame
        ready = "return [...document.querySelectorAll('video')].map(v => v.readyState)"
        for _ in range(100):
            states = js(ready)
            if states and min(states) >= 2:
                break
            js("return new Promise(r => setTimeout(r, 100))")
        assert states and min(states) >= 2, states
        assert js("return [...document.querySelectorAll('video')].every(v => v.error === null)")
        # one play control advances every video of its gallery
        galleries = js("return document.querySelectorAll('.gallery').length")
        assert galleries == 3
        js("document.querySelectorAll('.gallery')[0].querySelector('button.play').click()")
        js("return new Promise(r => setTimeout(r, 700))")
        moved = js("return [...document.querySelectorAll('.gallery')[0].querySelectorAll('video')]"
                   ".map(v => [v.paused, v.currentTime])")
        assert moved and all(not paused and t > 0 for paused, t in moved), moved
        other = js("return [...document.querySelectorAll('.gallery')[1].querySelectorAll('video')].map(v => v.paused)")
        assert all(other)  # the other galleries keep their own control
        js("document.querySelectorAll('.gallery')[0].querySelector('button.play').click()")
        assert all(js("return [...document.querySelectorAll('.gallery')[0].querySelectorAll('video')].map(v => v.paused)"))
        # the metric switch of the per-video view shows one table at a time
        pick = "const s = document.querySelector('select.switch[data-target$=\"-pv\"]');"
        js(pick + "s.value = 'psnr'; s.dispatchEvent(new Event('change'))")
        shown = js(pick + "return [...document.getElementById(s.dataset.target).children]"
                   ".filter(t => !t.hidden).map(t => t.dataset.metric)")
        assert shown == ["psnr"]
        shot = tmp_path / "report.png"
        assert driver.save_screenshot(str(shot))
        assert iio.imread(shot).shape[1] >= 1000
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()
