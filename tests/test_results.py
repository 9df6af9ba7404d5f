"""Results record helpers and the concurrent-safe leaderboard."""
import csv
import json
import math
import multiprocessing as mp

import pytest

from motionbench.eval.leaderboard import append_leaderboard, read_leaderboard
from motionbench.eval.results import write_json_atomic


def _writer(path, worker, rows):
    for i in range(rows):
        append_leaderboard(path, [{"method": f"m{worker}", "checkpoint": f"c{i}", "dataset": "synthetic",
                                   "protocol": "same_identity", "l1": 0.1 * worker + i, f"extra{worker}": i}])


@pytest.mark.slow
def test_concurrent_appends_keep_every_row(tmp_path):
    path = tmp_path / "board.csv"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 8)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    rows = read_leaderboard(path)
    assert len(rows) == 32
    seen = {(r["method"], r["checkpoint"]) for r in rows}
    assert seen == {(f"m{w}", f"c{i}") for w in range(4) for i in range(8)}
    for r in rows:  # every row intact: its own l1 value and its own extra column
        w, i = int(r["method"][1:]), int(r["checkpoint"][1:])
        assert math.isclose(float(r["l1"]), 0.1 * w + i, rel_tol=1e-5)
        assert r[f"extra{w}"] == str(i)
    with open(path) as f:
        header = next(csv.reader(f))
    assert header[:4] == ["method", "checkpoint", "dataset", "protocol"]
    assert not list(tmp_path.glob(".board.csv.tmp*"))


def test_json_nan_becomes_null(tmp_path):
    write_json_atomic(tmp_path / "r.json", {"a": float("nan"), "b": [1.0, float("inf")]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": None, "b": [1.0, None]}


def test_result_record_round_trip_and_schema_errors(tmp_path):
    import pytest

    from motionbench.eval.results import SCHEMA_VERSION, MetricResult, ResultRecord

    rec = ResultRecord(method="m", checkpoint={"tag": "t", "sha256": None}, dataset={"name": "synthetic"},
                       benchmark={"compat": "default", "same_mode": "absolute", "cross_mode": "relative"},
                       results={"same_identity": {"l1": MetricResult(float("nan"), False, 0, n_undefined_frames=3)}},
                       protocols={"same_identity": {"protocol": "same_identity", "mode": "absolute", "frames": 3}},
                       metric_settings={}, seeds={"benchmark": 0}, frames=3, wall_time_s=1.0,
                       animate_frames_per_s=None, run_dir="r", provenance={}, config={})
    path = rec.write(tmp_path / "results.json")
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["results"]["same_identity"]["l1"]["value"] is None
    back = ResultRecord.read(path)
    assert back.method == "m" and back.mode("same_identity") == "absolute" and back.samples == []
    l1 = back.results["same_identity"]["l1"]
    assert isinstance(l1, MetricResult) and not l1.defined and l1.n_undefined_frames == 3
    assert back.to_json() == ResultRecord.from_json(data).to_json() == json.loads(json.dumps(rec.to_json()))
    with pytest.raises(ValueError, match="missing \\['wall_time_s'\\], unknown \\['extra'\\]"):
        ResultRecord.from_json({**{k: v for k, v in data.items() if k != "wall_time_s"}, "extra": 1})
    with pytest.raises(ValueError, match="schema_version 99"):
        ResultRecord.from_json({**data, "schema_version": 99})
