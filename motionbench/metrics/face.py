"""Face keypoints (face-alignment) and face identity embeddings (facenet-pytorch), loaded offline.

* :class:`FaceAlignmentExtractor`: ``face_alignment.FaceAlignment`` (68 2D landmarks, 2DFAN-4, SFD
  detector, ``flip_input=False`` as in pose-evaluation), landmarks of the **first** detected face. Both
  weight files are resolved through :mod:`motionbench.hub.weights`; the library's own download calls are never
  reached (the detector gets ``path_to_detector``, the FAN loader is overridden).
* :class:`FaceNetEmbedder`: facenet-pytorch's ``InceptionResnetV1`` with its VGGFace2 weights
  (``20180402-114759-vggface2.pt`` in ``$TORCH_HOME/checkpoints``), on MTCNN face crops (MTCNN's weights ship
  inside the package). facenet-pytorch pins old torch versions in its metadata although its code runs on
  current torch, so it is an optional extra installed with ``pip install --no-deps facenet-pytorch``.
"""
from __future__ import annotations

import contextlib
import inspect
import io
import warnings
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .base import IdentityEmbedder, KeypointExtractor, MetricContext, MetricError
from .common import load_state_dict_file, resolve_weight

__all__ = ["FaceAlignmentExtractor", "FaceNetEmbedder", "to_uint8_hwc"]


def to_uint8_hwc(images: Tensor) -> np.ndarray:
    """N×3×H×W [0,1] -> N×H×W×3 uint8 RGB (what the libraries see when they read a frame from disk)."""
    arr = torch.round(images.detach().to("cpu", torch.float32).clamp(0, 1) * 255).to(torch.uint8)
    return np.ascontiguousarray(arr.permute(0, 2, 3, 1).numpy())


class FaceAlignmentExtractor(KeypointExtractor):
    """68 2D facial landmarks (x, y pixels) of the first face; a frame with no face has none found."""

    name = "face_alignment"
    num_keypoints = 68
    detects_whole_object = True  # a miss loses all 68 points (pose_eval skips such frames)

    def __init__(self, context: Optional[MetricContext] = None, device: Optional[str] = None,
                 flip_input: bool = False, **_: Any) -> None:
        context = context or MetricContext()
        self.device = device or context.device
        self.flip_input = bool(flip_input)
        s3fd = resolve_weight("s3fd", context, "akd (face_alignment)")
        fan = resolve_weight("2dfan4", context, "akd (face_alignment)")
        import face_alignment
        from face_alignment.models import FAN

        if not hasattr(face_alignment.FaceAlignment, "_load_native"):
            raise MetricError("akd (face_alignment) needs face-alignment >= 1.5 (native 2DFAN-4 state dict); "
                              "pip install -U 'face-alignment>=1.5'")

        class _OfflineFA(face_alignment.FaceAlignment):
            def _load_native(self, network_name, network_size, device, dtype):  # noqa: D401 - library hook
                net = FAN(network_size)
                net.load_state_dict(load_state_dict_file(fan))
                return net.to(device, dtype=dtype).eval()

        kwargs: Dict[str, Any] = {"device": self.device, "flip_input": self.flip_input, "face_detector": "sfd",
                                  "face_detector_kwargs": {"path_to_detector": str(s3fd)}}
        if "compile" in inspect.signature(face_alignment.FaceAlignment.__init__).parameters:
            kwargs["compile"] = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.fa = _OfflineFA(face_alignment.LandmarksType.TWO_D, **kwargs)

    def settings(self) -> Dict[str, Any]:
        return {"library": "face-alignment", "landmarks": "68 2D", "detector": "sfd", "network": "2DFAN-4",
                "face": "first detected", "flip_input": self.flip_input}

    def __call__(self, images: Tensor) -> Tuple[np.ndarray, np.ndarray]:
        frames = to_uint8_hwc(images)
        kp = np.zeros((len(frames), self.num_keypoints, 2))
        found = np.zeros((len(frames), self.num_keypoints), bool)
        for i, frame in enumerate(frames):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "No faces were detected." is a counted miss, not a warning
                boxes = self.fa.face_detector.detect_from_image(frame.copy())
                # landmarks of the first detected face only (what pose-evaluation used: get_landmarks()[0])
                lms = self.fa.get_landmarks_from_image(frame, detected_faces=list(boxes[:1])) if len(boxes) else None
            if lms:
                kp[i] = np.asarray(lms[0])[:, :2]
                found[i] = True
        return kp, found


class FaceNetEmbedder(IdentityEmbedder):
    """512-d FaceNet (InceptionResnetV1, VGGFace2) embeddings of MTCNN face crops; NaN rows without a face."""

    name = "facenet"
    has_cosine = True
    dims = 512

    def __init__(self, context: Optional[MetricContext] = None, device: Optional[str] = None, crop: str = "mtcnn",
                 **_: Any) -> None:
        context = context or MetricContext()
        self.device = device or context.device
        try:
            from facenet_pytorch import MTCNN, InceptionResnetV1
        except ImportError as exc:
            raise MetricError(
                "aed (facenet) needs the optional package facenet-pytorch, which is not installed. Install it "
                "with `pip install --no-deps facenet-pytorch` (its metadata pins an old torch; the code runs on "
                f"current torch) and place its weights as `python -m motionbench weights` shows ({exc})") from exc
        if crop not in ("mtcnn", "none"):
            raise MetricError(f"aed (facenet): crop must be 'mtcnn' or 'none', got {crop!r}")
        path = resolve_weight("facenet_vggface2", context, "aed (facenet)")
        net = InceptionResnetV1(pretrained=None, classify=False)
        sd = {k: v for k, v in load_state_dict_file(path).items() if not k.startswith("logits.")}
        net.load_state_dict(sd, strict=True)
        self.net = net.eval().to(self.device)
        self.crop = crop
        self.mtcnn = MTCNN(image_size=160, margin=0, post_process=True, device=self.device) if crop == "mtcnn" else None

    def settings(self) -> Dict[str, Any]:
        return {"library": "facenet-pytorch", "network": "InceptionResnetV1", "weights": "vggface2",
                "crop": "MTCNN 160x160, largest face" if self.crop == "mtcnn" else "whole frame resized to 160x160"}

    @torch.no_grad()
    def _crops(self, images: Tensor) -> list:
        if self.mtcnn is None:
            x = torch.nn.functional.interpolate(images.float().clamp(0, 1), size=(160, 160), mode="bilinear",
                                                align_corners=False)
            return list((torch.round(x * 255) - 127.5) / 128.0)  # facenet's fixed_image_standardization
        crops = []
        for frame in to_uint8_hwc(images):
            with contextlib.redirect_stdout(io.StringIO()):
                crops.append(self.mtcnn(frame))
        return crops

    @torch.no_grad()
    def __call__(self, images: Tensor) -> np.ndarray:
        crops = self._crops(images)
        out = np.full((len(crops), self.dims), np.nan)
        ok = [i for i, c in enumerate(crops) if c is not None]
        if ok:
            batch = torch.stack([crops[i] for i in ok]).to(self.device, torch.float32)
            out[ok] = self.net(batch).double().cpu().numpy()
        return out
