"""pyproject + setup.py map methods/ and conf/ under motionbench for editable and wheel installs."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALLED_AS = {"motionbench": "motionbench", "methods": "motionbench/methods", "conf": "motionbench/conf"}


@pytest.mark.slow
def test_wheel_contains_every_package_methods_and_configs(tmp_path):
    # built from a copy: setuptools' build/ folder would otherwise stay in the checkout, stale files and all
    src = tmp_path / "src"
    for top in INSTALLED_AS:
        shutil.copytree(ROOT / top, src / top, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("motionbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {f"{INSTALLED_AS[top]}/{init.relative_to(ROOT / top).as_posix()}"
                for top in INSTALLED_AS for init in (ROOT / top).rglob("__init__.py")}
    assert packages - names == set(), "package folders missing from the wheel"
    for expected in ("motionbench/methods/fomm/animator.py", "motionbench/methods/lia/animator.py",
                     "motionbench/methods/baselines/identity.py", "motionbench/conf/config.yaml",
                     "motionbench/conf/dataset/synthetic.yaml", "motionbench/conf/method/fomm.yaml",
                     "motionbench/conf/loss_for_dataset/synthetic.yaml", "motionbench/__main__.py",
                     "motionbench/metrics/weights/puppet_pose-v1.pt"):  # the shipped pose detector
        assert expected in names, expected
    assert not any(n.startswith(("methods/", "conf/", "tests/", "setup.py")) for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "motionbench = motionbench.__main__:main" in zipfile.ZipFile(wheel).read(entry).decode()
