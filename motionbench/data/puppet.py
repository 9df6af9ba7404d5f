"""Procedural articulated 2D puppets: identities, smooth motion, forward kinematics (numpy, seeded).

A puppet *identity* is its body proportions (lengths and widths in "body units": standing height = 1),
its part colours and textures and its background. A *pose* is a vector of :data:`POSE_NAMES`: root
position (frame units, 0..1), root rotation (rad), log-scale, and joint angles (rad). Poses of a video
are closed-form functions of the frame index (sums of sinusoids), so any frame is computed on demand,
and the root position / scale are fitted per frame (smoothly) so that every joint stays inside the frame.
Drawing lives in :mod:`motionbench.data.puppet_draw`.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from .markers import KEYPOINT_NAMES, MAX_BODY_CHROMA

__all__ = ["POSE_NAMES", "Identity", "Motion", "sample_identity", "sample_motion", "motion_poses",
           "forward_kinematics", "skeleton"]

POSE_NAMES: Tuple[str, ...] = ("tx", "ty", "rot", "log_scale", "head", "r_shoulder", "r_elbow", "l_shoulder",
                               "l_elbow", "r_hip", "r_knee", "l_hip", "l_knee")
P = len(POSE_NAMES)
_TEXTURES = ("plain", "stripes_across", "stripes_along", "checks")
_BACKGROUNDS = ("gradient", "stripes", "checks", "waves")
# mean, amplitude (rad / log / normalised) of each free pose parameter (tx, ty: position within the free
# room, -1..1; the sign of the side is applied by the kinematics, positive = away from the body)
_MOTION_MEAN = np.array([0, 0, 0, 0.12, 0, 0.7, 0.9, 0.7, 0.9, 0.25, 0.45, 0.25, 0.45], np.float64)
_MOTION_AMP = np.array([1, 1, 0.35, 0.12, 0.3, 1.35, 0.9, 1.35, 0.9, 0.35, 0.45, 0.35, 0.45], np.float64)


@dataclass(frozen=True)
class Identity:
    """Everything that stays fixed for one puppet (proportions in body units, colours in [0,1] RGB)."""

    lengths: Dict[str, float]
    colors: Dict[str, np.ndarray]  # part group -> (2, 3) primary, secondary; "background" -> (3, 3)
    textures: Dict[str, Tuple[str, float]]  # group -> (kind, period in body units)
    background: Tuple[str, float, float, float]  # (kind, direction rad, period, pattern strength)
    sleeves: bool  # forearms in shirt colours (else skin)
    trousers: bool  # shins in trouser colours (else skin)


@dataclass(frozen=True)
class Motion:
    """Sum-of-sinusoids coefficients per pose parameter: amplitudes, angular speeds (rad/frame), phases."""

    amp: np.ndarray  # P×J
    omega: np.ndarray  # P×J
    phase: np.ndarray  # P×J


def _color(rng: np.random.Generator, avoid: Tuple[np.ndarray, ...] = (), min_dist: float = 0.0) -> np.ndarray:
    """A colour with chroma <= MAX_BODY_CHROMA (never near a marker), far from ``avoid`` if possible."""
    best, best_d = None, -1.0
    for _ in range(64):
        h, v = rng.uniform(), rng.uniform(0.12, 0.97)
        chroma = rng.uniform(0.0, min(MAX_BODY_CHROMA * 0.98, v))
        c = np.array(colorsys.hsv_to_rgb(h, chroma / v, v), np.float32)
        d = min((float(np.linalg.norm(c - a)) for a in avoid), default=1.0)
        if d >= min_dist:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


def _near(rng: np.random.Generator, c: np.ndarray, spread: float) -> np.ndarray:
    """A colour within ``spread`` (per channel) of ``c`` that still respects the chroma limit."""
    for _ in range(64):
        x = np.clip(c + rng.uniform(-spread, spread, 3), 0.0, 1.0).astype(np.float32)
        if x.max() - x.min() <= MAX_BODY_CHROMA * 0.98:
            return x
    return c.copy()


def sample_identity(rng: np.random.Generator) -> Identity:
    """Random proportions, clothes and background of one puppet."""
    u = rng.uniform
    L = dict(head_r=u(0.06, 0.08), head_aspect=u(1.0, 1.18), neck_len=u(0.02, 0.045), neck_r=u(0.03, 0.042),
             torso_len=u(0.26, 0.33), shoulder_half=u(0.075, 0.11), shoulder_drop=u(0.01, 0.03),
             hip_half=u(0.045, 0.07), hip_drop=u(0.0, 0.03), upper_arm=u(0.13, 0.17), forearm=u(0.12, 0.16),
             upper_arm_r=u(0.04, 0.06), forearm_r=u(0.033, 0.05), hand_r=u(0.03, 0.04),
             thigh_r=u(0.055, 0.08), shin_r=u(0.042, 0.065), thigh=u(0.2, 0.25), shin=u(0.19, 0.24),
             foot_len=u(0.05, 0.075), foot_r=u(0.025, 0.035), hairline=u(-0.2, 0.3))
    height = (L["foot_r"] + L["shin"] + L["thigh"] - L["hip_drop"] + L["torso_len"] + L["neck_len"]
              + 2 * L["head_r"] * L["head_aspect"])
    for key in list(L):
        if key not in ("head_aspect", "hairline"):
            L[key] /= height
    bg1 = _color(rng)
    bg = (bg1, _near(rng, bg1, 0.25), _near(rng, bg1, 0.3))  # gradient ends and pattern colour
    colors = {}
    for name in ("skin", "hair", "shirt", "trousers", "shoes"):  # contrasting with the background
        c1 = _color(rng, bg, 0.45)
        c2 = _color(rng, (c1,) + bg, 0.2)
        colors[name] = np.stack([c1, c2])
    colors["background"] = np.stack(bg)
    textures = {g: (_TEXTURES[int(rng.integers(len(_TEXTURES)))], float(u(0.045, 0.1)))
                for g in ("shirt", "trousers")}
    background = (_BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))], float(u(0, 2 * np.pi)), float(u(0.08, 0.3)),
                  float(u(0.25, 0.6)))
    return Identity(L, colors, textures, background, sleeves=bool(rng.uniform() < 0.6),
                    trousers=bool(rng.uniform() < 0.75))


def sample_motion(rng: np.random.Generator, speed: float = 1.0, components: int = 3) -> Motion:
    """Random smooth trajectories: periods of 18-64 frames (÷ speed); amplitudes sum to one per parameter."""
    amp = rng.uniform(0.2, 1.0, (P, components))
    amp /= amp.sum(1, keepdims=True)
    omega = 2 * np.pi / rng.uniform(18.0, 64.0, (P, components)) * speed
    phase = rng.uniform(0, 2 * np.pi, (P, components))
    return Motion(amp, omega, phase)


def _rot(vec: np.ndarray, ang: np.ndarray) -> np.ndarray:
    """Rotate N×2 vectors by N angles (image coordinates, y down)."""
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    return np.concatenate([c * vec[:, :1] - s * vec[:, 1:], s * vec[:, :1] + c * vec[:, 1:]], 1)


def skeleton(lengths: Dict[str, float], pose: np.ndarray) -> Dict[str, np.ndarray]:
    """Body-local points (N×2, body units, origin = pelvis, unrotated) of all joints and part ends."""
    L, n = lengths, len(pose)
    down = np.tile(np.array([[0.0, 1.0]]), (n, 1))
    pts: Dict[str, np.ndarray] = {"pelvis": np.zeros((n, 2))}
    pts["neck"] = np.tile([[0.0, -L["torso_len"]]], (n, 1))
    head_dir = _rot(-down, pose[:, 4])
    pts["head"] = pts["neck"] + head_dir * (L["neck_len"] + L["head_r"] * L["head_aspect"])
    top = -L["torso_len"] + L["shoulder_drop"] - 0.5 * L["upper_arm_r"]
    bottom = L["hip_drop"] + 0.3 * L["thigh_r"]
    for side, s in (("r", -1.0), ("l", 1.0)):  # torso quad corners
        pts[f"torso_{side}s"] = np.tile([[s * (L["shoulder_half"] + 0.6 * L["upper_arm_r"]), top]], (n, 1))
        pts[f"torso_{side}h"] = np.tile([[s * (L["hip_half"] + 0.9 * L["thigh_r"]), bottom]], (n, 1))
    for side, s, ia in (("r", -1.0, 5), ("l", 1.0, 7)):
        sh = np.tile([[s * L["shoulder_half"], -L["torso_len"] + L["shoulder_drop"]]], (n, 1))
        arm = _rot(down, -s * pose[:, ia])
        fore = _rot(arm, -s * pose[:, ia + 1])
        pts[f"{side}_shoulder"] = sh
        pts[f"{side}_elbow"] = sh + arm * L["upper_arm"]
        pts[f"{side}_wrist"] = pts[f"{side}_elbow"] + fore * L["forearm"]
        pts[f"{side}_hand"] = pts[f"{side}_wrist"] + fore * L["hand_r"] * 0.8
        ih = 9 if side == "r" else 11
        hip = np.tile([[s * L["hip_half"], L["hip_drop"]]], (n, 1))
        thigh = _rot(down, -s * pose[:, ih])
        shin = _rot(thigh, s * pose[:, ih + 1])
        pts[f"{side}_hip"] = hip
        pts[f"{side}_knee"] = hip + thigh * L["thigh"]
        pts[f"{side}_ankle"] = pts[f"{side}_knee"] + shin * L["shin"]
        pts[f"{side}_toe"] = pts[f"{side}_ankle"] + _rot(shin, -s * np.full(n, 1.35)) * L["foot_len"]
    return pts


def _keypoint_array(pts: Dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([pts[k] for k in KEYPOINT_NAMES], 1)  # N×K×2


def forward_kinematics(identity: Identity, pose: np.ndarray, resolution: int, figure_height: float
                       ) -> Tuple[Dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """World (pixel) positions of all skeleton points, the rotation and pixels per body unit per frame.

    Pixel convention: pixel centres at integer coordinates (x = column, y = row).
    """
    pose = np.asarray(pose, np.float64).reshape(-1, P)
    local = skeleton(identity.lengths, pose)
    scale = figure_height * np.exp(pose[:, 3]) * resolution  # px per body unit
    root = pose[:, :2] * resolution - 0.5
    world = {k: root + scale[:, None] * _rot(v, pose[:, 2]) for k, v in local.items()}
    return world, pose[:, 2], scale


def _softmin(a: np.ndarray, b: np.ndarray, k: float = 0.03) -> np.ndarray:
    m = np.minimum(a, b)
    return m - k * np.log1p(np.exp(-np.abs(a - b) / k))  # <= min(a, b), smooth


def motion_poses(identity: Identity, motion: Motion, frames: np.ndarray, figure_height: float,
                 motion_scale: float = 1.0, margin: float = 0.05) -> np.ndarray:
    """Pose vectors (N×P) of ``frames``: sinusoids, then scale and root fitted so joints stay inside.

    Scale is soft-clamped so the joints' extent fits ``1 - 2 margin`` of the frame; the root moves within
    the room that is left (``tx``/``ty`` parameters -1..1 pick the place), so every keypoint lies at least
    ``margin`` (frame units) inside the frame, smoothly in time.
    """
    t = np.asarray(frames, np.float64).reshape(-1, 1, 1)
    wave = (motion.amp[None] * np.sin(motion.omega[None] * t + motion.phase[None])).sum(-1)  # N×P in [-1,1]
    amp = _MOTION_AMP * np.where(np.arange(P) < 2, 1.0, motion_scale)
    pose = _MOTION_MEAN[None] + amp[None] * wave
    kp = _keypoint_array(skeleton(identity.lengths, pose))  # body-local, N×K×2
    c, s = np.cos(pose[:, 2])[:, None], np.sin(pose[:, 2])[:, None]
    rk = np.stack([c * kp[..., 0] - s * kp[..., 1], s * kp[..., 0] + c * kp[..., 1]], -1)
    lo, hi = rk.min(1), rk.max(1)  # N×2 extents around the root (body units)
    room = 1.0 - 2.0 * margin
    max_scale = np.log(room / (figure_height * np.maximum(hi - lo, 1e-6)))
    log_scale = _softmin(_softmin(pose[:, 3], max_scale[:, 0]), max_scale[:, 1])
    size = figure_height * np.exp(log_scale)[:, None]
    low, high = margin - size * lo, 1.0 - margin - size * hi  # free room for the root (frame units)
    root = low + (high - low) * (0.5 + 0.5 * np.clip(pose[:, :2], -1, 1))
    pose[:, :2], pose[:, 3] = root, log_scale
    return pose
