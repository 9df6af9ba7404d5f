"""Config helpers shared by the Python API and the Hydra CLI.

The method yaml files in ``motionbench/conf/method/`` are the single source of truth for presets:
``create_animator("fomm", preset="tiny")`` and ``python -m motionbench method=fomm`` read the same file.
"""
from __future__ import annotations

import copy
import functools
from importlib import resources
import inspect
from typing import Any, Callable, Dict, Mapping

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


def plain_config(value: Any) -> Any:
    """A config value as plain, independent data: mappings -> dicts, tuples -> lists, deep-copied."""
    if isinstance(value, Mapping):
        return {str(k): plain_config(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_config(v) for v in value]
    return copy.deepcopy(value)


def capturing_init(init: Callable[..., None]) -> Callable[..., None]:
    """``init`` that first records its bound arguments (defaults applied, ``**kwargs`` merged) as the
    instance's config; only the outermost constructor of a subclass chain records."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "_captured_config" in self.__dict__ or "config" in self.__dict__:
            return init(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        config: Dict[str, Any] = {}
        for name, param in list(signature.parameters.items())[1:]:
            if param.kind is param.VAR_KEYWORD:
                config.update(bound.arguments.get(name, {}))
            elif param.kind is param.VAR_POSITIONAL:
                raise TypeError(f"{init.__qualname__}: *{name} cannot be captured as a config; use keyword arguments")
            else:
                config[name] = bound.arguments[name]
        self.__dict__["_captured_config"] = plain_config(config)
        init(self, *args, **kwargs)

    __init__._captures_config = True  # type: ignore[attr-defined]
    return __init__
