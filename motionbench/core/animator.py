"""The Animator contract every method implements.

Images are float tensors in [0, 1]: sources B×3×H×W, driving clips B×T×3×H×W (a single driving frame
B×3×H×W is accepted too). The output has the shape of ``driving``. A method working in [-1, 1]
internally converts at its own boundary.

Subclasses implement :meth:`encode_source` and :meth:`animate_state`; the base class validates inputs,
encodes the source once, and checks the requested mode against the method's :class:`Capabilities`.
The constructor's arguments are captured as the method's config (stored in checkpoints) without the
subclass listing them again. Optional hooks: :meth:`detect_keypoints` (``capabilities.keypoints``),
:meth:`official_animation` (the official per-frame reference loop), :meth:`visualize`, and the training hooks
used by the shared trainer (:meth:`generator_losses`, :meth:`configure_training`). Checkpoint I/O is inherited
from :class:`motionbench.core.checkpoint.CheckpointIO`; the GAN policy of methods with a discriminator from
:class:`motionbench.core.adversarial.Adversarial`.
"""
from __future__ import annotations

import abc
import contextlib
import functools
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from .adversarial import Adversarial
from .checkpoint import CheckpointIO
from .config import capturing_init, deep_merge, method_presets, plain_config
from .inference import resolve_dtype

__all__ = ["Animator", "Capabilities", "SourceState", "MODES"]

MODES = ("absolute", "relative", "avd")
SourceState = Dict[str, Any]  # whatever a method caches about a source image (features, keypoints, ...)
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


class Animator(CheckpointIO, nn.Module, abc.ABC):
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
    def __init__(self, **config: Any) -> None:
        super().__init__()
        #: the resolved constructor config (every argument of the subclass's ``__init__``, defaults applied),
        #: stored in checkpoints so they rebuild the same network; captured by :meth:`__init_subclass__`
        self.config: Dict[str, Any] = self.__dict__.pop("_captured_config", None) or plain_config(config)
        #: what the weights were trained on: {"dataset": ..., "resolution": ...} (empty for random init);
        #: written into checkpoints, read back by from_checkpoint / the official-checkpoint catalogue
        self.trained_on: Dict[str, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wraps a subclass's ``__init__`` so that its arguments become :attr:`config`, and its
        ``encode_source`` so that it, too, takes what users hold (:mod:`motionbench.files.media`)."""
        super().__init_subclass__(**kwargs)
        if cls.capabilities.adversarial and not issubclass(cls, Adversarial):
            raise TypeError(f"{cls.__name__} declares capabilities.adversarial but does not inherit "
                            f"motionbench.core.adversarial.Adversarial (class {cls.__name__}(Adversarial, Animator))")
        init = cls.__dict__.get("__init__")
        if init is not None and not hasattr(init, "_captures_config"):
            cls.__init__ = capturing_init(init)  # type: ignore[method-assign]
        fn = getattr(cls, "encode_source", None)  # also a mixin's (e.g. the AVD family's), wrapped once
        if fn is not None and not getattr(fn, "__isabstractmethod__", False) and not hasattr(fn, "_converts_input"):
            @functools.wraps(fn)
            def encode_source(self, source, *args, **kw):
                if not isinstance(source, Tensor) or not source.is_floating_point() or source.dim() == 3:
                    from ..files.media import to_source

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
        uint8 tensors (:mod:`motionbench.files.media`); those are centre-cropped and resized to ``size`` (default:
        the size of a tensor input, else the checkpoint's resolution, else the source image's own size) and
        give T×3×H×W (3×H×W for one frame). Bad values or shapes raise ``ValueError``. The model runs in
        eval mode without autograd and its state (training flags, BatchNorm statistics) is left as it was.

        mode="relative" transfers motion relative to ``driving_ref`` (default: the first driving frame), as
        each official demo does. Pass ``source_state`` (from :meth:`encode_source`) to process a long video
        in chunks without re-encoding the source. ``dtype`` (torch.bfloat16 / torch.float16, or "bf16" /
        "fp16") runs under autocast where ``capabilities.half_precision``. Extra keyword arguments are
        method-specific options forwarded to :meth:`animate_state` (e.g. FOMM's ``adapt_movement_scale``).
        """
        from ..files.media import is_media, to_clip, to_source

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

    # ------------------------------------------------------------------ optional hooks
    def detect_keypoints(self, images: Tensor) -> Dict[str, Tensor]:
        """The method's keypoints of B×3×H×W images in [0, 1]: ``{"value": B×K×2 in [-1, 1], ...}``
        (methods with ``capabilities.keypoints``)."""
        raise NotImplementedError(f"method '{self.name}' has no keypoints (capabilities.keypoints is False)")

    def official_animation(self, source: Tensor, driving: Tensor, *, mode: str = "relative",
                           frame_times: Optional[List[float]] = None, **options: Any) -> Tensor:
        """The official demo's per-frame loop for one source (1×3×H×W) and one clip (T×3×H×W) in [0, 1]: batch 1,
        the source re-encoded for every frame, as the official code runs it (methods with public demo code).
        It is the reference ``animate`` is tested and benchmarked against; use ``animate`` for real work.
        ``frame_times`` (a list) receives each frame's wall time; ``options`` are the demo's own switches."""
        raise NotImplementedError(f"method '{self.name}' has no official per-frame loop")

    def visualize(self, source: Tensor, driving: Tensor) -> Optional[np.ndarray]:
        """A method-specific H×W×3 uint8 figure of how it animates ``source`` (1×3×H×W) with the driving
        frames (N×3×H×W), saved next to ``task=animate`` outputs; None (the default) when it has none."""
        return None

    # ------------------------------------------------------------------ training hooks
    def generator_losses(self, batch: Mapping[str, Tensor], loss_cfg: Mapping[str, Any]) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Weighted generator loss terms and the generated outputs (reused by the D step).

        ``batch`` holds at least ``source`` and ``driving`` (B×3×H×W, two frames of one video).
        Returns ``(losses, generated)``; the trainer minimises ``sum(losses.values())``.
        """
        raise NotImplementedError(f"method '{self.name}' cannot be trained (no generator_losses)")

    def configure_training(self, loss_cfg: Mapping[str, Any]) -> None:
        """Called by the trainer before it builds the optimisers (e.g. to freeze all but one part for a
        training stage). Default: nothing."""

    def discriminator_module(self) -> Optional[nn.Module]:
        """The discriminator, for methods with one (:class:`~motionbench.core.adversarial.Adversarial`); else None."""
        return None

    def loss_module(self, key: Tuple, factory: Callable[[], nn.Module], device: torch.device) -> nn.Module:
        """A loss network (VGG pyramid, image pyramid, ...) built by ``factory`` once per ``key`` and moved to
        ``device``. Kept in a plain dict, so it is never part of the state dict or of a checkpoint."""
        cache = self.__dict__.setdefault("_loss_modules", {})
        if key not in cache:
            cache[key] = factory()
        cache[key] = cache[key].to(device)
        return cache[key]

    def perceptual_loss(self, loss_cfg: Mapping[str, Any], device: torch.device,
                        default_weights: Optional[Sequence[float]] = None,
                        default_scales: Optional[Sequence[float]] = None) -> Optional[nn.Module]:
        """The ``loss.perceptual`` pyramid: layer weights ``perceptual``, ``perceptual_kind`` (vgg19 | pixel),
        image ``scales``, ``verify_weights``; None when every layer weight is 0. Keys the loss config lacks take
        the method's ``default_*`` (None: FOMM's, :data:`motionbench.nn.losses.DEFAULT_LAYER_WEIGHTS` /
        :data:`~motionbench.nn.losses.DEFAULT_SCALES`)."""
        from ..nn.losses import DEFAULT_LAYER_WEIGHTS, DEFAULT_SCALES, build_perceptual

        weights = tuple(float(w) for w in loss_cfg.get("perceptual", default_weights or DEFAULT_LAYER_WEIGHTS))
        if sum(weights) == 0:
            return None
        kind = str(loss_cfg.get("perceptual_kind", "vgg19"))
        scales = tuple(loss_cfg.get("scales", default_scales or DEFAULT_SCALES))
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

