"""The registries of motionbench and the built-in entries (lazy, so importing is cheap).

Built-in methods, datasets and metrics are listed here as ``"module:attr"`` strings; nothing is imported
until it is used. Third-party animators come in through the entry-point group ``motionbench.methods``.
"""
from __future__ import annotations

from .registry import Registry

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

# ---------------------------------------------------------------------------------------- extractors
KEYPOINT_EXTRACTORS.add("puppet_pose", "motionbench.metrics.puppet_pose:PuppetPoseDetector",
                        aliases=["puppet", "pose_net"])
KEYPOINT_EXTRACTORS.add("markers", "motionbench.metrics.markers:MarkerDetector", aliases=["synthetic_markers"])
KEYPOINT_EXTRACTORS.add("face_alignment", "motionbench.metrics.face:FaceAlignmentExtractor", aliases=["fan", "faces"])
IDENTITY_EMBEDDERS.add("color_histogram", "motionbench.metrics.identity:ColorHistogramEmbedder",
                       aliases=["histogram", "synthetic"])
IDENTITY_EMBEDDERS.add("facenet", "motionbench.metrics.face:FaceNetEmbedder", aliases=["faces", "vggface2"])
