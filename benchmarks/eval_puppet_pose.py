"""Accuracy of the puppet pose detector (and the marker detector) against the renderer's true keypoints.

    python benchmarks/eval_puppet_pose.py [--weights FILE] [--identities 64]

Scores test-split renders (never seen in training) at 64², clean and blurred (Gaussian sigma 1 and 2),
with and without the colour markers:

* AKD: mean |dx|, |dy| in pixels over joints that are truly visible and found;
* MKR: fraction of truly visible joints the detector reports missing;
* FPR: fraction of truly invisible (covered or off-frame) joints reported found;
* background: fraction of joints reported found on background-only images (no puppet).

The degradation helpers here are also the training augmentations (benchmarks/train_puppet_pose.py).
"""
from __future__ import annotations

import argparse
import math
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from motionbench.data.synthetic import SyntheticDataset


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image Gaussian blur (sigma: B, pixels; 0 = unchanged), separable, reflect padding."""
    b, c, h, w = x.shape
    radius = 6
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    s = sigma.to(x.dtype).clamp_min(1e-3)[:, None]
    k = torch.exp(-0.5 * (t[None] / s) ** 2)
    k = k / k.sum(1, keepdim=True)  # B×(2r+1); sigma ~ 0 -> a delta
    k = k.repeat_interleave(c, 0)  # (B·C)×(2r+1)
    y = F.pad(x.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, k[:, None, None, :], groups=b * c)
    y = F.conv2d(y, k[:, None, :, None], groups=b * c)
    return y.view(b, c, h, w)


def degrade(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random degradations of generated frames: down/up-sampling, blur (sigma 0-2.2), desaturation,
    contrast/brightness, noise."""
    b = x.shape[0]
    u = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
    resample = u(b) < 0.3
    if resample.any():
        size = int(x.shape[-1] * (0.5 + 0.25 * float(u(1))))
        y = F.interpolate(x[resample], size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        x = x.clone()
        x[resample] = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
    sigma = torch.where(u(b) < 0.75, 2.2 * u(b), torch.zeros(b))
    x = gaussian_blur(x, sigma)
    desat = torch.where(u(b) < 0.5, 0.8 * u(b), torch.zeros(b))[:, None, None, None]
    x = x + desat * (x.mean(1, keepdim=True) - x)
    contrast = (0.8 + 0.3 * u(b))[:, None, None, None]
    bright = (0.1 * u(b) - 0.05)[:, None, None, None]
    x = (x - 0.5) * contrast + 0.5 + bright
    x = x + torch.randn(x.shape, generator=g) * (0.04 * u(b))[:, None, None, None]
    return x.clamp(0, 1)


def test_renders(identities: int = 64, markers: bool = True, seed: int = 0):
    """All frames of ``identities`` test-split puppets: (images N×3×64×64, keypoints N×K×2, visible N×K)."""
    ds = SyntheticDataset(resolution=64, seed=seed, identities={"test": identities}, markers=markers)
    imgs, kps, vis = [], [], []
    for v in ds.videos("test"):
        idx = range(v.num_frames)
        imgs.append(ds.read_frames(v, idx))
        k, s = ds.keypoints(v, idx)
        kps.append(k)
        vis.append(s)
    return torch.cat(imgs), np.concatenate(kps), np.concatenate(vis)


def score(kp: np.ndarray, found: np.ndarray, true_kp: np.ndarray, visible: np.ndarray) -> Dict[str, float]:
    """AKD / MKR / FPR of detections against the truth (see the module docstring)."""
    both = found & visible
    err = np.abs(kp - true_kp).mean(-1)
    return {"akd": float(err[both].mean()) if both.any() else math.nan,
            "mkr": float((visible & ~found).sum() / max(visible.sum(), 1)),
            "fpr": float((found & ~visible).sum() / max((~visible).sum(), 1))}


def evaluate(detector, identities: int = 64, sigmas=(0.0, 1.0, 2.0),
             backgrounds: Optional[torch.Tensor] = None) -> Dict[str, Dict[str, float]]:
    """Accuracy table {"markers/sigma=S" | "plain/sigma=S": {akd, mkr, fpr}, "background": {found}}."""
    out: Dict[str, Dict[str, float]] = {}
    for markers in (True, False):
        imgs, true_kp, visible = test_renders(identities, markers)
        for s in sigmas:
            x = imgs if s == 0 else gaussian_blur(imgs, torch.full((len(imgs),), float(s)))
            kp, found = detector(x)
            out[f"{'markers' if markers else 'plain'}/sigma={s:g}"] = score(kp, found, true_kp, visible)
    if backgrounds is not None:
        _, found = detector(backgrounds)
        out["background"] = {"found": float(found.mean())}
    return out


def test_backgrounds(identities: int = 64, seed: int = 0) -> torch.Tensor:
    """Background-only images (no puppet) of test-split identities."""
    ds = SyntheticDataset(resolution=64, seed=seed, identities={"test": identities})
    bgs = [ds._background("test", i) for i in range(identities)]
    return torch.from_numpy(np.stack(bgs)).permute(0, 3, 1, 2).float()


def table(results: Dict[str, Dict[str, float]]) -> str:
    lines = ["| renders | AKD (px) | MKR | FPR |", "|---|---|---|---|"]
    for key, r in results.items():
        if "akd" in r:
            lines.append(f"| {key} | {r['akd']:.3f} | {r['mkr']:.4f} | {r['fpr']:.4f} |")
        else:
            lines.append(f"| {key} | found {r['found']:.4f} of joints | | |")
    return "\n".join(lines)


def main(argv: Optional[Tuple[str, ...]] = None) -> None:
    from motionbench.metrics.markers import MarkerDetector
    from motionbench.metrics.puppet_pose import PuppetPoseDetector

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None, help="weights file (default: the shipped one)")
    ap.add_argument("--identities", type=int, default=64, help="test-split puppets to score (32 frames each)")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    bgs = test_backgrounds(args.identities)
    det = PuppetPoseDetector(args.weights)
    print(f"puppet_pose {det.version} (sha256 {det.sha256[:12]}, threshold {det.threshold:.3f}), "
          f"{args.identities} test identities x 32 frames at 64x64\n")
    print(table(evaluate(det, args.identities, backgrounds=bgs)))
    print("\nmarkers (cross-check)\n")
    print(table(evaluate(MarkerDetector(), args.identities, backgrounds=bgs)))


if __name__ == "__main__":
    main()
