"""Helpers that install tests/plugin_src/mbplugin as a third-party package (a dist-info on a temp path)."""
import os
import shutil
import sys
from pathlib import Path

PLUGIN_SRC = Path(__file__).parent / "plugin_src" / "mbplugin"


def install_plugin(root: Path) -> Path:
    """Copy the package and write ``mbplugin-0.1.dist-info`` with a ``motionbench.methods`` entry point."""
    shutil.copytree(PLUGIN_SRC, root / "mbplugin")
    info = root / "mbplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mbplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[motionbench.methods]\nblendnet = mbplugin:BlendNet\n")
    return root


def plugin_env(root: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"
    return env


def run_cli(args, cwd, env=None, timeout=300):
    import subprocess

    return subprocess.run([sys.executable, "-m", "motionbench", *args], cwd=cwd, env=env or plugin_env(Path(cwd)),
                          capture_output=True, text=True, timeout=timeout)
