"""Regenerate tests/data/fomm_tiny.pt and fomm_keys_{vox,taichi}256.txt from the shared FOMM reference files.

Run once by hand (``python tests/data/fomm_make_fixture.py <reference folder>``); the tests only read the
copies. The copy keeps the official-code fixture's tiny config, state dicts, inputs and per-frame outputs in
both grid semantics, and drops what no test reads (``absolute_align_corners_true_all``, ``max_abs_diff``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

DROPPED = ("absolute_align_corners_true_all", "max_abs_diff")


def main(ref: Path) -> None:
    here = Path(__file__).parent
    d = torch.load(ref / "fomm_tiny.pt", weights_only=True)
    out = {k: v for k, v in d.items() if k not in DROPPED}
    out["meta"] = dict(d["meta"], note=f"stripped copy of {ref / 'fomm_tiny.pt'} (official FOMM @ "
                                       f"{d['meta']['fomm_commit'][:7]} outputs); see tests/methods/test_fomm.py")
    torch.save(out, here / "fomm_tiny.pt")
    for preset, yaml in (("vox256", "vox-256"), ("taichi256", "taichi-256")):
        lines = ["\t".join(ln.split("\t")[:2]) for ln in (ref / f"keys_fomm_{preset}.txt").read_text().splitlines()
                 if ln.startswith(("generator.", "kp_detector.", "discriminator.")) and "\t" in ln]
        header = (f"# key<TAB>shape of the official FOMM state dicts (config/{yaml}.yaml, AliaksandrSiarohin/"
                  f"first-order-model @ {d['meta']['fomm_commit'][:7]}); prefixes name the checkpoint entry\n")
        (here / f"fomm_keys_{preset}.txt").write_text(header + "\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/data/fomm_make_fixture.py <folder with the official FOMM reference files>")
    main(Path(sys.argv[1]))
