"""Regenerate tests/data/lia_small_subset.pt and lia_keys_256.txt from the shared LIA reference files.

Run once by hand (``python tests/data/lia_make_fixture.py <reference folder>``); the tests only read the
copies. Weights are not copied: the tests rebuild them from the documented seed rule and check them
against the stored per-key checksums. Skip features are stored as checksums plus a strided subset.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

FEAT_STRIDES = [(8, 1), (16, 1), (32, 2), (32, 2)]  # (channel stride, spatial stride) per skip feature


def main(ref: Path) -> None:
    d = torch.load(ref / "lia_small.pt", weights_only=True)
    feats = d["feats"]
    out = {
        "config": d["config"], "weight_seed": d["weight_seed"], "meta": d["meta"],
        "state_dict_checksums": d["state_dict_checksums"], "kernel_buffers": d["kernel_buffers"],
        "source": d["source"], "driving": d["driving"], "directions": d["directions"], "wa": d["wa"],
        "h_start": d["h_start"], "absolute": d["absolute"], "relative": d["relative"],
        "feat_strides": FEAT_STRIDES,
        "feats_subset": [f[:, ::c, ::s, ::s].clone() for f, (c, s) in zip(feats, FEAT_STRIDES)],
        "feats_checksums": torch.stack([torch.stack([f.double().sum(), f.double().abs().sum()]) for f in feats]),
    }
    here = Path(__file__).parent
    torch.save(out, here / "lia_small_subset.pt")
    lines = [ln for ln in (ref / "keys_lia_256.txt").read_text().splitlines()
             if ln.startswith(("gen.", "dis.")) and "\t" in ln]
    header = "# key\tshape of the official LIA gen/dis state dicts at size 256 (from keys_lia_256.txt)\n"
    (here / "lia_keys_256.txt").write_text(header + "\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/data/lia_make_fixture.py <folder with the official LIA reference files>")
    main(Path(sys.argv[1]))
