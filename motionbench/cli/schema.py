"""Typed config schemas (Hydra ConfigStore), so that a wrong-typed override fails at compose time.

``conf/config.yaml`` starts its defaults list with ``motionbench_schema`` (the :class:`Config` dataclass);
the method / dataset / loss / train / benchmark groups are merged on top of it. Method configs share
:class:`MethodConfig`'s typed top level (their ``presets`` / ``params`` are free-form official nodes);
datasets are typed per dataset type (:class:`SyntheticDatasetConfig`, :class:`VideoDatasetConfig`): each
dataset yaml starts with ``defaults: [/<type>_dataset_schema@_here_, _self_]``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

__all__ = ["Config", "MethodConfig", "BenchmarkConfig", "TrainConfig", "AnimateConfig", "CompareConfig", "WeightsConfig",
           "PrepareConfig", "register_schemas"]


@dataclass
class MethodConfig:
    name: str = MISSING
    preset: str = "auto"  # "auto": "<dataset>-<resolution>" if it exists, "tiny" on synthetic, else the default
    checkpoint: Optional[str] = None  # path, "auto" (committed synthetic checkpoint), "official:TAG" or null (random init)
    params: Dict[str, Any] = field(default_factory=dict)  # deep-merged over the preset (official names)
    presets: Dict[str, Any] = field(default_factory=dict)
    train_defaults: Dict[str, Any] = field(default_factory=dict)
    official: Dict[str, Any] = field(default_factory=dict)  # the official checkpoint files (motionbench.hub.pretrained)


@dataclass
class SyntheticDatasetConfig:
    """conf/dataset/synthetic.yaml (motionbench.data.synthetic.SyntheticDataset's arguments)."""

    name: str = "synthetic"
    type: str = "synthetic"
    resolution: int = 64
    seed: int = 0
    identities: Dict[str, int] = field(default_factory=lambda: {"train": 256, "test": 8})
    videos_per_identity: Dict[str, int] = field(default_factory=lambda: {"train": 4, "test": 1})
    frames_per_video: Dict[str, int] = field(default_factory=lambda: {"train": 64, "test": 32})
    figure_height: float = 0.8
    motion_scale: float = 1.0
    speed: float = 1.0
    markers: bool = True
    num_pairs: Optional[int] = None


@dataclass
class VideoDatasetConfig:
    """FOMM-layout datasets (motionbench.data.video.FOMMLayoutDataset's arguments)."""

    name: str = MISSING
    type: str = "fomm_layout"
    root: str = MISSING
    resolution: int = 256
    pairs_csv: Optional[str] = None
    id_sampling: bool = True
    max_frames: Optional[int] = None
    crop: str = "center"
    strict: bool = True
    skip_bad_videos: bool = False
    cache_dir: Optional[str] = "auto"


@dataclass
class BenchmarkConfig:
    protocols: List[str] = field(default_factory=lambda: ["same_identity", "cross_identity"])
    metrics: Optional[List[str]] = None  # null: the dataset's default set (synthetic: no downloads needed)
    split: str = "test"
    seed: int = 0
    max_videos: Optional[int] = None
    max_frames: Optional[int] = None  # per video
    num_pairs: Optional[int] = None  # cross-identity pairs (null: one per test video, or the pairs CSV)
    batch_frames: int = 16  # driving frames per animate() call
    same_mode: str = "absolute"
    cross_mode: str = "relative"
    compat: str = "default"  # "default" | "pose_eval"
    leaderboard: str = "leaderboard.csv"  # relative to the directory the command is run from
    checkpoint_tag: Optional[str] = None  # leaderboard tag (default: checkpoint file name, <run dir>/final.pt, or "random-init")
    keypoints: Optional[str] = None  # keypoint extractor for AKD/MKR (default: per dataset)
    identity: Optional[str] = None  # identity embedder for AED (default: per dataset)
    lpips_net: str = "alex"
    fid_cache: Optional[str] = None
    progress: bool = True
    n_boot: int = 1000  # bootstrap resamples of each metric's 95% interval over videos (0: none)
    options: Dict[str, Any] = field(default_factory=dict)  # extra per-metric options
    precision: str = "fp32"  # fp32 | bf16 | fp16: animate under autocast (metrics stay float32)
    save_samples: int = 0  # K sample videos per protocol (source, driving, ground truth, result) in <run dir>/samples
    report: bool = False  # the HTML report of the leaderboard into the run (or -m sweep) folder when it ends


@dataclass
class TrainConfig:
    seed: int = 0
    max_steps: int = 20000
    batch_size: int = 8
    num_workers: int = 0
    num_repeats: int = 1
    lr_generator: Optional[float] = None  # null: the method's train_defaults
    lr_discriminator: Optional[float] = None
    betas_generator: Optional[List[float]] = None
    betas_discriminator: Optional[List[float]] = None
    scheduler: str = "none"  # none | multistep | linear | cosine
    milestones: List[float] = field(default_factory=list)  # fractions of max_steps for multistep
    gamma: float = 0.1
    final_lr_fraction: float = 0.05  # linear decay end point
    grad_clip: Optional[float] = None
    amp: bool = True  # used on GPU only
    checkpoint_every: int = 500
    sample_every: int = 500
    log_every: int = 50
    keep_checkpoints: int = 2
    resume: str = "auto"  # auto | never | <path>
    run_dir: Optional[str] = None  # default: the Hydra output dir
    augment: Dict[str, Any] = field(default_factory=lambda: {"flip": True, "time_flip": True, "jitter": 0.0})
    deterministic: bool = True
    ddp_backend: str = "auto"  # nccl on GPU, gloo on CPU
    sync_bn: bool = False  # SyncBatchNorm across ranks (as the official FOMM); CUDA only
    find_unused_parameters: bool = False  # DDP's unused-parameter search, for configs that skip parameters


@dataclass
class AnimateConfig:
    source: Optional[str] = None
    driving: Optional[str] = None
    output: str = "animation.mp4"
    mode: str = "relative"
    fps: Optional[float] = None  # default: the driving video's
    max_frames: Optional[int] = None
    find_best_frame: bool = False
    batch_frames: int = 16
    resolution: Optional[int] = None  # default: the checkpoint's training resolution (else dataset.resolution)
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast, where the method supports it)
    progress: bool = True


@dataclass
class CompareConfig:
    """``task=compare methods=[fomm,lia]``: source, driving, mode, resolution, ... come from ``animate``."""

    output: str = "compare.mp4"  # beside it: <stem>_grid.png
    checkpoints: Dict[str, str] = field(default_factory=dict)  # per method (default: its config's, usually auto)
    grid_rows: int = 4
    gallery: Optional[str] = None  # an .html path: the columns as a synchronized video gallery page


@dataclass
class PrepareConfig:
    """``task=prepare`` (conf/prepare/default.yaml; motionbench.prepare.PrepareOptions)."""

    preset: Optional[str] = None
    videos: Optional[str] = None
    output: Optional[str] = None
    metadata: Optional[str] = None
    video_list: Optional[str] = None
    format: str = "mp4"
    resolution: Optional[int] = None
    workers: int = 1
    progress: bool = True
    pairs: int = 0
    seed: int = 0
    partition: str = "test"
    detector: Optional[str] = None
    detect_every: int = 1
    min_frames: Optional[int] = None
    max_frames: Optional[int] = None
    iou: Optional[float] = None
    increase: Optional[float] = None
    min_score: Optional[float] = None


@dataclass
class WeightsConfig:
    verify: bool = True  # sha256 checks of pretrained weight files
    download: bool = False  # fetch a missing official method checkpoint (method.checkpoint=official:TAG) first


@dataclass
class Config:
    task: str = "benchmark"  # benchmark | animate | train | compare | prepare | list | weights
    method: MethodConfig = field(default_factory=MethodConfig)
    methods: Optional[List[str]] = None  # task=compare: the methods side by side
    dataset: Any = MISSING
    loss: Any = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    animate: AnimateConfig = field(default_factory=AnimateConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    list: str = "all"  # what `task=list` lists: methods | datasets | metrics | all


_registered = False


def register_schemas() -> None:
    global _registered
    if _registered:
        return
    cs = ConfigStore.instance()
    cs.store(name="motionbench_schema", node=Config)
    # dataset yamls start their defaults list with the schema of their type (``/<type>_dataset_schema@_here_``);
    # stored outside the dataset group, so that the group lists datasets only
    cs.store(name="synthetic_dataset_schema", node=SyntheticDatasetConfig)
    cs.store(name="fomm_layout_dataset_schema", node=VideoDatasetConfig)
    _registered = True
