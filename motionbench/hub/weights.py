"""Offline-aware resolution of pretrained weight files (metrics backbones, perceptual-loss VGG, ...).

motionbench never downloads weights at run time. Each file is looked up where its library would cache
it (``torch.hub.get_dir()/checkpoints`` = ``$TORCH_HOME/hub/checkpoints`` for torchvision / pytorch-fid /
face-alignment), its sha256 is checked (on by default; ``verify=False`` accepts other files, e.g.
fine-tuned or test weights), and a missing file raises :class:`MissingWeightsError` naming the file, the
place it belongs, where it comes from, and the command ``python -m motionbench weights``.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

__all__ = ["WeightFile", "WEIGHTS", "MissingWeightsError", "WeightsMismatchError", "register_weight",
           "weight_path", "resolve", "sha256_of", "git_blob_sha1_of", "describe_all", "hub_checkpoints_dir",
           "torch_home_checkpoints_dir"]


class MissingWeightsError(FileNotFoundError):
    pass


class WeightsMismatchError(ValueError):
    pass


@dataclass(frozen=True)
class WeightFile:
    name: str  # motionbench's key, e.g. "vgg19"
    filename: str  # file name in the cache folder
    source: str  # where it comes from (URL or package)
    used_by: str  # which metric / loss needs it
    sha256: Optional[str] = None  # full digest, or None to check only the prefix in the file name
    sha256_prefix: Optional[str] = None  # torch.hub convention: the hex after the last '-' in the name
    location: str = "hub_checkpoints"  # folder kind, see _folder()
    package: Optional[str] = None  # for location="package": the installed package that ships the file
    #: git's blob id (SHA-1 of "blob <size>\0" + content) of a public copy, where no sha256 is published
    git_blob_sha1: Optional[str] = None


WEIGHTS: Dict[str, WeightFile] = {}


def register_weight(w: WeightFile) -> WeightFile:
    WEIGHTS[w.name] = w
    return w


def hub_checkpoints_dir() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def torch_home_checkpoints_dir() -> Path:
    """``$TORCH_HOME/checkpoints`` (facenet-pytorch's cache, beside torch.hub's ``hub/checkpoints``)."""
    default = os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", default))) / "checkpoints"


def _folder(w: WeightFile) -> Path:
    if w.location == "hub_checkpoints":
        return hub_checkpoints_dir()
    if w.location == "torch_home_checkpoints":
        return torch_home_checkpoints_dir()
    if w.location == "package":
        import importlib.util

        spec = importlib.util.find_spec(w.package or "")
        if spec is None or not spec.submodule_search_locations:
            raise MissingWeightsError(f"'{w.filename}' for {w.used_by} ships with the Python package "
                                      f"'{w.package}', which is not installed (pip install {w.package})")
        return Path(list(spec.submodule_search_locations)[0])
    raise ValueError(f"unknown weight location {w.location!r} for {w.name}")


def weight_path(name: str) -> Path:
    """Where the file for ``name`` must be (whether or not it is there)."""
    w = _get(name)
    return _folder(w) / w.filename


def sha256_of(path: os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def git_blob_sha1_of(path: os.PathLike, chunk: int = 1 << 20) -> str:
    """The id git gives the file's content (``git hash-object``)."""
    h = hashlib.sha1(b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def resolve(name: str, verify: bool = True) -> Path:
    """Path of an existing, verified weight file; raises a clear error otherwise. Never downloads."""
    w = _get(name)
    path = weight_path(name)
    if not path.is_file():
        raise MissingWeightsError(
            f"pretrained weights '{w.filename}' for {w.used_by} not found at {path}. "
            f"Get it from {w.source} and place it there (or set TORCH_HOME); "
            f"`python -m motionbench weights` lists every file motionbench needs.")
    if verify:
        digest = sha256_of(path)
        expected = w.sha256 or w.sha256_prefix
        if expected and not digest.startswith(expected):
            raise WeightsMismatchError(
                f"{path}: sha256 {digest[:16]}... does not match the expected {expected[:16]}... of {w.source}; "
                f"pass weights.verify=false to use a different (e.g. fine-tuned or test) file")
        blob = git_blob_sha1_of(path) if w.git_blob_sha1 else None
        if blob != w.git_blob_sha1:
            raise WeightsMismatchError(
                f"{path}: its git blob id {blob[:16]}... differs from the published copy's "
                f"{w.git_blob_sha1[:16]}... ({w.source}); pass weights.verify=false to use a different (e.g. test) file")
    return path


def describe_all() -> List[Dict[str, str]]:
    """One row per known weight file: name, file, where it must be, present?, source, used by."""
    rows = []
    for w in sorted(WEIGHTS.values(), key=lambda x: x.name):
        try:
            p = weight_path(w.name)
        except MissingWeightsError:
            p = Path(f"<package {w.package} not installed>") / w.filename
        rows.append({"name": w.name, "file": w.filename, "path": str(p), "present": "yes" if p.is_file() else "no",
                     "used_by": w.used_by, "source": w.source})
    return rows


def _get(name: str) -> WeightFile:
    if name not in WEIGHTS:
        raise KeyError(f"unknown weight file '{name}' (known: {', '.join(sorted(WEIGHTS))})")
    return WEIGHTS[name]


register_weight(WeightFile(
    name="vgg19", filename="vgg19-dcbb9e9d.pth", sha256_prefix="dcbb9e9d",
    source="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth (torchvision VGG19_Weights.IMAGENET1K_V1)",
    used_by="the VGG19 pyramid perceptual loss (training)"))

# ---------------------------------------------------------------------------------------- metrics
# LPIPS: the trunk comes from torchvision's cache, the calibrated linear heads ship inside the lpips package.
register_weight(WeightFile(
    name="alexnet", filename="alexnet-owt-7be5be79.pth",
    sha256="7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
    source="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth (torchvision AlexNet_Weights.IMAGENET1K_V1)",
    used_by="LPIPS (alex, the default trunk)"))
register_weight(WeightFile(
    name="vgg16", filename="vgg16-397923af.pth", sha256_prefix="397923af",
    source="https://download.pytorch.org/models/vgg16-397923af.pth (torchvision VGG16_Weights.IMAGENET1K_V1)",
    used_by="LPIPS (vgg trunk)"))
register_weight(WeightFile(
    name="lpips_alex_lin", filename="weights/v0.1/alex.pth", location="package", package="lpips",
    sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    source="the lpips package (pip install lpips); shipped inside it", used_by="LPIPS (alex linear heads)"))
register_weight(WeightFile(
    name="lpips_vgg_lin", filename="weights/v0.1/vgg.pth", location="package", package="lpips",
    sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
    source="the lpips package (pip install lpips); shipped inside it", used_by="LPIPS (vgg linear heads)"))
register_weight(WeightFile(
    name="fid_inception", filename="pt_inception-2015-12-05-6726825d.pth", sha256_prefix="6726825d",
    source="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    used_by="FID / KID (pytorch-fid InceptionV3, pool3)"))
register_weight(WeightFile(
    name="s3fd", filename="s3fd-619a316812.pth", sha256_prefix="619a316812",
    source="https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth (face-alignment's SFD detector)",
    used_by="face keypoints for AKD/MKR and face boxes for task=prepare prepare.preset=faces (face-alignment SFD face detector)"))
register_weight(WeightFile(
    name="keypointrcnn_coco", filename="keypointrcnn_resnet50_fpn_coco-fc266e95.pth", sha256_prefix="fc266e95",
    source="https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth "
           "(torchvision KeypointRCNN_ResNet50_FPN_Weights.COCO_V1)",
    used_by="person boxes for task=prepare prepare.preset=bodies"))
register_weight(WeightFile(
    name="2dfan4", filename="2DFAN4-11f355bf06.pth.tar", sha256_prefix="11f355bf06",
    source="https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar (face-alignment >= 1.5)",
    used_by="face keypoints for AKD/MKR (face-alignment 2DFAN-4, 68 2D landmarks)"))
register_weight(WeightFile(
    name="facenet_vggface2", filename="20180402-114759-vggface2.pt", location="torch_home_checkpoints",
    sha256="281cebca8662831adb987a874bdcb36e73f5b1c6dc5ee5878f305e985625d99b",
    source="https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt "
           "(facenet-pytorch InceptionResnetV1 'vggface2'; needs `pip install --no-deps facenet-pytorch`)",
    used_by="face identity embeddings for AED / id_similarity"))
# Bodies (Tai-Chi-HD, TED, folder): keypoints for AKD/MKR and person boxes from torchvision's Keypoint R-CNN,
# identity for AED from pose-evaluation's ResNet-50 re-id network (motionbench/metrics/bodypose.py, reid.py).
register_weight(WeightFile(
    name="keypointrcnn_coco", filename="keypointrcnn_resnet50_fpn_coco-fc266e95.pth", sha256_prefix="fc266e95",
    source="https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth "
           "(torchvision KeypointRCNN_ResNet50_FPN_Weights.COCO_V1)",
    used_by="body keypoints for AKD/MKR and person crops for AED (torchvision Keypoint R-CNN, 17 COCO keypoints)"))
register_weight(WeightFile(
    name="reid_resnet50_market1501", filename="reid_resnet50_market1501_ft_net.pth",
    source="pose-evaluation's reid_model.pth (Person_reID_baseline_pytorch ft_net, ResNet-50, Market-1501), "
           "published at https://yadi.sk/d/jAPhvFEFp6qzIw (a share page, not a direct link; no published sha256); "
           "save it under this name",
    used_by="body identity embeddings for AED / id_similarity (person re-identification)"))

# ---------------------------------------------------------------------------------------- video and face-identity metrics
# No sha256 is published for the two I3D files; both are checked against the git blob ids of the copies in
# github.com/JunyaoHu/common_metrics_on_video_quality (fvd/styleganv/, fvd/videogpt/).
register_weight(WeightFile(
    name="i3d_torchscript", filename="i3d_torchscript.pt", git_blob_sha1="93daef59c7ae0e9e8f76225521407e60cbafa6aa",
    source="https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt (StyleGAN-V's TorchScript port of the "
           "TF-Hub Kinetics-400 I3D; also in github.com/JunyaoHu/common_metrics_on_video_quality fvd/styleganv/)",
    used_by="FVD / KVD, backbone styleganv"))
register_weight(WeightFile(
    name="i3d_pretrained_400", filename="i3d_pretrained_400.pt", git_blob_sha1="a867b87ac3a9097d200598b1d48a1b890d8ec744",
    source="VideoGPT's i3d_pretrained_400.pt (Google Drive id 1mQK8KD8G6UWRa5t87SRMm5PVXtlpneJT, videogpt/download.py; "
           "also in github.com/JunyaoHu/common_metrics_on_video_quality fvd/videogpt/)",
    used_by="FVD / KVD, backbone videogpt (InceptionI3d state dict)"))
for _arch in ("r100", "r50"):
    register_weight(WeightFile(
        name=f"arcface_{_arch}", filename=f"arcface_torch/ms1mv3_arcface_{_arch}_fp16/backbone.pth",
        source=f"insightface arcface_torch model zoo, folder ms1mv3_arcface_{_arch}_fp16 (the OneDrive / Baidu links in "
               "github.com/deepinsight/insightface recognition/arcface_torch/README.md); no checksum is published, "
               "results.json records the file's sha256",
        used_by=f"face identity embeddings for AED / id_similarity (ArcFace iresnet {_arch[1:]}, MS1MV3)"))
