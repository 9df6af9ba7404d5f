"""Checkpoint files: the motionbench format, verified atomic writes, and one loader for every method's
official files (FOMM, LIA, LWGAN, TPSMM, MRAA, ...).

:class:`CheckpointIO` is the part of the :class:`~motionbench.core.animator.Animator` base class that reads and
writes weights: ``save_checkpoint`` / ``checkpoint_dict`` (format tag, method name, constructor config,
state dict), ``from_checkpoint`` (motionbench files carry their config; official files are built from a
preset), and ``load_state_dict_checked`` (strict, naming the file and the first bad keys).

A method with an official format sets ``official_entries`` (top-level keys that identify its files) and
implements the hook ``official_state_dict(data) -> dict`` (like timm's ``pretrained_filter_fn``): it maps the
loaded file to the model's own state-dict keys. ``official_optional`` lists key prefixes that an official
file may lack (parts the official demo does not need, e.g. a discriminator or an AVD network); every other
key is loaded strictly. Errors are :class:`CheckpointError` naming the file and the first missing /
unexpected / mis-shaped keys; the loaded model is returned in eval mode.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Mapping, Optional, Tuple, Type, Union

import torch
from torch import Tensor, nn

from .config import deep_merge

if TYPE_CHECKING:  # pragma: no cover
    from .animator import Animator

__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "CheckpointIO", "save_atomic", "is_official", "load_official",
           "build_official"]

CHECKPOINT_FORMAT = "motionbench-checkpoint-v1"
PathLike = Union[str, "os.PathLike[str]"]


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not fit the model (message names the file)."""


def save_atomic(obj: Any, path: Union[str, os.PathLike]) -> Path:
    """torch.save to a temporary file in the same folder, fsync, verify the zip archive (every member's
    CRC), then rename: never a half-written or corrupt file. Temp files of killed writers are removed."""
    from ..files.atomic import atomic_output, clean_stale_temps

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path.parent)
    with atomic_output(path, _verify_torch_file, what="checkpoint") as tmp:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
    return path


def _verify_torch_file(path: Path) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"checkpoint {path}: written file is not readable ({exc})") from exc
    if bad is not None:
        raise CheckpointError(f"checkpoint {path}: written file is corrupt (member {bad})")


class CheckpointIO:
    """Checkpoint reading and writing of :class:`~motionbench.core.animator.Animator` (a mixin of the base class)."""

    #: top-level keys that identify the method's official checkpoint files, and key prefixes such a file may
    #: lack; see :meth:`official_state_dict`
    official_entries: ClassVar[Tuple[str, ...]] = ()
    official_optional: ClassVar[Tuple[str, ...]] = ()

    def _discriminator_prefix(self) -> Optional[str]:
        disc = self.discriminator_module()
        return next((f"{name}." for name, m in self.named_modules() if m is disc and name), None)

    def checkpoint_dict(self, inference_only: bool = False, half: bool = False, **extra: Any) -> Dict[str, Any]:
        """motionbench checkpoint layout: format tag, method name, config, model state dict. With
        ``inference_only`` the discriminator's weights are left out (``animate`` never uses them); loading
        such a file leaves the discriminator at its initialisation. With ``half`` floating-point tensors are
        stored as float16 (half the size; ``load_state_dict`` casts them back to the model's dtype)."""
        state = self.state_dict()
        prefix = self._discriminator_prefix() if inference_only else None
        if prefix:
            state = {k: v for k, v in state.items() if not k.startswith(prefix)}
            extra["inference_only"] = True
        if half:
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
            extra["weights_dtype"] = "float16"
        if self.trained_on:
            extra.setdefault("trained_on", dict(self.trained_on))
        return {"format": CHECKPOINT_FORMAT, "method": self.name, "config": self.config, "model": state, **extra}

    def save_checkpoint(self, path: Union[str, os.PathLike], inference_only: bool = False, half: bool = False,
                        **extra: Any) -> Path:
        return save_atomic(self.checkpoint_dict(inference_only, half, **extra), path)

    @staticmethod
    def load_file(path: Union[str, os.PathLike]) -> Dict[str, Any]:
        """torch.load with weights_only=True and errors that name the file."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"checkpoint {path}: file not found")
        if path.stat().st_size == 0:
            raise CheckpointError(f"checkpoint {path}: file is empty (0 bytes)")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle/zip errors differ between torch versions
            if "weights_only" in str(exc):  # torch's message advises weights_only=False: wrong for a refused file
                unsafe = next((ln.strip() for ln in str(exc).splitlines() if "Unsupported" in ln), "")
                raise CheckpointError(
                    f"checkpoint {path}: refused, it holds Python objects besides tensors and plain containers "
                    f"({unsafe or 'not loadable with weights_only=True'}), and unpickling them could run code; "
                    f"re-save it as a plain dict of tensors from the code that wrote it") from exc
            raise CheckpointError(f"checkpoint {path}: cannot be read ({type(exc).__name__}: {exc})") from exc
        if not isinstance(data, dict):
            raise CheckpointError(f"checkpoint {path}: expected a dict, found {type(data).__name__}")
        return data

    @classmethod
    def from_checkpoint(cls, path: Union[str, os.PathLike], preset: Optional[str] = None, **overrides: Any) -> "Animator":
        """Load a motionbench checkpoint. Methods with official formats override this and fall back here.

        ``preset`` names the architecture of official files; motionbench files carry their own config.
        """
        data = cls.load_file(path)
        if is_official(cls, data):
            return build_official(cls, path, data, preset, overrides)
        if data.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(
                f"checkpoint {path}: not a motionbench checkpoint and not an official '{cls.name}' layout "
                f"(top-level keys: {', '.join(map(str, list(data)[:8]))})")
        if data.get("method") != cls.name:
            raise CheckpointError(f"checkpoint {path}: written by method '{data.get('method')}', not '{cls.name}'")
        # a motionbench checkpoint carries the config it was trained with; ``preset`` (meant for official
        # formats, which carry none) is ignored here, ``overrides`` still apply (e.g. align_corners)
        missing = [k for k in ("config", "model") if k not in data]
        if missing:
            raise CheckpointError(f"checkpoint {path}: motionbench checkpoint without {' and '.join(missing)} "
                                  f"(truncated or hand-edited? re-export it with Animator.save_checkpoint)")
        if not isinstance(data["config"], Mapping) or not isinstance(data["model"], Mapping):
            raise CheckpointError(f"checkpoint {path}: 'config' and 'model' must be dicts, found "
                                  f"{type(data['config']).__name__} and {type(data['model']).__name__}")
        config = deep_merge(data["config"], overrides)
        try:
            model = cls(**config)
        except (TypeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"checkpoint {path}: its config does not build a '{cls.name}' model "
                                  f"({type(exc).__name__}: {exc})") from exc
        model.load_state_dict_checked(data["model"], path,
                                      allow_missing=model._discriminator_prefix() if data.get("inference_only") else None)
        model.trained_on = dict(data.get("trained_on") or {})
        return model.eval()

    def official_state_dict(self, data: Mapping[str, Any]) -> Dict[str, Tensor]:
        """The official file ``data`` as this model's state dict (a missing entry raises KeyError). Default:
        the file's ``official_entries`` and the ``official_optional`` parts present in both the file and the
        model are state dicts of the sub-modules of the same names."""
        if not self.official_entries:
            raise NotImplementedError(f"method '{self.name}' has no official checkpoint format")
        optional = [p.rstrip(".") for p in self.official_optional]
        parts = list(self.official_entries) + [p for p in optional if p in data and getattr(self, p, None) is not None]
        state: Dict[str, Tensor] = {}
        for part in parts:
            if not isinstance(data[part], Mapping):
                raise TypeError(f"entry '{part}' is a {type(data[part]).__name__}, not a state dict")
            state.update({f"{part}.{k}": v for k, v in data[part].items()})
        return state

    def load_state_dict_checked(self, state: Mapping[str, Tensor], path: Union[str, os.PathLike, None] = None,
                                module: Optional[nn.Module] = None,
                                allow_missing: Union[str, Tuple[str, ...], None] = None) -> None:
        """Strict load that names missing / unexpected / mis-shaped keys and the file; keys starting with
        ``allow_missing`` (an inference-only file's discriminator) may be absent."""
        module = self if module is None else module
        own = module.state_dict()
        missing = sorted(k for k in set(own) - set(state) if not (allow_missing and k.startswith(allow_missing)))
        unexpected = sorted(set(state) - set(own))
        shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
        if missing or unexpected or shapes:
            def show(items):
                return ", ".join(items[:10]) + (f" ... (+{len(items) - 10})" if len(items) > 10 else "")

            parts = []
            if missing:
                parts.append(f"missing keys: {show(missing)}")
            if unexpected:
                parts.append(f"unexpected keys: {show(unexpected)}")
            if shapes:
                parts.append(f"shape mismatches: {show(shapes)}")
            where = f"checkpoint {path}" if path is not None else "state dict"
            raise CheckpointError(f"{where} does not fit {type(module).__name__} of method '{self.name}': " + "; ".join(parts))
        bad = [k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            where = f"checkpoint {path}" if path is not None else "state dict"
            raise CheckpointError(f"{where} holds NaN/Inf weights in {len(bad)} tensor(s) (e.g. {', '.join(bad[:3])}); "
                                  f"it would produce undefined results -- use an earlier checkpoint of that run")
        module.load_state_dict(state, strict=not allow_missing)


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
