"""Regenerate tests/data/{tpsmm,mraa}_tiny_subset.pt from the shared TPSMM / MRAA reference fixtures.

Run once by hand (``python tests/data/tpsmm_mraa_make_fixtures.py <reference folder>``); the tests only read
the copies. The state dicts are not copied (12 MB each): they follow the fixtures' documented weight rule
(tests/helpers/parity.py), and the tests rebuild them and check them against the stored per-key checksums.
Everything else (config, inputs, every per-mode output, meta) is kept as it is.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

DROP = {"inpainting_network", "dense_motion_network", "avd_network", "generator", "region_predictor", "bg_predictor",
        "max_abs_diff"}


def main(ref: Path) -> None:
    here = Path(__file__).parent
    for name in ("tpsmm", "mraa"):
        data = torch.load(ref / f"{name}_tiny.pt", weights_only=True)
        out = {k: v for k, v in data.items() if k not in DROP}
        torch.save(out, here / f"{name}_tiny_subset.pt")
        print(f"{name}: kept {sorted(out)} -> {(here / f'{name}_tiny_subset.pt').stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/data/tpsmm_mraa_make_fixtures.py <reference folder with tpsmm_tiny.pt, mraa_tiny.pt>")
    main(Path(sys.argv[1]))
