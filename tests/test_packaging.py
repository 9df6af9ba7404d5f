"""pyproject maps methods/ and conf/ under motionbench for editable and wheel installs."""
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapping = {v: k for k, v in cfg["package-dir"].items()}
    found = set()
    for top in ("motionbench", "methods", "conf"):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT).parts
            found.add(".".join([mapping[rel[0]].split(".")[0], *mapping[rel[0]].split(".")[1:], *rel[1:]]))
    assert found == listed, f"unlisted: {found - listed}, stale: {listed - found}"


def test_wheel_contains_methods_and_configs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("motionbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("motionbench/methods/fomm/animator.py", "motionbench/methods/lia/animator.py",
                     "motionbench/methods/baselines/identity.py", "motionbench/conf/config.yaml",
                     "motionbench/conf/dataset/synthetic.yaml", "motionbench/conf/method/fomm.yaml",
                     "motionbench/conf/loss_for_dataset/synthetic.yaml", "motionbench/__main__.py",
                     "motionbench/metrics/weights/puppet_pose-v1.pt"):  # the shipped pose detector
        assert expected in names, expected
    assert not any(n.startswith(("methods/", "conf/", "tests/")) for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "motionbench = motionbench.__main__:main" in zipfile.ZipFile(wheel).read(entry).decode()
