"""Train the puppet pose detector shipped as motionbench/metrics/weights/puppet_pose-v1.pt.

    python benchmarks/train_puppet_pose.py --steps 3000 --work runs/puppet_pose

Data: training-split renders only (synthetic seed 0, identities 0-239; 240-255 are held out to calibrate
the confidence threshold), every frame drawn both with and without markers, degraded on the fly as
generated frames are (blur, desaturation, noise, down/up-sampling; see eval_puppet_pose.degrade), plus 8%
background-only negatives. Loss: L1 of the soft-argmax keypoints (in-frame joints; covered ones at 0.3
weight) + heatmap cross-entropy against a 1-px Gaussian + BCE of the confidence against true visibility.
Adam with a one-cycle schedule; a checkpoint every 250 steps (re-running resumes). At the end: threshold
calibration (best balanced accuracy on degraded held-out renders and backgrounds), the accuracy table of
eval_puppet_pose.py on test renders, and the float16 weights file with both recorded.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from eval_puppet_pose import degrade, evaluate, gaussian_blur, table, test_backgrounds
from motionbench.data.synthetic import SyntheticDataset
from motionbench.metrics.puppet_pose import WEIGHTS_FILE, PuppetPoseDetector, PuppetPoseNet

TRAIN_IDS, HELD_OUT = 240, 16
CHANNELS = (16, 32, 64, 96)


def render_split(first: int, count: int):
    """uint8 frames with and without markers, keypoints, visibility, backgrounds of train identities."""
    out = {"img": [], "plain": [], "kp": [], "vis": [], "bg": []}
    on, off = (SyntheticDataset(resolution=64, markers=m, identities={"train": first + count}) for m in (True, False))
    for v in on.videos("train"):
        i = int(v.identity.rsplit("_", 1)[1])
        if i < first:
            continue
        idx = range(v.num_frames)
        out["img"].append((on.read_frames(v, idx) * 255).round().to(torch.uint8))
        out["plain"].append((off.read_frames(v, idx) * 255).round().to(torch.uint8))
        k, s = on.keypoints(v, idx)
        out["kp"].append(torch.from_numpy(k))
        out["vis"].append(torch.from_numpy(s))
    for i in range(first, first + count):
        out["bg"].append(torch.from_numpy(on._background("train", i)).permute(2, 0, 1))
    return {k: torch.cat(v) if k != "bg" else torch.stack(v) for k, v in out.items()}


def batch(data, n: int, g: torch.Generator):
    """A degraded batch: (images, keypoints, visible, in-frame weight)."""
    idx = torch.randint(len(data["img"]), (n,), generator=g)
    plain = torch.rand(n, generator=g) < 0.5
    img = torch.where(plain[:, None, None, None], data["plain"][idx], data["img"][idx]).float() / 255
    kp, vis = data["kp"][idx].clone(), data["vis"][idx].clone()
    inside = ((kp >= 0) & (kp <= 63)).all(-1)
    weight = torch.where(vis, 1.0, 0.3) * inside
    neg = torch.rand(n, generator=g) < 0.08  # background only: nothing to find
    if neg.any():
        img[neg] = data["bg"][torch.randint(len(data["bg"]), (int(neg.sum()),), generator=g)].float()
        vis[neg], weight[neg] = False, 0.0
    return degrade(img, g), kp, vis, weight


def loss_fn(net, img, kp, vis, weight):
    pred, conf, logits = net(img)
    coord = ((pred - kp).abs().sum(-1) * weight).sum() / weight.sum().clamp_min(1)
    h, w = logits.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    d2 = (xs - kp[..., 0, None, None]) ** 2 + (ys - kp[..., 1, None, None]) ** 2
    target = torch.softmax(-d2.flatten(2) / 2.0, -1)
    ce = -(target * logits.flatten(2).log_softmax(-1)).sum(-1)
    heat = (ce * weight).sum() / weight.sum().clamp_min(1)
    bce = F.binary_cross_entropy_with_logits(conf, vis.float())
    return coord + 0.5 * heat + bce, {"coord": coord.item(), "heat": heat.item(), "bce": bce.item()}


def calibrate(net, held) -> float:
    """Threshold with the best balanced accuracy on held-out renders (clean and degraded) + backgrounds."""
    g = torch.Generator().manual_seed(1)
    confs, labels = [], []
    with torch.no_grad():
        for plain in (False, True):
            imgs = (held["plain"] if plain else held["img"]).float() / 255
            for sigma in (0.0, 1.0, 2.0):
                x = gaussian_blur(imgs, torch.full((len(imgs),), sigma)) if sigma else imgs
                confs.append(torch.cat([net(c)[1].sigmoid() for c in x.split(512)]))
                labels.append(held["vis"])
            x = degrade(imgs, g)
            confs.append(torch.cat([net(c)[1].sigmoid() for c in x.split(512)]))
            labels.append(held["vis"])
        bg = held["bg"].float()
        confs.append(net(bg)[1].sigmoid())
        labels.append(torch.zeros(len(bg), net.num_keypoints, dtype=torch.bool))
    conf, lab = torch.cat(confs).flatten(), torch.cat(labels).flatten()
    best, best_t = -1.0, 0.5
    for t in np.linspace(0.02, 0.98, 97):
        found = conf >= t
        bal = 0.5 * (found[lab].float().mean() + (~found[~lab]).float().mean()).item()
        if bal > best:
            best, best_t = bal, float(t)
    print(f"calibrated threshold {best_t:.3f} (balanced accuracy {best:.4f} on held-out renders)")
    return best_t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default="runs/puppet_pose", help="checkpoints (resumed when present)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "motionbench" / "metrics" / "weights"
                                         / WEIGHTS_FILE))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    data, held = render_split(0, TRAIN_IDS), render_split(TRAIN_IDS, HELD_OUT)
    print(f"rendered {len(data['img'])} + {len(held['img'])} frames in {time.time() - t0:.0f} s", flush=True)
    net = PuppetPoseNet(14, CHANNELS)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.steps, pct_start=0.1)
    g = torch.Generator().manual_seed(0)
    step, ckpt = 0, work / "last.pt"
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        g.set_state(state["gen"])
        step = int(state["step"])
        print(f"resumed from step {step}")
    net.train()
    t0 = time.time()
    while step < args.steps:
        loss, parts = loss_fn(net, *batch(data, args.batch, g))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if step % 50 == 0 or step == 1:
            print(f"step {step} loss {loss.item():.3f} " + " ".join(f"{k} {v:.3f}" for k, v in parts.items())
                  + f" ({(time.time() - t0) / max(step, 1):.2f} s/step)", flush=True)
        if step % 250 == 0 or step == args.steps:
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "gen": g.get_state(), "step": step}, tmp)
            os.replace(tmp, ckpt)
    net.eval()
    threshold = calibrate(net, held)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"version": "puppet-pose-v1", "config": {"num_keypoints": 14, "channels": list(CHANNELS)},
               "state_dict": {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()},
               "threshold": threshold, "accuracy": {},
               "train_command": "python benchmarks/train_puppet_pose.py " + shlex.join(sys.argv[1:])}
    torch.save(payload, out)
    acc = evaluate(PuppetPoseDetector(out), backgrounds=test_backgrounds())
    print(table(acc))
    payload["accuracy"] = {"test_identities": 64, "frames": 64 * 32, "resolution": 64, **acc}
    torch.save(payload, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
