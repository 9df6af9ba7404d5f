"""Registries: the one small typed :class:`Registry` class, and motionbench's registries with their
built-in entries (ANIMATORS, DATASETS, METRICS, KEYPOINT_EXTRACTORS, IDENTITY_EMBEDDERS).

Entries are objects or lazy ``"module:attr"`` strings imported on first use, so ``import motionbench``
stays cheap and registration never depends on import order. Third-party packages add entries through an
entry-point group (``motionbench.methods`` for animators, ``motionbench.metrics``, ...).
"""
from __future__ import annotations

import difflib
import importlib
from importlib import metadata
from typing import Callable, Dict, Generic, Iterator, List, Optional, Sequence, TypeVar, Union

T = TypeVar("T")

__all__ = ["Registry", "RegistryError", "UnknownNameError", "DuplicateNameError", "import_string", "ANIMATORS",
           "DATASETS", "METRICS", "KEYPOINT_EXTRACTORS", "IDENTITY_EMBEDDERS"]


class RegistryError(Exception):
    """Base class of registry errors."""


class UnknownNameError(RegistryError, KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class DuplicateNameError(RegistryError, ValueError):
    pass


def import_string(path: str):
    """Import ``"package.module:attr"`` (or ``"package.module.attr"``) and return the attribute."""
    if ":" in path:
        module_name, attr = path.split(":", 1)
    else:
        module_name, _, attr = path.rpartition(".")
    module = importlib.import_module(module_name)
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Name -> object map with aliases, lazy ``module:attr`` entries, "did you mean" and plugins.

    ``kind`` is used in messages ("unknown method 'lai'; did you mean 'lia'?").
    ``entry_point_group``: entries of that group are added on first lookup (third-party plugins).
    """

    def __init__(self, kind: str, entry_point_group: Optional[str] = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: Dict[str, Union[T, str]] = {}
        self._aliases: Dict[str, str] = {}
        self._plugins_loaded = entry_point_group is None

    # ------------------------------------------------------------------ registration
    def add(self, name: str, obj: Union[T, str], aliases: Sequence[str] = (), *, replace: bool = False) -> None:
        """Register ``obj`` (or a lazy ``"module:attr"`` string) under ``name`` and ``aliases``."""
        name = self._norm(name)
        for key in [name, *map(self._norm, aliases)]:
            if not replace and (key in self._entries or key in self._aliases):
                raise DuplicateNameError(f"{self.kind} '{key}' is already registered")
        self._entries[name] = obj
        for alias in aliases:
            self._aliases[self._norm(alias)] = name

    def register(self, name: str, aliases: Sequence[str] = (), *, replace: bool = False) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(obj: T) -> T:
            self.add(name, obj, aliases, replace=replace)
            return obj

        return deco

    # ------------------------------------------------------------------ lookup
    def resolve_name(self, name: str) -> str:
        """Canonical name for ``name`` or an alias; raises with suggestions when unknown."""
        self._load_plugins()
        key = self._norm(name)
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        candidates = sorted(set(self._entries) | set(self._aliases))
        close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(f"unknown {self.kind} '{name}'{hint} (known: {', '.join(self.names()) or 'none'})")

    def get(self, name: str) -> T:
        key = self.resolve_name(name)
        obj = self._entries[key]
        if isinstance(obj, str):
            try:
                obj = import_string(obj)
            except (ImportError, AttributeError) as exc:
                raise RegistryError(f"{self.kind} '{key}' points to '{obj}', which cannot be imported: {exc}") from exc
            self._entries[key] = obj
        return obj  # type: ignore[return-value]

    def names(self, sort: bool = True) -> List[str]:
        """Registered names, sorted (``sort=False``: in registration order, plugins last)."""
        self._load_plugins()
        return sorted(self._entries) if sort else list(self._entries)

    def aliases_of(self, name: str) -> List[str]:
        key = self.resolve_name(name)
        return sorted(a for a, n in self._aliases.items() if n == key)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self._load_plugins()
        key = self._norm(name)
        return key in self._entries or key in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    # ------------------------------------------------------------------ plugins
    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in metadata.entry_points(group=self.entry_point_group):
            if self._norm(ep.name) in self._entries:
                continue  # a built-in wins; the plugin can register under another name
            self.add(ep.name, ep.value)

    def reload_plugins(self) -> None:
        """Re-scan the entry-point group (e.g. after a plugin was installed in this process)."""
        if self.entry_point_group is not None:
            self._plugins_loaded = False
            self._load_plugins()

    @staticmethod
    def _norm(name: str) -> str:
        return name.strip().lower()

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"


# ---------------------------------------------------------------------------------------- the registries
ANIMATORS: Registry = Registry("method", entry_point_group="motionbench.methods")
DATASETS: Registry = Registry("dataset", entry_point_group="motionbench.datasets")
METRICS: Registry = Registry("metric", entry_point_group="motionbench.metrics")
KEYPOINT_EXTRACTORS: Registry = Registry("keypoint extractor", entry_point_group="motionbench.keypoint_extractors")
IDENTITY_EMBEDDERS: Registry = Registry("identity embedder", entry_point_group="motionbench.identity_embedders")

# ---------------------------------------------------------------------------------------- methods
ANIMATORS.add("identity", "motionbench.methods.baselines.identity:IdentityAnimator", aliases=["copy_source"])
ANIMATORS.add("copy_driving", "motionbench.methods.baselines.identity:CopyDrivingAnimator")
ANIMATORS.add("fomm", "motionbench.methods.fomm.animator:FOMMAnimator", aliases=["first_order_model"])
ANIMATORS.add("lia", "motionbench.methods.lia.animator:LIAAnimator", aliases=["latent_image_animator"])
ANIMATORS.add("crosstrain", "motionbench.methods.crosstrain.animator:CrossTrainAnimator", aliases=["cross_training"])
ANIMATORS.add("imf", "motionbench.methods.imf.animator:IMFAnimator", aliases=["implicit_motion_function"])
ANIMATORS.add("lwgan", "motionbench.methods.lwgan.animator:LWGANAnimator", aliases=["liquid_warping_gan"])
ANIMATORS.add("tpsmm", "motionbench.methods.tpsmm.animator:TPSMMAnimator", aliases=["thin_plate_spline_motion_model"])
ANIMATORS.add("mraa", "motionbench.methods.mraa.animator:MRAAAnimator", aliases=["articulated_animation"])

# ---------------------------------------------------------------------------------------- datasets
DATASETS.add("synthetic", "motionbench.data.synthetic:SyntheticDataset", aliases=["puppets"])
DATASETS.add("fomm_layout", "motionbench.data.video:FOMMLayoutDataset", aliases=["video", "folder_layout"])

# ---------------------------------------------------------------------------------------- metrics
METRICS.add("l1", "motionbench.metrics.pixel:L1", aliases=["mae"])
METRICS.add("psnr", "motionbench.metrics.pixel:PSNR")
METRICS.add("ssim", "motionbench.metrics.pixel:SSIM")
METRICS.add("fg", "motionbench.metrics.pixel:Foreground", aliases=["fg_l1", "fg_psnr", "foreground"])
METRICS.add("lpips", "motionbench.metrics.perceptual:LPIPS")
METRICS.add("fid", "motionbench.metrics.fid:FID")
METRICS.add("kid", "motionbench.metrics.fid:KID")
METRICS.add("akd", "motionbench.metrics.keypoints:AKD", aliases=["mkr"])
METRICS.add("aed", "motionbench.metrics.identity:AED", aliases=["id_similarity", "aed_id"])
METRICS.add("fvd", "motionbench.metrics.fvd:FVD")
METRICS.add("kvd", "motionbench.metrics.fvd:KVD")
METRICS.add("tof", "motionbench.metrics.temporal:TemporalOF", aliases=["temporal", "t_of"])

# ---------------------------------------------------------------------------------------- extractors
KEYPOINT_EXTRACTORS.add("puppet_pose", "motionbench.metrics.puppet_pose:PuppetPoseDetector",
                        aliases=["puppet", "pose_net"])
KEYPOINT_EXTRACTORS.add("markers", "motionbench.metrics.markers:MarkerDetector", aliases=["synthetic_markers"])
KEYPOINT_EXTRACTORS.add("face_alignment", "motionbench.metrics.face:FaceAlignmentExtractor", aliases=["fan", "faces"])
KEYPOINT_EXTRACTORS.add("keypointrcnn", "motionbench.metrics.bodypose:KeypointRCNNExtractor",
                        aliases=["keypoint_rcnn", "bodies"])
IDENTITY_EMBEDDERS.add("color_histogram", "motionbench.metrics.identity:ColorHistogramEmbedder",
                       aliases=["histogram", "synthetic"])
IDENTITY_EMBEDDERS.add("facenet", "motionbench.metrics.face:FaceNetEmbedder", aliases=["faces", "vggface2"])
IDENTITY_EMBEDDERS.add("person_reid", "motionbench.metrics.reid:PersonReIDEmbedder", aliases=["reid", "bodies"])
IDENTITY_EMBEDDERS.add("arcface", "motionbench.metrics.arcface:ArcFaceEmbedder", aliases=["csim", "insightface"])
