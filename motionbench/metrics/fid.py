"""FID and KID on Inception pool3 features (pytorch-fid's InceptionV3 and Fréchet distance).

Generated frames are compared with the real frames the protocol drives with (``FrameBatch.driving``: in
same-identity these are the targets themselves, in cross-identity the real test frames of the driving
videos). Images are quantised to 8 bits (as a saved PNG would be) and fed to ``pytorch_fid.inception.
InceptionV3([pool3])`` with its own resizing to 299×299 and [0,1] -> [-1,1] mapping.

The real-frame features and statistics are cached on disk per dataset + resolution + frame selection +
protocol (``MetricContext.cache_dir``, default ``~/.cache/motionbench/fid``): a second benchmark of the same
test set never runs Inception on the real frames again. The cache records which frames it holds; a cache
that does not match the frames of the run is refused with a clear message.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .base import FrameBatch, MetricContext, MetricError, SetMetric
from .common import load_state_dict_file, quantize_uint8, resolve_weight

__all__ = ["FID", "KID", "InceptionFeatures", "frechet_distance", "trace_sqrt_product", "kid_unbiased",
           "default_cache_dir"]

FeatureFn = Callable[[Tensor], np.ndarray]


def default_cache_dir() -> Path:
    return Path(os.path.expanduser("~/.cache/motionbench/fid"))


class MemoisedFeatures:
    """Features of a feature network, memoised by input content, run ``batch_size`` items at a time.

    Items (images N×3×H×W, or clips N×T×3×H×W) in [0,1] are quantised to 8 bits (as a saved PNG/video frame
    would be) when ``quantize`` is set, and keyed by a hash of the network's input: FID and KID (FVD and KVD)
    on the same items share one pass, and the cross-identity protocol's real frames (the test videos' frames,
    already seen by the same-identity protocol) are not run again. Subclasses set ``dims`` and
    implement :meth:`_forward`; batches are halved on a GPU out-of-memory.
    """

    dims = 0
    memo_size = 16384  # items kept

    def __init__(self, device: str, batch_size: int, quantize: bool = True) -> None:
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.quantize = bool(quantize)
        self._memo: "OrderedDict[bytes, np.ndarray]" = OrderedDict()

    def _forward(self, x: Tensor) -> np.ndarray:
        """Features of one batch ``x`` (on ``self.device``), one row per item."""
        raise NotImplementedError

    def _run(self, x: Tensor) -> np.ndarray:
        while True:
            try:
                return np.concatenate([self._forward(x[i:i + self.batch_size].to(self.device))
                                       for i in range(0, len(x), self.batch_size)])
            except torch.cuda.OutOfMemoryError:
                if self.batch_size == 1:
                    raise
                self.batch_size //= 2
                torch.cuda.empty_cache()

    @torch.no_grad()
    def __call__(self, items: Tensor) -> np.ndarray:
        x = items.detach().to("cpu", torch.float32).clamp(0, 1)
        if self.quantize:
            x = quantize_uint8(x)
        keys = [hashlib.sha1(item.numpy().tobytes()).digest() for item in x]
        first = {k: i for i, k in reversed(list(enumerate(keys)))}  # first position of each distinct item
        new = [i for k, i in first.items() if k not in self._memo]
        if new:
            for i, f in zip(new, self._run(x[new])):
                self._memo[keys[i]] = f
        feats = np.stack([self._memo[k] for k in keys]).astype(np.float64) if keys else np.zeros((0, self.dims))
        for k in keys:
            self._memo.move_to_end(k)
        while len(self._memo) > self.memo_size:
            self._memo.popitem(last=False)
        return feats


class InceptionFeatures(MemoisedFeatures):
    """pytorch-fid's InceptionV3 pool3 (2048-d), loaded from the resolved ``pt_inception-...`` file.

    pytorch-fid's own constructor is used; only its download call is replaced (for the duration of the
    construction) by a ``torch.load(weights_only=True)`` of the verified file, so nothing is downloaded.
    Images are memoised (:class:`MemoisedFeatures`, 16384 features of float32: 128 MB) and run 256 at a time
    on a GPU, 64 on CPU.
    """

    dims = 2048

    def __init__(self, context: MetricContext, batch_size: Optional[int] = None, quantize: bool = True) -> None:
        import pytorch_fid.inception as pfi

        path = resolve_weight("fid_inception", context, "fid")
        state = load_state_dict_file(path)
        original = pfi.load_state_dict_from_url
        pfi.load_state_dict_from_url = lambda *a, **k: state  # offline: the resolved file, never the URL
        try:
            self.model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[self.dims]])
        finally:
            pfi.load_state_dict_from_url = original
        self.model.eval().to(context.device)
        self.weights_file = path.name
        cuda = torch.device(context.device).type == "cuda"
        super().__init__(context.device, batch_size or (256 if cuda else 64), quantize)

    def _forward(self, x: Tensor) -> np.ndarray:
        return self.model(x)[0].flatten(1).cpu().numpy()


_SHARED: Dict[Tuple[str, str, bool], InceptionFeatures] = {}


def shared_inception(context: MetricContext, quantize: bool) -> InceptionFeatures:
    """One Inception per (device, verify, quantize) in the process, shared by FID and KID."""
    key = (context.device, str(context.verify_weights), quantize)
    if key not in _SHARED:
        _SHARED[key] = InceptionFeatures(context, quantize=quantize)
    return _SHARED[key]


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((Σ₁Σ₂)^½) from eigenvalues: Σ₁Σ₂ is similar to the symmetric PSD matrix Aᵀ Σ₂ A where Σ₁ = A Aᵀ,
    so the trace is Σᵢ √λᵢ(Aᵀ Σ₂ A).

    A is the Cholesky factor of Σ₁ (cheap and backward stable), or, when Σ₁ is singular (fewer samples
    than dimensions), its symmetric square root from ``eigh`` with the round-off negatives clipped to 0.
    One factorisation plus one ``eigvalsh`` costs a fraction of ``scipy.linalg.sqrtm``'s Schur form of
    the non-symmetric product, and needs no ``eps·I`` regularisation on singular covariances.
    """
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    try:
        a = np.linalg.cholesky(s1)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(s1)
        a = v * np.sqrt(np.clip(w, 0, None))
    m = a.T @ s2 @ a
    lam = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(lam, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """‖μ₁ − μ₂‖² + Tr(Σ₁) + Tr(Σ₂) − 2 Tr((Σ₁Σ₂)^½): pytorch-fid's ``calculate_frechet_distance``
    (tested equal within 1e-6 relative), with the trace term from :func:`trace_sqrt_product`."""
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))


def stats(features: np.ndarray, ddof: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (``np.cov(rowvar=False)``, as pytorch-fid; ``ddof=0``: divided by n, as StyleGAN-V's
    ``FeatureStats.get_mean_cov``)."""
    return np.mean(features, axis=0), np.cov(features, rowvar=False, ddof=ddof)


def kid_unbiased(real: np.ndarray, fake: np.ndarray, num_subsets: int = 100, subset_size: int = 1000,
                 seed: int = 0, max_gram: int = 4096) -> Tuple[float, float, int]:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with k(x,y) = (x·y/d + 1)³.

    ``num_subsets`` random subsets of ``m = min(subset_size, n_real, n_fake)`` samples (without
    replacement) from each set; returns (mean, std over subsets, m).

    Vectorised: the kernel matrices are computed once over the whole sets and every subset's kernel sum
    ``Σ_{i,j∈S} K_ij`` is ``wᵀ K w`` with ``w`` the subset's indicator vector, so all subsets together are
    two matrix products. Sets larger than ``max_gram`` (whose n×n kernels would not fit comfortably in
    memory) compute each subset's m×m kernels instead. Both draw the same subsets.
    """
    d = real.shape[1]
    m = int(min(subset_size, len(real), len(fake)))
    if m < 2:
        return float("nan"), float("nan"), m
    rng = np.random.default_rng(seed)
    subsets = [(rng.choice(len(fake), m, replace=False), rng.choice(len(real), m, replace=False))
               for _ in range(num_subsets)]

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a @ b.T / d + 1) ** 3

    if max(len(real), len(fake)) <= max_gram:
        wf, wr = np.zeros((num_subsets, len(fake))), np.zeros((num_subsets, len(real)))
        for s, (i, j) in enumerate(subsets):
            wf[s, i], wr[s, j] = 1.0, 1.0
        kff, krr = kernel(fake, fake), kernel(real, real)
        sxx = ((wf @ kff) * wf).sum(1) - wf @ np.diag(kff)
        syy = ((wr @ krr) * wr).sum(1) - wr @ np.diag(krr)
        sxy = ((wf @ kernel(fake, real)) * wr).sum(1)
    else:
        sums = []
        for i, j in subsets:
            kxx, kyy = kernel(fake[i], fake[i]), kernel(real[j], real[j])
            sums.append((kxx.sum() - np.trace(kxx), kyy.sum() - np.trace(kyy), kernel(fake[i], real[j]).sum()))
        sxx, syy, sxy = np.array(sums).T
    vals = (sxx + syy) / (m * (m - 1)) - 2 * sxy / (m * m)
    return float(vals.mean()), float(vals.std()), m


class _InceptionSetMetric(SetMetric):
    """Accumulates generated and real features; real ones come from / go to the on-disk cache."""

    protocols = ("same_identity", "cross_identity")
    needs_target = False
    ddof = 1  # covariance normalisation n - ddof of the statistics (see :func:`stats`)

    def __init__(self, context=None, cache: bool = True, cache_dir: Optional[str] = None, quantize: bool = True,
                 extractor: Optional[FeatureFn] = None, **options: Any) -> None:
        super().__init__(context, **options)
        self.quantize = bool(quantize)
        self.extractor: FeatureFn = extractor or shared_inception(self.context, self.quantize)
        self.backbone = getattr(self.extractor, "weights_file", getattr(self.extractor, "__name__", "custom"))
        self.use_cache = bool(cache)
        cdir = cache_dir or self.context.cache_dir or self.context.options.get("fid_cache")
        self.cache_dir = Path(os.path.expanduser(str(cdir))) if cdir else default_cache_dir()
        self.reset()

    def reset(self) -> None:
        self._gen: List[np.ndarray] = []
        self._real: List[np.ndarray] = []
        self._ids: List[bytes] = []  # which frames, in order: the cache's frames digest
        self._protocol: Optional[str] = None
        self._cached: Optional[Dict[str, np.ndarray]] = None
        self.cache_status = "off" if not getattr(self, "use_cache", False) else "miss"

    def _frames_digest(self) -> str:
        return hashlib.sha256(b"".join(self._ids)).hexdigest()

    def _open_cache(self, protocol: str) -> None:
        self._protocol = protocol
        path = self.cache_file(protocol)
        if self.use_cache and path.is_file():
            with np.load(path) as z:
                self._cached = {k: z[k] for k in z.files}
            self.cache_status = "hit"

    def state(self) -> Dict[str, Any]:
        return {"gen": self._gen, "real": self._real, "ids": self._ids, "protocol": self._protocol,
                "hit": self._cached is not None}

    def merge(self, states: Sequence[Dict[str, Any]]) -> None:
        """The ranks' features in rank order; the real-frame cache is used when any rank found it (its frames
        digest is still checked against the merged frames)."""
        self.reset()
        for st in states:
            self._gen += st["gen"]
            self._real += st["real"]
            self._ids += st["ids"]
        protocol = next((st["protocol"] for st in states if st["protocol"] is not None), None)
        if protocol is not None:
            self._protocol = protocol
            if any(st["hit"] for st in states):
                self._open_cache(protocol)

    def cache_file(self, protocol: str) -> Path:
        """Keyed by everything that defines the real frames: the dataset's description (name, absolute root,
        seed, parameters, resolution), the split and frame selection, the protocol, and the feature extractor."""
        described = dict(self.context.dataset_description)
        if described.get("root"):
            described["root"] = os.path.abspath(os.path.expanduser(str(described["root"])))
        key = {"dataset": self.context.dataset, "resolution": self.context.resolution, "described": described,
               "frame_selection": self.context.frame_selection, "protocol": protocol, "real": "driving frames",
               "backbone": self.backbone, "quantize": self.quantize, **self.cache_key()}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
        return self.cache_dir / f"{self.context.dataset}_{self.context.resolution}_{protocol}_{digest}.npz"

    def cache_key(self) -> Dict[str, Any]:
        """Further settings that change the real features or statistics (subclasses add theirs)."""
        return {"ddof": self.ddof} if self.ddof != 1 else {}

    def update(self, batch: FrameBatch) -> None:
        if self._protocol is None:
            self._open_cache(batch.protocol)
        self._gen.append(self.extractor(batch.generated))
        self._ids.append(json.dumps([batch.video, list(map(int, batch.frame_indices))]).encode())
        if self._cached is None:
            self._real.append(self.extractor(batch.driving))

    def _real_features(self) -> np.ndarray:
        digest = self._frames_digest()
        if self._cached is not None:
            if str(self._cached["frames_digest"]) != digest:
                raise MetricError(f"{self.name}: the cached real-frame features {self.cache_file(self._protocol)} "
                                  f"were computed on other frames than this run's (same frame-selection key); "
                                  f"delete the file or set another cache_dir")
            return self._cached["features"].astype(np.float64)
        real = np.concatenate(self._real) if self._real else np.zeros((0, 1))
        if self.use_cache and len(real) and self._protocol is not None:
            self._save(real, digest)
        return real

    def _save(self, real: np.ndarray, digest: str) -> None:
        path = self.cache_file(self._protocol)
        path.parent.mkdir(parents=True, exist_ok=True)
        mu, sigma = stats(real, self.ddof)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        os.close(fd)
        with open(tmp, "wb") as f:
            np.savez(f, features=real.astype(np.float32), mu=mu, sigma=sigma, n=len(real),
                     frames_digest=np.array(digest))
        os.replace(tmp, path)  # atomic: concurrent runs never read a half-written cache

    def _fake_features(self) -> np.ndarray:
        return np.concatenate(self._gen) if self._gen else np.zeros((0, 1))

    def _video_resamples(self, n_boot: int, seed: int) -> List[np.ndarray]:
        """Row indices into the generated features of ``n_boot`` resamples of the videos (with replacement)."""
        from ..eval.stats import resample_groups

        videos = [json.loads(i)[0] for i in self._ids]
        rows: Dict[str, List[int]] = {}
        start = 0
        for video, feats in zip(videos, self._gen):
            rows.setdefault(video, []).extend(range(start, start + len(feats)))
            start += len(feats)
        return resample_groups([np.asarray(r) for r in rows.values() if r], n_boot, seed)

    def settings(self) -> Dict[str, Any]:
        return {"backbone": "pytorch-fid InceptionV3 pool3 (2048-d)" if isinstance(self.extractor, InceptionFeatures)
                else str(self.backbone), "weights": self.backbone, "input": "8-bit quantised [0,1] -> [-1,1], 299x299"
                if self.quantize else "[0,1] -> [-1,1], 299x299", "real_frames": "driving frames of the protocol",
                "cache_dir": str(self.cache_dir) if self.use_cache else None}


class FID(_InceptionSetMetric):
    """Fréchet Inception Distance (pytorch-fid), generated vs real frames of the protocol; lower is better."""

    name = "fid"
    outputs = {"fid": False}

    def compute(self) -> Dict[str, Dict[str, Any]]:
        fake = self._fake_features()
        if self._cached is not None and str(self._cached["frames_digest"]) == self._frames_digest():
            mu_r, sigma_r, n_r = self._cached["mu"], self._cached["sigma"], int(self._cached["n"])
        else:
            real = self._real_features()
            mu_r, sigma_r, n_r = (*stats(real, self.ddof), len(real)) if len(real) >= 2 else (None, None, len(real))
        if len(fake) < 2 or mu_r is None:
            return {self.name: {"value": float("nan"), "n": len(fake), "n_real": n_r, "cache": self.cache_status}}
        mu_f, sigma_f = stats(fake, self.ddof)
        return {self.name: {"value": frechet_distance(mu_f, sigma_f, mu_r, sigma_r), "n": len(fake), "n_real": n_r,
                        "cache": self.cache_status}}

    def bootstrap(self, n_boot: int, seed: int, level: float) -> Dict[str, Tuple[float, float]]:
        """FID of resampled generated videos against the fixed real statistics (bias-corrected interval,
        see :func:`motionbench.eval.stats.percentile_interval`).

        With N generated frames (fewer than the 2048 dimensions, as on every test set of this field's size
        per protocol) the resampled covariance is XᵀX/(n−1) of the centred rows X, and Tr((Σ_r Σ_f)^½) =
        Σ √λ(X Σ_r Xᵀ)/(n−1): every resample is an n×n problem on the precomputed Gram matrices F Σ_r Fᵀ and
        F Fᵀ instead of a 2048-d one. Larger sets use the covariance path (:func:`frechet_distance`)."""
        from ..eval.stats import percentile_interval

        fake = self._fake_features()
        if len(fake) < 2:
            return {self.name: (float("nan"), float("nan"))}
        if self._cached is not None and str(self._cached["frames_digest"]) == self._frames_digest():
            mu_r, sigma_r = self._cached["mu"], self._cached["sigma"]
        else:
            mu_r, sigma_r = stats(self._real_features(), self.ddof)
        out = []
        small = len(fake) < fake.shape[1]
        if small:
            k_r = fake @ sigma_r @ fake.T  # F Σ_r Fᵀ
            gram = fake @ fake.T
            f_mu = fake @ mu_r
            tr_r = float(np.trace(sigma_r))
        for idx in self._video_resamples(n_boot, seed):
            if not small:
                out.append(frechet_distance(*stats(fake[idx], self.ddof), mu_r, sigma_r))
                continue
            n = len(idx)
            w = np.full(n, 1.0 / n)
            kb, gb = k_r[np.ix_(idx, idx)], gram[np.ix_(idx, idx)]
            kw, gw = kb @ w, gb @ w
            m = kb - kw[:, None] - kw[None, :] + w @ kw  # X Σ_r Xᵀ
            lam = np.linalg.eigvalsh((m + m.T) / 2) / (n - self.ddof)
            mean_sq = w @ gw  # ‖μ_f‖²
            tr_f = (np.trace(gb) - n * mean_sq) / (n - self.ddof)
            dist = mean_sq - 2 * w @ f_mu[idx] + mu_r @ mu_r
            out.append(float(dist + tr_f + tr_r - 2 * np.sqrt(np.clip(lam, 0, None)).sum()))
        return {self.name: percentile_interval(np.array(out), level, estimate=self.compute()[self.name]["value"])}


class KID(_InceptionSetMetric):
    """Kernel Inception Distance, unbiased, with its std over random subsets; lower is better."""

    name = "kid"
    outputs = {"kid": False}

    def __init__(self, context=None, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0,
                 **options: Any) -> None:
        super().__init__(context, **options)
        self.num_subsets, self.subset_size, self.seed = int(num_subsets), int(subset_size), int(seed)

    def compute(self) -> Dict[str, Dict[str, Any]]:
        fake, real = self._fake_features(), self._real_features()
        mean, std, m = kid_unbiased(real, fake, self.num_subsets, self.subset_size, self.seed)
        return {self.name: {"value": mean, "std": std, "n": len(fake), "n_real": len(real), "subset_size": m,
                        "num_subsets": self.num_subsets, "cache": self.cache_status}}

    def bootstrap(self, n_boot: int, seed: int, level: float) -> Dict[str, Tuple[float, float]]:
        """Unbiased MMD² over all frames of resampled generated videos (kernel matrices computed once), the
        interval shifted by the bootstrap's bias relative to the reported (subset-averaged) value."""
        from ..eval.stats import percentile_interval

        fake, real = self._fake_features(), self._real_features()
        if len(fake) < 2 or len(real) < 2:
            return {self.name: (float("nan"), float("nan"))}
        d = fake.shape[1]
        k_ff = (fake @ fake.T / d + 1) ** 3
        k_fr = (fake @ real.T / d + 1) ** 3
        k_rr = (real @ real.T / d + 1) ** 3
        m = len(real)
        rr = (k_rr.sum() - np.trace(k_rr)) / (m * (m - 1))
        out = []
        for idx in self._video_resamples(n_boot, seed):
            n = len(idx)
            kb = k_ff[np.ix_(idx, idx)]
            out.append(float((kb.sum() - np.trace(kb)) / (n * (n - 1)) + rr - 2 * k_fr[idx].mean()))
        return {self.name: percentile_interval(np.array(out), level, estimate=self.compute()[self.name]["value"])}

    def settings(self) -> Dict[str, Any]:
        return {**super().settings(), "kernel": "(x.y/d + 1)^3", "estimator": "unbiased MMD^2",
                "num_subsets": self.num_subsets, "subset_size": f"min({self.subset_size}, n)", "seed": self.seed}
