"""Helpers of the CLI tests: install tests/plugin_src/mbplugin as a third-party package (a dist-info on a temp
path), run the CLI, write a random source image and driving video."""
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


def write_clip(folder: Path, source_hw=(64, 64), frame_size: int = 64, frames: int = 3):
    """A random source PNG (H×W) and a driving MP4 of ``frames`` square frames in ``folder``: (source, driving)."""
    import imageio.v2 as imageio
    import numpy as np

    rng = np.random.default_rng(0)
    imageio.imwrite(folder / "src.png", (rng.random((*source_hw, 3)) * 255).astype(np.uint8))
    imageio.mimwrite(folder / "drv.mp4", [(rng.random((frame_size, frame_size, 3)) * 255).astype(np.uint8)
                                          for _ in range(frames)], fps=10, macro_block_size=1)
    return folder / "src.png", folder / "drv.mp4"
