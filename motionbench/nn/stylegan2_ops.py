"""Functional StyleGAN2 operations in plain PyTorch, arranged for CPU speed (results equal the
reference formulations up to float rounding).

* :func:`upfirdn2d` — FIR up/down-sampling as one depthwise (transposed) convolution, no work spent on
  inserted zeros or dropped outputs (the reference ``upfirdn2d_native`` zero-inserts, runs a
  single-channel convolution over N·C images at full resolution, then sub-samples).
* :func:`conv_transpose3x3_s2` — the stride-2 transposed 3×3 convolution of StyleGAN2's up-sampling
  layers as one ordinary 2×2 convolution producing the four output phases, then ``pixel_shuffle``.
  CPU back-ends run ordinary convolutions several times faster than transposed ones.
* :func:`fused_leaky_relu` — in place when autograd is off.
* :func:`derived` — weight-derived tensors (scaled weights, demodulation sums, phase layouts) computed
  once and reused while autograd is off and the parameter is unchanged (video inference runs the same
  weights for every frame).
"""
from __future__ import annotations

from typing import Callable, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["SQRT2", "make_kernel", "upfirdn2d", "fir_filter", "fused_leaky_relu", "phase_weight",
           "conv_transpose3x3_s2", "derived"]

SQRT2 = 2 ** 0.5


def make_kernel(k: Sequence[float]) -> Tensor:
    """Normalised 2-D FIR kernel: outer product of a 1-D kernel with itself, summing to 1."""
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def _depthwise(kernel: Tensor, x: Tensor, flip: bool) -> Tensor:
    k = kernel.to(dtype=x.dtype, device=x.device)
    if flip:
        k = torch.flip(k, [0, 1])
    return k.expand(x.shape[1], 1, *k.shape).contiguous()


def fir_filter(x: Tensor, kernel: Tensor, pad: Tuple[int, int], out_size: Tuple[int, int] = None) -> Tensor:
    """Zero-pad by ``pad`` (left/top, right/bottom) and convolve each channel with ``kernel``.

    Symmetric pads use the convolution's own padding (no padded copy). ``out_size`` crops the result,
    which lets callers supply inputs that already carry trailing zeros.
    """
    p0, p1 = pad
    weight = _depthwise(kernel, x, flip=True)
    if p0 == p1 and p0 >= 0:
        out = F.conv2d(x, weight, padding=p0, groups=x.shape[1])
    else:
        out = F.conv2d(F.pad(x, [p0, p1, p0, p1]), weight, groups=x.shape[1])
    if out_size is not None and tuple(out.shape[-2:]) != tuple(out_size):
        out = out[:, :, :out_size[0], :out_size[1]]
    return out


def upfirdn2d(x: Tensor, kernel: Tensor, up: int = 1, down: int = 1, pad: Tuple[int, int] = (0, 0)) -> Tensor:
    """Up-sample (zero insertion), pad, convolve with ``kernel`` (true convolution), down-sample.

    Same result as StyleGAN2's ``upfirdn2d_native`` (square factors and pads).
    """
    p0, p1 = pad
    if up == 1:
        if down == 1:
            return fir_filter(x, kernel, pad)
        weight = _depthwise(kernel, x, flip=True)
        return F.conv2d(F.pad(x, [p0, p1, p0, p1]), weight, stride=down, groups=x.shape[1])
    kh = kernel.shape[0]
    # zero insertion + correlation with flip(kernel) == transposed conv with kernel, then crop / pad
    out = F.conv_transpose2d(x, _depthwise(kernel, x, flip=False), stride=up, groups=x.shape[1])
    left, right = p0 - (kh - 1), up + p1 - kh
    if left or right:
        out = F.pad(out, [left, right, left, right])
    return out[:, :, ::down, ::down] if down > 1 else out


def fused_leaky_relu(x: Tensor, bias: Tensor, negative_slope: float = 0.2, scale: float = SQRT2,
                     inplace: bool = False) -> Tensor:
    """leaky_relu(x + bias) * scale; ``inplace`` overwrites ``x`` (only without autograd)."""
    if inplace and not torch.is_grad_enabled():
        return F.leaky_relu_(x.add_(bias), negative_slope).mul_(scale)
    return F.leaky_relu(x + bias, negative_slope) * scale


# (phase, tap, weight index): taps over the input positions (p-1, p) feeding the even / odd output phase
_PHASE_TAPS = ((0, 0, 2), (0, 1, 0), (1, 1, 1))


def phase_weight(weight: Tensor) -> Tensor:
    """(O, I, 3, 3) weight → (4·O, I, 2, 2): output channel 4o + 2a + b computes phase (a, b) of the
    stride-2 transposed convolution of output channel o (a, b = row / column parity)."""
    o, i = weight.shape[:2]
    out = weight.new_zeros(o, 2, 2, i, 2, 2)  # o, a, b, i, r, c
    for a, r, row in _PHASE_TAPS:
        for b, c, col in _PHASE_TAPS:
            out[:, a, b, :, r, c] = weight[:, :, row, col]
    return out.reshape(4 * o, i, 2, 2)


def conv_transpose3x3_s2(x: Tensor, weight: Tensor, phase: Tensor = None) -> Tensor:
    """``conv_transpose2d(x, weight.transpose(0, 1), stride=2)`` for a (O, I, 3, 3) conv-layout weight,
    returned with one extra zero row and column: N×O×(2H+2)×(2W+2) (the exact result is
    ``[..., :2H+1, :2W+1]``). ``phase`` may pass a precomputed :func:`phase_weight`."""
    phase = phase_weight(weight) if phase is None else phase
    return F.pixel_shuffle(F.conv2d(x, phase, padding=1), 2)


def derived(module: torch.nn.Module, name: str, param: Tensor, fn: Callable[[], Tensor]) -> Tensor:
    """``fn()`` (a tensor computed from ``param``), cached on ``module`` while autograd is off.

    The cache key holds the parameter's version counter and storage, so in-place updates (optimiser
    steps, ``load_state_dict``) and moves (``.to``) invalidate it. With autograd on, nothing is cached.
    """
    if torch.is_grad_enabled():
        return fn()
    key = (param._version, param.data_ptr(), param.device, param.dtype)
    cache = module.__dict__.setdefault("_derived_cache", {})
    hit = cache.get(name)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = fn()
    cache[name] = (key, value)
    return value
