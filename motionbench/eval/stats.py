"""Bootstrap confidence intervals over videos: one row's interval, and paired differences.

Test sets in this field are small (8 synthetic test videos, ~100-300 real ones) and videos differ far more
than frames within a video, so the resampling unit is the *video*: a bootstrap sample draws videos with
replacement and recomputes the statistic (the mean of video means, or the frame-weighted mean for
``compat=pose_eval`` rows). Percentile intervals, seeded, ``n_boot`` resamples. Two rows scored on the
same videos are compared with a *paired* bootstrap of the per-video differences; a difference whose
interval contains 0 is reported as unresolved.
"""
from __future__ import annotations

import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["bootstrap_ci", "paired_bootstrap", "resample_groups", "percentile_interval", "DEFAULT_N_BOOT",
           "DEFAULT_LEVEL"]

DEFAULT_N_BOOT = 1000
DEFAULT_LEVEL = 0.95


def _indices(n_videos: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng([int(seed), 0xB007]).integers(0, n_videos, size=(int(n_boot), n_videos))


def resample_groups(groups: Sequence[np.ndarray], n_boot: int, seed: int) -> List[np.ndarray]:
    """``n_boot`` resamples of the groups (videos) with replacement, each as the concatenated members (rows)."""
    idx = _indices(len(groups), n_boot, seed)
    return [np.concatenate([groups[g] for g in sample]) for sample in idx]


def percentile_interval(samples: np.ndarray, level: float = DEFAULT_LEVEL,
                        estimate: Optional[float] = None) -> Tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap statistics (NaN samples ignored).

    ``estimate`` given: the interval is shifted by the bootstrap's bias (mean of the samples − estimate).
    Set statistics such as FID grow when a resample repeats frames (fewer distinct frames), so their
    uncorrected bootstrap distribution can lie entirely above the estimate."""
    samples = np.asarray(samples, np.float64)
    lo, hi = _interval(samples, level)
    if estimate is None or not math.isfinite(lo):
        return lo, hi
    bias = float(np.nanmean(samples)) - float(estimate)
    return lo - bias, hi - bias


def _interval(samples: np.ndarray, level: float) -> Tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(samples, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def bootstrap_ci(per_video: Sequence[np.ndarray], frame_weighted: bool = False, n_boot: int = DEFAULT_N_BOOT,
                 seed: int = 0, level: float = DEFAULT_LEVEL) -> Tuple[float, float]:
    """Percentile interval of the mean over videos (``per_video``: each video's defined frame values).

    ``frame_weighted``: the statistic is the mean over all frames of the resampled videos; otherwise the
    mean of the resampled videos' means. Videos without a defined value are left out; with fewer than two
    videos the interval is undefined (NaN, NaN).
    """
    vids = [np.asarray(v, np.float64) for v in per_video if np.size(v)]
    if len(vids) < 2 or n_boot <= 0:
        return math.nan, math.nan
    idx = _indices(len(vids), n_boot, seed)
    if frame_weighted:
        sums = np.array([v.sum() for v in vids])
        counts = np.array([v.size for v in vids], np.float64)
        samples = sums[idx].sum(1) / counts[idx].sum(1)
    else:
        means = np.array([v.mean() for v in vids])
        samples = means[idx].mean(1)
    return _interval(samples, level)


def paired_bootstrap(a: Mapping[str, float], b: Mapping[str, float], n_boot: int = DEFAULT_N_BOOT, seed: int = 0,
                     level: float = DEFAULT_LEVEL) -> Dict[str, Optional[float]]:
    """Mean of per-video differences ``a - b`` over the videos both define, with its paired interval.

    Returns ``{"diff", "ci_low", "ci_high", "n_videos", "resolved"}``; ``resolved`` is True when the
    interval excludes 0 (None when undefined).
    """
    common = [v for v in a if v in b and math.isfinite(a[v]) and math.isfinite(b[v])]
    d = np.array([a[v] - b[v] for v in common], np.float64)
    out: Dict[str, Optional[float]] = {"diff": float(d.mean()) if d.size else math.nan, "n_videos": len(common)}
    if d.size < 2:
        out.update(ci_low=math.nan, ci_high=math.nan, resolved=None)
        return out
    lo, hi = _interval(d[_indices(d.size, n_boot, seed)].mean(1), level)
    out.update(ci_low=lo, ci_high=hi, resolved=bool(lo > 0 or hi < 0))
    return out
