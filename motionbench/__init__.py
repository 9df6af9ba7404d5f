"""motionbench: one interface, one trainer and one benchmark runner for motion-transfer methods.

Public API::

    import motionbench
    motionbench.list_animators()                     # ['fomm', 'identity', 'lia', ...]
    model = motionbench.create_animator("lia", preset="tiny")
    video = model.animate(source, driving, mode="relative")   # [0,1] in, [0,1] out

Importing this package is cheap: methods, datasets and metrics are imported on first use.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, TypeVar

from .core.adversarial import Adversarial
from .core.animator import Animator, Capabilities
from .core.checkpoint import CheckpointError
from .registries import ANIMATORS, DATASETS, METRICS
from .registries import Registry, UnknownNameError

__version__ = "0.1.0"
__all__ = ["Adversarial", "Animator", "Capabilities", "CheckpointError", "Registry", "UnknownNameError", "create_animator",
           "list_animators", "register_animator", "get_animator_class", "load_image", "load_video", "iter_video",
           "save_video", "__version__"]
_MEDIA = ("load_image", "load_video", "iter_video", "save_video")


def __getattr__(name: str) -> Any:  # the media helpers import PIL / imageio on first use only
    if name in _MEDIA:
        from .files import media

        return getattr(media, name)
    raise AttributeError(f"module 'motionbench' has no attribute {name!r}")

T = TypeVar("T")


def list_animators() -> List[str]:
    """Names of all registered animators, built-in and plugins."""
    return ANIMATORS.names()


def get_animator_class(name: str) -> type:
    return ANIMATORS.get(name)


def create_animator(name: str, *, preset: Optional[str] = None, checkpoint: Optional[str] = None,
                    pretrained: Optional[str] = None, download: bool = False, **overrides: Any) -> Animator:
    """Build the animator ``name`` (in eval mode, ready for ``animate``) from a preset (default: the method's
    default) plus overrides.

    ``pretrained="vox"`` (or ``checkpoint="official:vox"``) loads that official checkpoint from the cache
    (:mod:`motionbench.hub.pretrained`, ``python -m motionbench weights`` says where it goes) with its preset;
    ``download=True`` fetches it first where a direct link is known. ``checkpoint="auto"`` is the committed
    synthetic checkpoint; any other ``checkpoint`` is a file: weights (and, for motionbench checkpoints, the
    config) come from it; official formats are recognised by the methods that support them.
    """
    if pretrained is not None:
        if checkpoint is not None:
            raise ValueError("pass either pretrained=TAG or checkpoint=PATH, not both")
        checkpoint = f"official:{pretrained}"
    if checkpoint is not None and (checkpoint == "auto" or checkpoint.startswith("official:")):
        from .hub.build import build_model

        cfg = {"name": name, "preset": preset or "auto", "checkpoint": checkpoint, "params": overrides}
        model, info = build_model(cfg, "synthetic", 64, download=download)
        if info["path"] is None:
            raise CheckpointError(f"checkpoint='auto': no committed synthetic checkpoint for method '{name}'")
        return model.eval()
    cls = get_animator_class(name)
    if checkpoint is not None:
        return cls.from_checkpoint(checkpoint, preset=preset, **overrides).eval()
    return cls.build(preset, **overrides).eval()


def register_animator(name: str, aliases: Sequence[str] = (), *, replace: bool = False) -> Callable[[T], T]:
    """Class decorator registering an :class:`Animator` subclass under ``name``."""

    def deco(cls: T) -> T:
        if not (isinstance(cls, type) and issubclass(cls, Animator)):
            raise TypeError(f"register_animator expects an Animator subclass, got {cls!r}")
        ANIMATORS.add(name, cls, aliases, replace=replace)
        return cls

    return deco
