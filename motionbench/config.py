"""Config helpers shared by the Python API and the Hydra CLI.

The method yaml files in ``motionbench/conf/method/`` are the single source of truth for presets:
``create_animator("fomm", preset="tiny")`` and ``python -m motionbench method=fomm`` read the same file.
"""
from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any, Dict, Mapping

__all__ = ["method_presets", "load_conf_yaml"]


@functools.lru_cache(maxsize=None)
def load_conf_yaml(relpath: str) -> Dict[str, Any]:
    """Read ``motionbench/conf/<relpath>`` as a plain dict ({} when the file does not exist)."""
    from omegaconf import OmegaConf

    node = resources.files("motionbench.conf").joinpath(relpath)
    if not node.is_file():
        return {}
    cfg = OmegaConf.create(node.read_text(encoding="utf-8"))
    return OmegaConf.to_container(cfg, resolve=False)  # type: ignore[return-value]


def method_presets(method: str) -> Dict[str, Dict[str, Any]]:
    """The ``presets`` node of ``conf/method/<method>.yaml`` (empty for third-party methods)."""
    return dict(load_conf_yaml(f"method/{method}.yaml").get("presets") or {})


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> Dict[str, Any]:
    """Recursive dict merge (override wins); inputs are not modified."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out

