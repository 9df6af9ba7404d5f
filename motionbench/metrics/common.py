"""Helpers shared by the metrics: weight resolution with metric-level errors, extractor construction."""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import torch
from torch import Tensor

from .base import MetricContext, MetricError

__all__ = ["resolve_weight", "option", "instantiate", "plugin", "quantize_uint8", "load_state_dict_file"]


def resolve_weight(name: str, context: MetricContext, metric: str) -> Path:
    """Path of weight file ``name`` (see :mod:`motionbench.hub.weights`); never downloads.

    A missing or mismatching file becomes a :class:`MetricError` whose message names the file, where it
    belongs, where it comes from and the command ``python -m motionbench weights``.
    """
    from ..hub import weights

    try:
        return weights.resolve(name, verify=context.verify_weights)
    except (weights.MissingWeightsError, weights.WeightsMismatchError) as exc:
        raise MetricError(f"metric '{metric}' cannot run: {exc}") from exc


def load_state_dict_file(path: Path) -> Dict[str, Tensor]:
    """``torch.load(path, weights_only=True)`` on CPU; accepts a bare state dict or ``{"state_dict": ...}``."""
    sd = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]
    return dict(sd)


def option(metric_options: Mapping[str, Any], context: MetricContext, key: str, default: Any = None,
           global_key: Optional[str] = None) -> Any:
    """A metric's own option, else the run-wide ``context.options[global_key or key]``, else ``default``."""
    if metric_options.get(key) is not None:
        return metric_options[key]
    val = context.options.get(global_key or key) if context.options else None
    return default if val is None else val


def instantiate(cls: Any, context: MetricContext, **kwargs: Any) -> Any:
    """Construct a plug-in (extractor / embedder), passing ``context``/``device``/``verify`` when accepted."""
    if not isinstance(cls, type):
        return cls  # an already constructed object was registered
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    has_var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
    extra = {"context": context, "device": context.device, "verify": context.verify_weights}
    for key, val in extra.items():
        if key not in kwargs and (key in params or (has_var_kw and key == "context")):
            kwargs[key] = val
    return cls(**kwargs)


def plugin(spec: Any, base: type, registry: str, context: MetricContext, option_key: str, global_key: str,
           face_default: str, other_default: str, options: Optional[Mapping[str, Any]] = None,
           body_default: Optional[str] = None) -> "tuple[Any, str]":
    """The keypoint extractor / identity embedder a metric uses, and its name.

    ``spec``: an instance of ``base`` (used as is), a registered name, or None — then the run-wide option
    ``context.options[global_key]``, else ``face_default`` on face datasets, ``body_default`` on body datasets
    and ``other_default`` elsewhere.
    """
    from .. import registries
    from .base import BODY_DATASETS, FACE_DATASETS

    spec = spec or option({}, context, option_key, None, global_key=global_key)
    if isinstance(spec, base):
        return spec, type(spec).__name__
    kind = context.dataset.lower()
    default = face_default if kind in FACE_DATASETS else body_default if kind in BODY_DATASETS else None
    name = str(spec or default or other_default)
    return instantiate(getattr(registries, registry).get(name), context, **dict(options or {})), name


def quantize_uint8(images: Tensor) -> Tensor:
    """Round [0,1] images to the 256 levels a saved PNG/video frame has (as file-based evaluations see them)."""
    return torch.round(images.clamp(0, 1) * 255.0) / 255.0
