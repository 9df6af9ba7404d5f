"""Joint names and reserved marker colours of the synthetic puppets (the detector that finds the markers
on any image is :class:`motionbench.metrics.markers.MarkerDetector`).

Every joint of a puppet carries a small disc of its own fully saturated colour (14 hues on the colour
wheel, S = V = 1; any two are >= 0.32 apart in RGB). Body and background colours are drawn with chroma (max - min channel) at most
:data:`MAX_BODY_CHROMA`, and every blend of such colours stays below it, so a pixel close to a reserved
colour can only come from a marker. The detector needs no neural net: it scores pixels by their distance
to each reserved colour, picks the densest spot per colour and returns the weighted centroid there, which
also works on blurry generated frames and says "missing" when no spot is dense enough.
"""
from __future__ import annotations

import colorsys
from typing import Sequence, Tuple

import numpy as np

__all__ = ["KEYPOINT_NAMES", "NUM_KEYPOINTS", "MARKER_COLORS", "MAX_BODY_CHROMA", "MARKER_RADIUS"]

#: Joint order of the synthetic puppets ("r_" = the puppet's right side, drawn nearer the viewer).
KEYPOINT_NAMES: Tuple[str, ...] = (
    "head", "neck",
    "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
)
NUM_KEYPOINTS: int = len(KEYPOINT_NAMES)

#: Body/background colours never exceed this chroma; markers have chroma 1 (RGB distance >= 0.49).
MAX_BODY_CHROMA: float = 0.4

#: Marker radius as a fraction of the frame height (1.9 px at 64x64).
MARKER_RADIUS: float = 0.03


#: Hue slot (of 14 around the wheel) of each joint, chosen so that joints that are often close to each
#: other (left/right pairs, a limb's two ends, hands near hips or head) are >= 3 slots (77°) apart.
_HUE_SLOTS: Tuple[int, ...] = (0, 10, 6, 13, 4, 1, 11, 8, 9, 2, 5, 3, 7, 12)


def _palette(slots: Sequence[int]) -> np.ndarray:
    """Fully saturated colours (S = V = 1) at the given hue slots."""
    k = len(slots)
    return np.array([colorsys.hsv_to_rgb(s / k, 1.0, 1.0) for s in slots], np.float32)


#: K×3 float32 reserved colours in [0, 1], one per joint of :data:`KEYPOINT_NAMES`.
MARKER_COLORS: np.ndarray = _palette(_HUE_SLOTS)
