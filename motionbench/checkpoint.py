"""One loader for the official checkpoint files of every method (FOMM, LIA, LWGAN, TPSMM, MRAA, ...).

A method with an official format sets ``official_entries`` (top-level keys that identify its files) and
implements the hook ``official_state_dict(data) -> dict`` (like timm's ``pretrained_filter_fn``): it maps the
loaded file to the model's own state-dict keys. ``official_optional`` lists key prefixes that an official
file may lack (parts the official demo does not need, e.g. a discriminator or an AVD network); every other
key is loaded strictly. Errors are :class:`~motionbench.animator.CheckpointError` naming the file and the
first missing / unexpected / mis-shaped keys; the loaded model is returned in eval mode.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Optional, Type, Union

from .animator import CHECKPOINT_FORMAT, CheckpointError, deep_merge

if TYPE_CHECKING:  # pragma: no cover
    from .animator import Animator

__all__ = ["is_official", "load_official", "build_official"]

PathLike = Union[str, "os.PathLike[str]"]


def is_official(cls: Type["Animator"], data: Mapping[str, Any]) -> bool:
    """True when ``data`` (a loaded file) is not a motionbench checkpoint and has one of the method's
    ``official_entries``."""
    entries = getattr(cls, "official_entries", ())
    return data.get("format") != CHECKPOINT_FORMAT and any(k in data for k in entries)


def load_official(model: "Animator", path: PathLike, data: Optional[Mapping[str, Any]] = None) -> "Animator":
    """Load the official file ``path`` (or its already loaded ``data``) into ``model`` strictly; eval mode."""
    data = model.load_file(path) if data is None else data
    try:
        state = model.official_state_dict(data)
    except KeyError as exc:
        raise CheckpointError(f"checkpoint {path}: official '{model.name}' layout without entry {exc} "
                              f"(top-level keys: {', '.join(map(str, list(data)[:12]))})") from None
    except TypeError as exc:
        raise CheckpointError(f"checkpoint {path}: official '{model.name}' layout: {exc}") from None
    model.load_state_dict_checked(state, path, allow_missing=tuple(getattr(model, "official_optional", ())) or None)
    return model.eval()


def build_official(cls: Type["Animator"], path: PathLike, data: Mapping[str, Any], preset: Optional[str],
                   overrides: Mapping[str, Any]) -> "Animator":
    """Build ``cls`` from ``preset`` (default: the method's default preset) + ``overrides`` — official
    files carry no config — and load the official ``data`` into it."""
    presets = cls.presets()
    name = preset or cls.default_preset
    if name not in presets:
        raise CheckpointError(f"checkpoint {path}: unknown {cls.name} preset '{name}' "
                              f"(known: {', '.join(sorted(presets))})")
    return load_official(cls(**deep_merge(presets[name], overrides)), path, data)
