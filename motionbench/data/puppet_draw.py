"""Rasteriser of the synthetic puppets: analytic anti-aliasing at the output resolution (numpy).

Each part (capsule limbs, quad torso, ellipse head, discs for hands and markers) is drawn for a whole
batch of frames at once, inside a per-frame window, with coverage ``clip(0.5 - signed distance, 0, 1)``
(a one-pixel box filter of the edge) and alpha compositing, so edges are anti-aliased without a
supersampled canvas. Textures live in part-local body units (stripes move with the limb) and are
box-filtered analytically too (as are the background's stripes and checks); a soft cylindrical shading
gives the parts some volume.

Occlusion: an ownership map keeps, per pixel, which marker dominates it and how much of it is left after
later parts are composited on top; a marker is *visible* when at least half of its disc area is still its
own and its joint lies inside the frame.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

import numpy as np

from .markers import KEYPOINT_NAMES, MARKER_COLORS, MARKER_RADIUS
from .puppet import Identity, forward_kinematics

__all__ = ["background", "render"]

#: colour of local (u, v) coordinates and pixel size, all in body units (1-D arrays) -> M×3
ColorFn = Optional[Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]]
_KP = {name: k for k, name in enumerate(KEYPOINT_NAMES)}


def background(identity: Identity, res: int) -> np.ndarray:
    """res×res×3 float32 background: a two-colour gradient plus a pattern in a third colour.

    Stripes and checks are box-filtered analytically over each pixel (no supersampling needed).
    """
    kind, ang, period, strength = identity.background
    c1, c2, c3 = identity.colors["background"]
    g = (np.arange(res, dtype=np.float32) + 0.5) / res - 0.5
    x, y = g[None, :], g[:, None]
    t = ((x * np.cos(ang) + y * np.sin(ang)) / np.sqrt(2.0) + 0.5)[..., None]
    img = c1 * (1 - t) + c2 * t
    b = ang + 1.0
    px, py = x * np.cos(b) + y * np.sin(b), y * np.cos(b) - x * np.sin(b)
    # footprint of a pixel along the rotated axes, in pattern periods
    fx = np.float32((abs(np.cos(b)) + abs(np.sin(b))) / (res * period))
    if kind == "stripes":
        m = _box_square(px / period + 0 * py, fx)
    elif kind == "checks":
        a_, b_ = _box_square(px / period + 0 * py, fx), _box_square(py / period + 0 * px, fx)
        m = a_ + b_ - 2 * a_ * b_
    elif kind == "waves":
        m = 0.5 + 0.5 * np.sin(2 * np.pi * px / period) * np.sin(2 * np.pi * py / (1.3 * period))
    else:
        m = np.zeros((res, res), np.float32)
    m = (strength * m)[..., None]
    return (img * (1 - m) + c3 * m).astype(np.float32)


def _box_square(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``floor(x) % 2`` averaged over [x - w/2, x + w/2] (analytic box filter of a square wave)."""

    def integral(z: np.ndarray) -> np.ndarray:
        f = np.floor(z / 2)
        return f + np.minimum(np.maximum(z - 2 * f - 1, 0), 1)

    w = np.maximum(w, 1e-3)
    return (integral(x + w / 2) - integral(x - w / 2)) / w


def _textured(colors: np.ndarray, kind: str, period: float, r: float) -> ColorFn:
    """Two-colour texture (stripes / checks, box-filtered) with cylindrical shading across ``v``."""
    c1, c2 = colors

    def fn(u: np.ndarray, v: np.ndarray, px: np.ndarray) -> np.ndarray:
        w = px / period
        if kind == "stripes_across":
            sec = _box_square(u / period, w)
        elif kind == "stripes_along":
            sec = _box_square(v / period + 0.5, w)
        elif kind == "checks":
            a, b = _box_square(u / period, w), _box_square(v / period, w)
            sec = a + b - 2 * a * b
        else:
            sec = np.zeros_like(u)
        shade = np.maximum(1.0 - 0.3 * (v / r) ** 2, 0.6)[:, None]
        return (c1 + sec[:, None] * (c2 - c1)) * shade

    return fn


class _Canvas:
    """Batch of images plus the marker ownership maps; primitives paint inside per-frame windows."""

    def __init__(self, bg: Optional[np.ndarray], n: int, res: int, unit: np.ndarray) -> None:
        self.n, self.res = n, res
        self.img = None if bg is None else np.repeat(bg[None], n, 0)
        self.owner = np.full((n, res, res), -1, np.int16)  # dominant marker id
        self.own = np.zeros((n, res, res), np.float32)  # how much of that marker is left
        self.fg = np.zeros((n, res, res), np.float32)  # figure coverage (any part, markers included)
        self.unit = unit.astype(np.float32)  # pixels per body unit, per frame

    def window(self, lo: np.ndarray, hi: np.ndarray):
        """Index grids (n×h×1 rows, n×1×w cols) = pixel coordinates covering [lo, hi] (n×2) per frame."""
        R = self.res
        start = np.minimum(np.maximum(np.ceil(lo), 0), R).astype(np.int64)  # n×2 (x, y)
        stop = np.minimum(np.maximum(np.floor(hi) + 1, 0), R).astype(np.int64)
        j0, i0, j1, i1 = start[:, 0], start[:, 1], stop[:, 0], stop[:, 1]
        w, h = int((j1 - j0).max()), int((i1 - i0).max())
        if w <= 0 or h <= 0:
            return None
        J = np.minimum(j0, R - w)[:, None, None] + np.arange(w)[None, None, :]
        I = np.minimum(i0, R - h)[:, None, None] + np.arange(h)[None, :, None]
        return I, J, J.astype(np.float32), I.astype(np.float32)

    def paint(self, I: np.ndarray, J: np.ndarray, sd: np.ndarray, label: int, color: ColorFn,
              u: np.ndarray, v: np.ndarray) -> None:
        """Composite a shape given its signed distance ``sd`` (pixels); u, v local coordinates in pixels.

        ``label`` >= 0 marks a marker (joint id); ``color=None`` updates the ownership maps only.
        """
        alpha = np.minimum(np.maximum(0.5 - sd, 0.0), 1.0).ravel()
        idx = np.flatnonzero(alpha)
        if idx.size == 0:
            return
        al = alpha[idx]
        shape = sd.shape
        grid = (np.arange(self.n)[:, None, None] * self.res + I) * self.res + J  # n×h×w canvas index
        flat = grid.ravel()[idx]
        own = self.own.reshape(-1)
        left = own[flat] * (1 - al)
        if label >= 0:
            mine = al >= left
            self.owner.reshape(-1)[flat[mine]] = label
            left[mine] = al[mine]
        own[flat] = left
        fg = self.fg.reshape(-1)
        fg[flat] += (1.0 - fg[flat]) * al
        if self.img is not None and color is not None:
            unit = self.unit[idx // (shape[1] * shape[2])]
            uu = (u if u.shape == shape else np.broadcast_to(u, shape)).ravel()[idx] / unit
            vv = (v if v.shape == shape else np.broadcast_to(v, shape)).ravel()[idx] / unit
            img = self.img.reshape(-1, 3)
            img[flat] += (color(uu, vv, 1.0 / unit) - img[flat]) * al[:, None]

    def capsule(self, p0: np.ndarray, p1: np.ndarray, r: np.ndarray, label: int, color: ColorFn) -> None:
        """Segment p0→p1 (n×2) thickened by radius r (n,); u along, v across the axis."""
        win = self.window(np.minimum(p0, p1) - r[:, None] - 1, np.maximum(p0, p1) + r[:, None] + 1)
        if win is None:
            return
        I, J, X, Y = win
        d = p1 - p0
        length = np.hypot(d[:, 0], d[:, 1])
        e = d / np.maximum(length, 1e-6)[:, None]
        e[length <= 1e-6] = (1.0, 0.0)
        ex, ey = e[:, 0, None, None], e[:, 1, None, None]
        dx, dy = X - p0[:, 0, None, None], Y - p0[:, 1, None, None]
        u = dx * ex + dy * ey
        v = dy * ex - dx * ey
        uc = np.minimum(np.maximum(u, 0.0), length[:, None, None])
        sd = np.sqrt((u - uc) ** 2 + v ** 2) - r[:, None, None]
        self.paint(I, J, sd, label, color, u, v)

    def disc(self, c: np.ndarray, r: np.ndarray, label: int, color: ColorFn) -> None:
        """Disc of radius r (n,) around c (n×2); u, v = offsets from the centre."""
        win = self.window(c - r[:, None] - 1, c + r[:, None] + 1)
        if win is None:
            return
        I, J, X, Y = win
        u, v = X - c[:, 0, None, None], Y - c[:, 1, None, None]
        self.paint(I, J, np.sqrt(u * u + v * v) - r[:, None, None], label, color, u, v)

    def ellipse(self, c: np.ndarray, a: np.ndarray, b: np.ndarray, ang: np.ndarray, label: int, color: ColorFn) -> None:
        """Ellipse with half-axes a (along ``ang``) and b; distance by the first-order approximation."""
        e = np.maximum(a, b)[:, None] + 1
        win = self.window(c - e, c + e)
        if win is None:
            return
        I, J, X, Y = win
        ca, sa = np.cos(ang)[:, None, None], np.sin(ang)[:, None, None]
        dx, dy = X - c[:, 0, None, None], Y - c[:, 1, None, None]
        u, v = dx * ca + dy * sa, dy * ca - dx * sa
        a3, b3 = a[:, None, None], b[:, None, None]
        k = np.sqrt((u / a3) ** 2 + (v / b3) ** 2)
        grad = np.sqrt((u / a3 ** 2) ** 2 + (v / b3 ** 2) ** 2)
        sd = np.where(grad > 1e-6, k * (k - 1) / np.maximum(grad, 1e-6), -np.minimum(a3, b3))
        self.paint(I, J, sd, label, color, u, v)

    def polygon(self, pts: np.ndarray, origin: np.ndarray, ang: np.ndarray, label: int, color: ColorFn) -> None:
        """Convex polygon (n×M×2); colour coordinates relative to ``origin`` rotated by -``ang``."""
        win = self.window(pts.min(1) - 1, pts.max(1) + 1)
        if win is None:
            return
        I, J, X, Y = win
        nxt = np.roll(pts, -1, 1)
        sign = np.sign(np.sum(pts[:, :, 0] * nxt[:, :, 1] - nxt[:, :, 0] * pts[:, :, 1], 1))
        sd = None
        for m in range(pts.shape[1]):
            e = nxt[:, m] - pts[:, m]
            norm = np.maximum(np.hypot(e[:, 0], e[:, 1]), 1e-6)
            nx, ny = (e[:, 1] * sign / norm)[:, None, None], (-e[:, 0] * sign / norm)[:, None, None]
            dist = (X - pts[:, m, 0, None, None]) * nx + (Y - pts[:, m, 1, None, None]) * ny
            sd = dist if sd is None else np.maximum(sd, dist)
        ca, sa = np.cos(ang)[:, None, None], np.sin(ang)[:, None, None]
        dx, dy = X - origin[:, 0, None, None], Y - origin[:, 1, None, None]
        self.paint(I, J, sd, label, color, dy * ca - dx * sa, dx * ca + dy * sa)


def _draw(cv: _Canvas, identity: Identity, P: Dict[str, np.ndarray], rot: np.ndarray, head: np.ndarray,
          rm: float, markers: bool) -> None:
    """Paint one batch: far limbs, torso + neck + head, near limbs; each joint's marker after its parts."""
    L, C, T = identity.lengths, identity.colors, identity.textures
    unit, ones = cv.unit, np.ones(cv.n, np.float32)

    def limb(a: str, b: str, r: str, group: str, lab: int = -1) -> None:
        kind, period = T.get(group, ("plain", 1.0))
        cv.capsule(P[a], P[b], L[r] * unit, lab, _textured(C[group], kind, period, L[r]))

    def marker(name: str) -> None:  # markers=False: ownership only, the image keeps what is below
        col = MARKER_COLORS[_KP[name]]
        cv.disc(P[name], rm * ones, _KP[name], (lambda u, v, px: col) if markers else None)

    for side in ("l", "r"):
        if side == "r":  # torso, neck and head between the far (l) and the near (r) limbs
            kind, period = T["shirt"]
            torso = np.stack([P["torso_rs"], P["torso_ls"], P["torso_lh"], P["torso_rh"]], 1)
            cv.polygon(torso, P["pelvis"], rot, -1,
                       _textured(C["shirt"], kind, period, L["shoulder_half"] + L["upper_arm_r"]))
            limb("neck", "head", "neck_r", "skin")
            a, b = L["head_r"], L["head_r"] * L["head_aspect"]
            hair_line, skin, hair = -L["hairline"] * b, C["skin"][0], C["hair"][0]

            def head_color(u: np.ndarray, v: np.ndarray, px: np.ndarray) -> np.ndarray:
                shade = np.maximum(1.0 - 0.25 * ((u / a) ** 2 + (v / b) ** 2), 0.6)[:, None]
                t = np.minimum(np.maximum((hair_line - v) / px + 0.5, 0.0), 1.0)[:, None]
                return (skin + t * (hair - skin)) * shade

            cv.ellipse(P["head"], a * unit, b * unit, rot + head, -1, head_color)
            for name in ("neck", "head", "l_shoulder", "l_hip"):
                marker(name)
        limb(f"{side}_hip", f"{side}_knee", "thigh_r", "trousers")
        limb(f"{side}_knee", f"{side}_ankle", "shin_r", "trousers" if identity.trousers else "skin")
        limb(f"{side}_ankle", f"{side}_toe", "foot_r", "shoes")
        for name in ((f"{side}_hip",) if side == "r" else ()) + (f"{side}_knee", f"{side}_ankle"):
            marker(name)
        limb(f"{side}_shoulder", f"{side}_elbow", "upper_arm_r", "shirt")
        limb(f"{side}_elbow", f"{side}_wrist", "forearm_r", "shirt" if identity.sleeves else "skin")
        cv.disc(P[f"{side}_hand"], L["hand_r"] * unit, -1, _textured(C["skin"], "plain", 1.0, L["hand_r"]))
        for name in ((f"{side}_shoulder",) if side == "r" else ()) + (f"{side}_elbow", f"{side}_wrist"):
            marker(name)


def render(identity: Identity, pose: np.ndarray, resolution: int, figure_height: float,
           bg: Optional[np.ndarray] = None, markers: bool = True, with_image: bool = True, chunk: int = 64
           ) -> Tuple[Optional[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Draw poses (N×P) of one identity.

    Returns (frames N×H×W×3 float32 in [0,1] or None, keypoints N×K×2 float32 pixels, visible N×K bool,
    figure coverage N×H×W float32 in [0,1]: how much of each pixel the puppet covers).
    ``bg``: the identity's background at this resolution (computed when not given).
    ``markers=False`` leaves the marker colours out of the image (keypoints and visibility unchanged).
    """
    res = int(resolution)
    pose = np.asarray(pose, np.float64).reshape(len(pose), -1)
    world, rot, scale = forward_kinematics(identity, pose, res, figure_height)
    kps = np.stack([world[k] for k in KEYPOINT_NAMES], 1).astype(np.float32)
    n, K = len(kps), len(KEYPOINT_NAMES)
    if with_image and bg is None:
        bg = background(identity, res)
    frames = np.empty((n, res, res, 3), np.float32) if with_image else None
    vis = np.zeros((n, K), bool)
    mask = np.empty((n, res, res), np.float32)
    rm = MARKER_RADIUS * res
    area = np.pi * rm * rm
    for s in range(0, n, chunk):
        sl = slice(s, min(n, s + chunk))
        m = sl.stop - sl.start
        cv = _Canvas(bg if with_image else None, m, res, scale[sl])
        _draw(cv, identity, {k: v[sl].astype(np.float32) for k, v in world.items()}, rot[sl].astype(np.float32),
              pose[sl, 4].astype(np.float32), rm, markers)
        # visibility: how much of each marker's disc it still owns (windows for all markers at once)
        half = int(np.ceil(rm)) + 1
        off = np.arange(-half, half + 1)
        centre = np.round(kps[sl]).astype(np.int64)  # m×K×2
        J = centre[..., 0, None, None] + off[None, None, None, :]  # m×K×1×w
        I = centre[..., 1, None, None] + off[None, None, :, None]  # m×K×h×1
        valid = (I >= 0) & (I < res) & (J >= 0) & (J < res)
        I, J = np.clip(I, 0, res - 1), np.clip(J, 0, res - 1)
        fr = np.arange(m)[:, None, None, None]
        mine = (cv.owner[fr, I, J] == np.arange(K)[None, :, None, None]) & valid
        own = np.where(mine, cv.own[fr, I, J], 0.0).sum((2, 3))
        inside = np.all((kps[sl] >= 0) & (kps[sl] <= res - 1), -1)
        vis[sl] = inside & (own >= 0.5 * area)
        mask[sl] = cv.fg
        if with_image:
            frames[sl] = cv.img
    if frames is not None:
        np.clip(frames, 0.0, 1.0, out=frames)
    return frames, kps, vis, np.clip(mask, 0.0, 1.0, out=mask)
