"""Running the CLI in tests: in-process (:func:`cli`, :func:`cli_error`) where a fresh interpreter adds nothing, as
a subprocess (:func:`run_cli`) for end-to-end runs; a third-party plugin installed on a temporary path; a random
source image and driving video; a free TCP port for torchrun."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence, Tuple


PLUGIN_SRC = Path(__file__).parents[1] / "plugin_src" / "mbplugin"


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


def run_cli(args, cwd, env=None, timeout=300) -> subprocess.CompletedProcess:
    """``python -m motionbench ARGS`` in a fresh interpreter (end-to-end runs, sweeps, plugins)."""
    return subprocess.run([sys.executable, "-m", "motionbench", *args], cwd=cwd, env=env or plugin_env(Path(cwd)),
                          capture_output=True, text=True, timeout=timeout)


def cli(argv: Sequence[str], cwd: Path, monkeypatch, capsys) -> Tuple[int, str, str]:
    """``motionbench.cli.app.main(argv)`` in this process, run from ``cwd``: (exit status, stdout, stderr)."""
    from motionbench.cli.app import main

    monkeypatch.chdir(cwd)
    monkeypatch.delenv("MOTIONBENCH_DEBUG", raising=False)
    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def cli_error(argv: Sequence[str], cwd: Path, monkeypatch, capsys, run_dir: Optional[Path] = None) -> str:
    """The one ``motionbench: error:`` line of a CLI call that must fail with status 2 and no traceback
    (``run_dir``: passed as ``hydra.run.dir``)."""
    code, _, err = cli([*argv, *([f"hydra.run.dir={run_dir}"] if run_dir else [])], cwd, monkeypatch, capsys)
    errors = [ln for ln in err.splitlines() if ln.startswith("motionbench: error:")]
    assert code == 2, err
    assert "Traceback" not in err and len(errors) == 1, err
    return errors[0]


def free_port() -> int:
    """A TCP port no process listens on now (for ``torchrun --master_port``)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_clip(folder: Path, source_hw=(64, 64), frame_size: int = 64, frames: int = 3):
    """A random source PNG (H×W) and a driving MP4 of ``frames`` square frames in ``folder``: (source, driving)."""
    import imageio.v2 as imageio
    import numpy as np

    rng = np.random.default_rng(0)
    imageio.imwrite(folder / "src.png", (rng.random((*source_hw, 3)) * 255).astype(np.uint8))
    imageio.mimwrite(folder / "drv.mp4", [(rng.random((frame_size, frame_size, 3)) * 255).astype(np.uint8)
                                          for _ in range(frames)], fps=10, macro_block_size=1)
    return folder / "src.png", folder / "drv.mp4"
