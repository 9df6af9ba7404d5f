"""Leaderboard rendering: value ± interval, 'not measurable', sorted sections per protocol and mode, LaTeX,
the plot, and the paired comparison of two rows."""
import json

import numpy as np
import pytest

from motionbench.eval.leaderboard import append_leaderboard, load_latest
from motionbench.eval.report import compare, figure, latex, main, markdown, plot

VIDEOS = [f"test_{i:04d}#00" for i in range(8)]


def _row(method, mode, l1_per_video, akd=1.0, mkr=0.1, akd_undefined=0, protocol="cross_identity"):
    l1 = float(np.mean(l1_per_video))
    return {"method": method, "checkpoint": f"{method}.pt", "dataset": "synthetic", "protocol": protocol,
            "l1": l1, "l1_ci_low": l1 - 0.01, "l1_ci_high": l1 + 0.02, "akd": akd, "akd_ci_low": akd - 0.5,
            "akd_ci_high": akd + 0.5, "mkr": mkr, "mode": mode, "compat": "default", "selection": "s",
            "metric_info": json.dumps({"l1": {"higher_is_better": False, "n": 248, "n_undefined_frames": 0},
                                       "akd": {"higher_is_better": False, "n": 248 - akd_undefined,
                                               "n_undefined_frames": akd_undefined},
                                       "mkr": {"higher_is_better": False, "n": 248, "n_undefined_frames": 0}}),
            "per_video": json.dumps({"l1": dict(zip(VIDEOS, map(float, l1_per_video)))})}


@pytest.fixture()
def board(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.08, 0.14, 8)
    rows = [_row("identity", "relative", base + 0.03, akd=5.2),
            _row("fomm", "relative", base, akd=2.2),
            _row("lia", "relative", base + 0.005 + rng.normal(0, 0.002, 8), akd=3.0),
            _row("erased", "relative", base + 0.05, akd=float("nan"), mkr=1.0, akd_undefined=248),
            _row("blurry", "relative", base + 0.02, akd=9.0, mkr=0.95),
            _row("identity", "absolute", base + 0.04, akd=6.0)]
    path = tmp_path / "board.csv"
    append_leaderboard(path, rows)
    return path


def test_markdown_sections_sorted_with_intervals_and_not_measurable(board):
    df, metrics = load_latest(board)
    text = markdown(df, metrics)
    assert "### synthetic — cross-identity (relative mode)" in text and "(absolute mode)" in text
    rel = text.split("(relative mode)")[1].split("###")[0]
    lines = [ln for ln in rel.splitlines() if ln.startswith("| ") and "method" not in ln]
    assert [ln.split(" | ")[0][2:] for ln in lines][:2] == ["fomm", "lia"]  # sorted by l1, best first
    fomm = next(ln for ln in lines if ln.startswith("| fomm"))
    assert "±" in fomm and "0.0150" in fomm  # half of the 0.03-wide interval
    erased = next(ln for ln in lines if ln.startswith("| erased"))
    blurry = next(ln for ln in lines if ln.startswith("| blurry"))
    assert erased.count("not measurable") == 1 and blurry.count("not measurable") == 1  # akd only
    assert " – " not in erased


def test_latex_marks_the_best_value(board):
    df, metrics = load_latest(board)
    tex = latex(df, ["l1", "akd"])
    assert r"\begin{tabular}" in tex and r"$\pm$" in tex and r"$\downarrow$" in tex
    fomm = next(ln for ln in tex.splitlines() if ln.startswith("fomm"))
    assert fomm.count(r"\textbf") == 2


def test_plot_writes_one_panel_per_protocol_and_mode(board, tmp_path):
    """Columns: cross-identity relative and absolute mode; rows: l1 and akd; one bar per row of that section,
    best at the top, unmeasurable values named; written as a PNG of the figure's size."""
    import imageio.v3 as iio
    import matplotlib.pyplot as plt

    df, metrics = load_latest(board)
    fig = figure(df, ["l1", "akd"])
    axes = [ax for ax in fig.axes if ax.has_data()]
    assert len(axes) == 2 * 2
    grid = np.array(fig.axes).reshape(2, 2)  # rows: metrics, columns: protocol × mode
    assert [ax.get_title() for ax in grid[0]] == ["cross-identity, relative mode", "cross-identity, absolute mode"]
    assert [ax.get_xlabel() for ax in grid[:, 0]] == ["l1 (lower is better)", "akd (lower is better)"]
    l1_relative = [t.get_text() for t in grid[0, 0].get_yticklabels()]
    assert len(l1_relative) == len(grid[0, 0].patches) == 5 and l1_relative[-1] == "fomm"  # best at the top
    akd_relative = [t.get_text() for t in grid[1, 0].get_yticklabels()]
    assert "erased (not measurable)" in akd_relative and "blurry (not measurable)" in akd_relative
    assert [t.get_text() for t in grid[0, 1].get_yticklabels()] == ["identity"]
    width, height = (fig.get_size_inches() * 110).round().astype(int)
    plt.close(fig)
    out = plot(df, ["l1", "akd"], tmp_path / "p.png")
    assert iio.imread(out).shape[:2] == (height, width)


def test_paired_comparison(board, capsys):
    df, _ = load_latest(board)
    text = compare(df, "fomm", "identity")
    assert "| l1 |" in text and "| yes | A |" in text  # fomm is lower on every video
    with pytest.raises(ValueError, match="no leaderboard row matches 'nope'"):
        compare(df, "nope", "fomm")
    main([str(board), "compare=fomm,lia"])
    assert "fomm vs lia" in capsys.readouterr().out


def test_the_committed_leaderboard_renders_to_its_committed_latex():
    """benchmarks/leaderboard-synthetic.csv (written by earlier versions) still loads, and renders to the LaTeX
    tables committed beside it."""
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    df, metrics = load_latest(bench / "leaderboard-synthetic.csv")
    assert latex(df, metrics) == (bench / "leaderboard-synthetic.tex").read_text()
