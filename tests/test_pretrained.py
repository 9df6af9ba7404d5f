"""The official-checkpoint catalogue: lookup in the cache, presets, opt-in download (offline, file:// URLs)."""
import hashlib

import pytest
import torch

import motionbench
from motionbench.hub import pretrained
from motionbench.hub.build import build_model
from motionbench.registries import ANIMATORS
from motionbench.hub.weights import MissingWeightsError, WeightsMismatchError


def test_every_entry_names_a_real_preset_and_a_source():
    """The catalogue collects every method's ``official`` config node."""
    entries = pretrained.official_checkpoints()
    have = {(e.method, e.tag) for e in entries}
    assert {("fomm", "vox"), ("fomm", "taichi"), ("fomm", "mgif"), ("lia", "vox"), ("lia", "taichi"), ("lia", "ted")} <= have
    for method in ("tpsmm", "mraa"):
        assert {(method, tag) for tag in ("vox", "taichi", "ted", "mgif")} <= have
    assert any(e.method == "lwgan" for e in entries)
    assert pretrained.get_official("mraa", "ted").resolution == pretrained.get_official("tpsmm", "ted").resolution == 384
    for e in entries:
        assert e.preset in ANIMATORS.get(e.method).presets(), e.key
        assert e.urls and all(u.startswith("https://") for u in e.urls), e.key
        assert e.resolution > 0 and e.filename
        assert e.sha256 is None or len(e.sha256) == 64, e.key
    assert pretrained.official_checkpoints("first_order_model") == [e for e in entries if e.method == "fomm"]


def test_a_config_entry_with_an_unknown_key_is_refused(monkeypatch):
    monkeypatch.setattr(pretrained, "load_conf_yaml", lambda relpath: {"official": {"vox": {"filename": "v.pt", "sha": "x"}}})
    with pytest.raises(ValueError, match=r"conf/method/fomm.yaml: official.vox has unknown keys \['sha'\]"):
        pretrained.method_official("fomm")


@pytest.fixture
def tiny_official(tmp_path, offline_torch_home):
    """A FOMM-official-layout file of the tiny preset, served from a file:// URL as catalogue entry fomm:testtiny."""
    torch.manual_seed(0)
    model = motionbench.create_animator("fomm", preset="tiny")
    src = tmp_path / "served" / "tiny-cpk.pth.tar"
    src.parent.mkdir()
    torch.save({"generator": model.generator.state_dict(), "kp_detector": model.kp_detector.state_dict(), "epoch": 1}, src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    entry = pretrained.OfficialCheckpoint(method="fomm", tag="testtiny", filename="tiny-cpk.pth.tar", dataset="synthetic",
                                          resolution=64, preset="tiny", urls=("https://example.org/folder",),
                                          download_url=src.as_uri(), sha256=digest)
    pretrained.register_official(entry)
    yield model, entry, src
    pretrained.unregister_official("fomm", "testtiny")


def test_missing_file_is_one_line_with_url_and_path(tiny_official):
    _, entry, _ = tiny_official
    with pytest.raises(MissingWeightsError) as err:
        motionbench.create_animator("fomm", pretrained="testtiny")
    msg = str(err.value)
    assert "\n" not in msg and "https://example.org/folder" in msg and str(pretrained.official_path(entry)) in msg
    assert "weights.download=true" in msg
    with pytest.raises(ValueError, match="no official checkpoint 'nope'.*known: .*vox"):
        motionbench.create_animator("fomm", pretrained="nope")


def test_download_checks_the_hash_and_keeps_nothing_bad(tiny_official):
    model, entry, src = tiny_official
    bad = pretrained.OfficialCheckpoint(**{**entry.__dict__, "sha256": "0" * 64})
    pretrained.register_official(bad, replace=True)
    with pytest.raises(WeightsMismatchError):
        motionbench.create_animator("fomm", pretrained="testtiny", download=True)
    assert not pretrained.official_path(entry).exists()
    pretrained.register_official(entry, replace=True)
    loaded = motionbench.create_animator("fomm", pretrained="testtiny", download=True)
    assert pretrained.official_path(entry).read_bytes() == src.read_bytes()
    assert not loaded.training and loaded.trained_on == {"dataset": "synthetic", "resolution": 64}
    assert loaded.resolution == 64
    x, d = torch.rand(1, 3, 64, 64), torch.rand(1, 2, 3, 64, 64)
    torch.testing.assert_close(loaded.animate(x, d), model.animate(x, d), atol=0, rtol=0)
    # present now: no download needed, the file's hash is still checked
    pretrained.official_path(entry).write_bytes(b"tampered")
    with pytest.raises(WeightsMismatchError, match="weights.verify=false"):
        motionbench.create_animator("fomm", checkpoint="official:testtiny")


def test_cli_config_resolves_official_tag_and_its_preset(tiny_official):
    _, entry, src = tiny_official
    path = pretrained.official_path(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(src.read_bytes())
    model, info = build_model({"name": "fomm", "preset": "auto", "checkpoint": "official:testtiny"}, "vox", 256)
    assert info["preset"] == "tiny" and info["tag"] == "official:testtiny" and info["path"] == str(path)
    assert model.trained_on["dataset"] == "synthetic"


def test_no_direct_link_means_no_download(offline_torch_home):
    with pytest.raises(MissingWeightsError, match="no direct download link: get it from https://drive.google.com"):
        pretrained.resolve_official("lia", "vox", download=True)


def test_checkpoint_auto_in_the_api_is_the_committed_synthetic_one():
    model = motionbench.create_animator("lia", checkpoint="auto")
    assert model.trained_on == {"dataset": "synthetic", "resolution": 64} and not model.training


def test_cli_missing_official_checkpoint_is_one_error_line(tmp_path, offline_torch_home, monkeypatch, capsys):
    from helpers.cli import cli_error

    line = cli_error(["method=lia", "method.checkpoint=official:vox"], tmp_path, monkeypatch, capsys)
    assert line.startswith("motionbench: error: official checkpoint lia:vox not found at ")
    assert str(offline_torch_home / "hub" / "checkpoints" / "motionbench" / "lia" / "vox.pt") in line
    assert "https://drive.google.com/drive/folders/" in line
    assert not (tmp_path / "outputs").exists()
