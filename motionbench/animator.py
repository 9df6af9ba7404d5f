"""The Animator contract every method implements (DESIGN §3).

Images are float tensors in [0, 1]: sources B×3×H×W, driving clips B×T×3×H×W (a single driving frame
B×3×H×W is accepted too). The output has the shape of ``driving``. A method working in [-1, 1]
internally converts at its own boundary.

Subclasses implement :meth:`encode_source` and :meth:`animate_state`; the base class validates inputs,
encodes the source once, and checks the requested mode against the method's :class:`Capabilities`.
Training hooks (:meth:`generator_losses`, :meth:`discriminator_losses`) are used by the shared trainer.
"""
from __future__ import annotations

import abc
import contextlib
import copy
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

__all__ = ["Animator", "Capabilities", "SourceState", "CheckpointError", "MODES", "PRECISIONS", "deep_merge",
           "save_atomic", "resolve_dtype"]

MODES = ("absolute", "relative", "avd")
SourceState = Dict[str, Any]  # whatever a method caches about a source image (features, keypoints, ...)
CHECKPOINT_FORMAT = "motionbench-checkpoint-v1"
#: inference precisions: names (CLI ``benchmark.precision``) -> autocast dtype (None: float32, no autocast)
PRECISIONS: Dict[str, Optional[torch.dtype]] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_dtype(dtype: Union[str, torch.dtype, None]) -> Optional[torch.dtype]:
    """``"bf16"`` / ``"fp16"`` / ``"fp32"`` / a torch dtype -> the autocast dtype (None for float32)."""
    if dtype is None or dtype == torch.float32:
        return None
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float16, torch.bfloat16):
            raise ValueError(f"dtype must be torch.float32, torch.float16 or torch.bfloat16, got {dtype}")
        return dtype
    if dtype not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {dtype!r}")
    return PRECISIONS[dtype]


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not fit the model (message names the file)."""


@dataclass(frozen=True)
class Capabilities:
    """What a method can do, so that runners never call what it lacks."""

    relative: bool = True  # supports mode="relative"
    avd: bool = False  # supports mode="avd" (animation via disentanglement: TPSMM, MRAA)
    keypoints: bool = False  # exposes detect_keypoints(images) -> {"value": B×K×2 in [-1,1], ...}
    trainable: bool = True  # implements generator_losses / discriminator_losses
    adversarial: bool = False  # has a discriminator (trainer runs D steps)
    multi_source: bool = False  # accepts B×N×3×H×W sources (N source images fused)
    checkpoint_formats: Tuple[str, ...] = ("motionbench",)  # e.g. ("motionbench", "fomm-official")
    value_range: Tuple[float, float] = (0.0, 1.0)  # range of images at the animate() boundary
    half_precision: bool = False  # animate() may run under float16 / bfloat16 autocast (checked against fp32)
    floor: bool = False  # a reference baseline: the benchmark scores its cross-identity protocol in every mode


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> Dict[str, Any]:
    """Recursive dict merge (override wins); inputs are not modified."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def save_atomic(obj: Any, path: Union[str, os.PathLike]) -> Path:
    """torch.save to a temporary file in the same folder, fsync, verify the zip archive (every member's
    CRC), then rename: never a half-written or corrupt file. Temp files of killed writers are removed."""
    from .io_safe import atomic_output, clean_stale_temps

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


class Animator(nn.Module, abc.ABC):
    """Base class of all animators. Constructor arguments are the method's config (official names)."""

    name: ClassVar[str] = "animator"
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: what a training batch must hold: "source"/"driving" are two frames of one video; "other" adds a
    #: frame of a different identity (cross-identity training, e.g. the cross-training method)
    training_inputs: ClassVar[Tuple[str, ...]] = ("source", "driving")
    #: name prefixes of parameters the official architecture defines but its forward never uses (kept so
    #: official checkpoints load strictly); the gradient-coverage test skips exactly these
    unused_parameters: ClassVar[Tuple[str, ...]] = ()
    #: preset used when neither a preset nor a full config is given (see :meth:`presets`)
    default_preset: ClassVar[Optional[str]] = None
    #: the method's official GAN settings, used where the loss config leaves a key out (see :meth:`gan_setting`)
    gan_defaults: ClassVar[Mapping[str, Any]] = {"generator_gan": 0.0, "discriminator_gan": 1.0, "gan_kind": "lsgan"}
    #: top-level keys that identify the method's official checkpoint files, and key prefixes such a file may
    #: lack; see :mod:`motionbench.checkpoint` and :meth:`official_state_dict`
    official_entries: ClassVar[Tuple[str, ...]] = ()
    official_optional: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, **config: Any) -> None:
        super().__init__()
        #: the resolved constructor config, stored in checkpoints so they rebuild the same network
        self.config: Dict[str, Any] = copy.deepcopy(config)
        #: what the weights were trained on: {"dataset": ..., "resolution": ...} (empty for random init);
        #: written into checkpoints, read back by from_checkpoint / the official-checkpoint catalogue
        self.trained_on: Dict[str, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass's ``encode_source`` is wrapped so that it, too, takes what users hold (:mod:`motionbench.media`)."""
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("encode_source")
        if fn is not None and not getattr(fn, "__isabstractmethod__", False) and not hasattr(fn, "_converts_input"):
            @functools.wraps(fn)
            def encode_source(self, source, *args, **kw):
                if not isinstance(source, Tensor) or not source.is_floating_point() or source.dim() == 3:
                    from .media import to_source

                    source = to_source(source, self.resolution)[0].to(self._device())
                return fn(self, source, *args, **kw)

            encode_source._converts_input = True  # type: ignore[attr-defined]
            cls.encode_source = encode_source  # type: ignore[method-assign]

    @property
    def resolution(self) -> Optional[int]:
        """The resolution the weights were trained at (checkpoint metadata), else the architecture's fixed
        input size (``size`` in the config), else None (any size works)."""
        res = self.trained_on.get("resolution") or self.config.get("size")
        return int(res) if res else None

    def _device(self) -> torch.device:
        return next(iter(self.parameters()), torch.empty(0)).device

    # ------------------------------------------------------------------ inference
    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """Eval mode without autograd for the duration; every submodule's ``training`` flag is restored after,
        so inference never changes a model's state (no BatchNorm statistics updates, no mode switch)."""
        modes = [(m, m.training) for m in self.modules()]
        self.eval()
        try:
            with torch.inference_mode():
                yield
        finally:
            for m, flag in modes:
                m.training = flag

    @contextlib.contextmanager
    def precision(self, dtype: Union[str, torch.dtype, None]) -> Iterator[None]:
        """Default autocast dtype of :meth:`animate` calls inside the block (``"bf16"``, ``torch.float16``, ...),
        for callers such as the benchmark runner that do not pass ``dtype`` themselves."""
        previous = self.__dict__.get("_default_dtype")
        self.__dict__["_default_dtype"] = self._check_dtype(resolve_dtype(dtype), self._device())
        try:
            yield
        finally:
            self.__dict__["_default_dtype"] = previous

    def _check_dtype(self, dtype: Optional[torch.dtype], device: torch.device) -> Optional[torch.dtype]:
        if dtype is None:
            return None
        if not self.capabilities.half_precision:
            raise ValueError(f"method '{self.name}' does not support half precision (capabilities.half_precision "
                             f"is False); use float32")
        if dtype == torch.float16 and device.type == "cpu":
            raise ValueError("float16 inference needs a GPU (CPU autocast supports bfloat16 only): "
                             "use dtype=torch.bfloat16 / benchmark.precision=bf16, or float32")
        return dtype

    def _no_grad_ctx(self):
        """inference_mode in eval mode; ordinary autograd in training mode (the training losses reuse the
        inference code paths)."""
        return torch.inference_mode(not self.training)

    @staticmethod
    def frame_chunks(b: int, t: int, chunk: int, device: torch.device) -> Iterator[Tuple[slice, Tensor]]:
        """``(frames, owner)`` over B·T flattened driving frames, ``chunk`` at a time: the slice of the chunk
        and the batch row (source) each of its frames belongs to."""
        for start in range(0, b * t, chunk):
            stop = min(start + chunk, b * t)
            yield slice(start, stop), torch.arange(start, stop, device=device) // t

    @abc.abstractmethod
    def encode_source(self, source: Tensor) -> SourceState:
        """Everything about the source image that does not depend on the driving frames (cacheable)."""

    @abc.abstractmethod
    def animate_state(
        self, state: SourceState, driving: Tensor, *, mode: str, driving_ref: Optional[Tensor]
    ) -> Tensor:
        """Animate from an encoded source. ``driving`` is B×T×3×H×W in [0, 1]; return the same shape.

        ``driving_ref`` (B×3×H×W) is only given in relative mode and is never None there.
        """

    def animate(
        self,
        source: Any,
        driving: Any,
        *,
        mode: str = "absolute",
        driving_ref: Optional[Any] = None,
        source_state: Optional[SourceState] = None,
        size: Optional[int] = None,
        dtype: Union[str, torch.dtype, None] = None,
        **kwargs: Any,
    ) -> Tensor:
        """Animate ``source`` with the motion of ``driving``; returns float32 frames in [0, 1].

        Inputs are float tensors in [0, 1] (source B×3×H×W, driving B×T×3×H×W or one frame B×3×H×W: output
        of the driving's shape) or what users hold: file paths, PIL images, uint8 / [0, 1] float arrays,
        uint8 tensors (:mod:`motionbench.media`); those are centre-cropped and resized to ``size`` (default:
        the size of a tensor input, else the checkpoint's resolution, else the source image's own size) and
        give T×3×H×W (3×H×W for one frame). Bad values or shapes raise ``ValueError``. The model runs in
        eval mode without autograd and its state (training flags, BatchNorm statistics) is left as it was.

        mode="relative" transfers motion relative to ``driving_ref`` (default: the first driving frame), as
        each official demo does. Pass ``source_state`` (from :meth:`encode_source`) to process a long video
        in chunks without re-encoding the source. ``dtype`` (torch.bfloat16 / torch.float16, or "bf16" /
        "fp16") runs under autocast where ``capabilities.half_precision``. Extra keyword arguments are
        method-specific options forwarded to :meth:`animate_state` (e.g. FOMM's ``adapt_movement_scale``).
        """
        from .media import is_media, to_clip, to_source

        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode != "absolute" and not getattr(self.capabilities, mode):
            raise NotImplementedError(f"method '{self.name}' has no {mode} mode")
        if size is None:
            size = next((x.shape[-1] for x in (source, driving) if not is_media(x)), None) or self.resolution
        device = self._device()
        source, src_batched = to_source(source, size)  # size None: a source image keeps its own (square) size
        clip, single, drv_batched = to_clip(driving, source.shape[-1])
        clip, source = clip.to(device), source.to(device)
        self._check_source(source, clip)
        if mode == "relative":
            driving_ref = clip[:, 0] if driving_ref is None else to_source(driving_ref, size, "driving_ref")[0].to(device)
        else:
            driving_ref = None
        dtype = (self._check_dtype(resolve_dtype(dtype), device) if dtype is not None
                 else self.__dict__.get("_default_dtype"))
        cast = torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
        with self.inference(), cast:
            state = self.encode_source(source) if source_state is None else source_state
            out = self.animate_state(state, clip, mode=mode, driving_ref=driving_ref, **kwargs).float()
        out = out[:, 0] if single else out
        return out if (drv_batched or src_batched) else out[0]

    def _check_source(self, source: Tensor, clip: Tensor) -> None:
        expected = 5 if (self.capabilities.multi_source and source.dim() == 5) else 4
        if clip.shape[2] != 3:
            raise ValueError(f"driving must be B×T×3×H×W or B×3×H×W (RGB), got {tuple(clip.shape)}")
        if source.dim() != expected or source.shape[-3] != 3:
            raise ValueError(f"source must be B×3×H×W, got {tuple(source.shape)}")
        if source.shape[0] != clip.shape[0]:
            raise ValueError(f"source batch {source.shape[0]} != driving batch {clip.shape[0]}")
        if source.shape[-2:] != clip.shape[-2:]:
            raise ValueError(f"source size {tuple(source.shape[-2:])} != driving size {tuple(clip.shape[-2:])}")

    def forward(self, source: Tensor, driving: Tensor, **kwargs: Any) -> Tensor:  # nn.Module call
        return self.animate(source, driving, **kwargs)

    # ------------------------------------------------------------------ training hooks
    def generator_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Weighted generator loss terms and the generated outputs (reused by the D step).

        ``batch`` holds at least ``source`` and ``driving`` (B×3×H×W, two frames of one video).
        Returns ``(losses, generated)``; the trainer minimises ``sum(losses.values())``.
        """
        raise NotImplementedError(f"method '{self.name}' cannot be trained (no generator_losses)")

    def discriminator_losses(
        self, batch: Mapping[str, Tensor], generated: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]
    ) -> Dict[str, Tensor]:
        """Weighted discriminator loss terms (only for methods with ``capabilities.adversarial``).

        Default: ``{"disc_gan": loss.discriminator_gan × Σ_maps gan_d_objective(real, fake)}`` over the logit
        maps of :meth:`discriminator_logits` on :meth:`discriminator_inputs`, with the ``loss.gan_kind``
        objective and one-sided ``loss.label_smoothing``; empty when ``loss.generator_gan`` is 0 or there is
        no discriminator (the official trainers skip the D step then). Missing keys: :attr:`gan_defaults`.
        """
        if float(self.gan_setting(loss_cfg, "generator_gan")) == 0 or self.discriminator_module() is None:
            return {}
        kind = str(self.gan_setting(loss_cfg, "gan_kind"))
        real_label = 1.0 - float(loss_cfg.get("label_smoothing", 0.0))
        real_images, fake_images = self.discriminator_inputs(batch, generated)
        real = self.discriminator_logits(real_images, batch, generated)
        fake = self.discriminator_logits(fake_images.detach(), batch, generated)
        loss = sum(self.gan_d_objective(r, f, kind, real_label) for r, f in zip(real, fake))
        return {"disc_gan": float(self.gan_setting(loss_cfg, "discriminator_gan")) * loss}

    def configure_training(self, loss_cfg: Mapping[str, Any]) -> None:
        """Called by the trainer before it builds the optimisers (e.g. to freeze all but one part for a
        training stage). Default: nothing."""

    def gan_setting(self, loss_cfg: Mapping[str, Any], key: str) -> Any:
        """``loss_cfg[key]`` for ``generator_gan`` / ``discriminator_gan`` / ``gan_kind``, else the method's
        :attr:`gan_defaults` value (one source for the generator side, the D step and the trainer)."""
        value = loss_cfg.get(key)
        return self.gan_defaults[key] if value is None else value

    def gan_d_objective(self, real: Tensor, fake: Tensor, kind: str, real_label: float) -> Tensor:
        """The discriminator's loss on one pair of logit maps (:func:`motionbench.nn.losses.gan_d_loss`)."""
        from .nn.losses import gan_d_loss

        return gan_d_loss(real, fake, kind, real_label=real_label)

    def discriminator_inputs(self, batch: Mapping[str, Tensor], generated: Mapping[str, Tensor]) -> Tuple[Tensor, Tensor]:
        """The (real, fake) images the discriminator compares: the driving frames vs ``generated["prediction"]``."""
        return batch["driving"], generated["prediction"]

    def discriminator_logits(self, images: Tensor, batch: Mapping[str, Tensor], generated: Mapping[str, Tensor]) -> list:
        """The discriminator's logit maps for ``images`` (used by the trainer's gradient penalties)."""
        raise NotImplementedError(f"method '{self.name}' does not expose discriminator logits")

    def discriminator_module(self) -> Optional[nn.Module]:
        """The discriminator (its parameters get their own optimiser); None for non-adversarial methods."""
        return getattr(self, "discriminator", None)

    def loss_module(self, key: Tuple, factory: Callable[[], nn.Module], device: torch.device) -> nn.Module:
        """A loss network (VGG pyramid, image pyramid, ...) built by ``factory`` once per ``key`` and moved to
        ``device``. Kept in a plain dict, so it is never part of the state dict or of a checkpoint."""
        cache = self.__dict__.setdefault("_loss_modules", {})
        if key not in cache:
            cache[key] = factory()
        cache[key] = cache[key].to(device)
        return cache[key]

    def perceptual_loss(self, loss_cfg: Mapping[str, Any], device: torch.device, default_weights: Sequence[float],
                        default_scales: Sequence[float]) -> Optional[nn.Module]:
        """The ``loss.perceptual`` pyramid: layer weights ``perceptual``, ``perceptual_kind`` (vgg19 | pixel),
        image ``scales``, ``verify_weights``; None when every layer weight is 0."""
        from .nn.losses import build_perceptual

        weights = tuple(float(w) for w in loss_cfg.get("perceptual", default_weights))
        if sum(weights) == 0:
            return None
        kind = str(loss_cfg.get("perceptual_kind", "vgg19"))
        scales = tuple(loss_cfg.get("scales", default_scales))
        verify = bool(loss_cfg.get("verify_weights", True))
        return self.loss_module(("perceptual", kind, scales, weights, verify),
                                lambda: build_perceptual(kind, scales, list(weights), verify_weights=verify), device)

    def generator_parameters(self) -> Iterator[nn.Parameter]:
        disc = self.discriminator_module()
        skip = {id(p) for p in disc.parameters()} if disc is not None else set()
        return (p for p in self.parameters() if id(p) not in skip)

    # ------------------------------------------------------------------ configs and checkpoints
    @classmethod
    def presets(cls) -> Dict[str, Dict[str, Any]]:
        """Named configs. Built-in methods read them from ``motionbench/conf/method/<name>.yaml``."""
        from motionbench.config import method_presets

        return method_presets(cls.name)

    @classmethod
    def build(cls, preset: Optional[str] = None, **overrides: Any) -> "Animator":
        """Construct from a named preset (or the default one) with keyword overrides merged on top."""
        presets = cls.presets()
        preset = preset or cls.default_preset
        if preset is None:
            base: Dict[str, Any] = {}
        elif preset not in presets:
            raise KeyError(f"method '{cls.name}' has no preset '{preset}' (known: {', '.join(sorted(presets)) or 'none'})")
        else:
            base = presets[preset]
        return cls(**deep_merge(base, overrides)).eval()

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
        from .checkpoint import build_official, is_official

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
