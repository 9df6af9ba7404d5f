"""The two floors of every leaderboard.

* ``identity`` (copy the source): every output frame is the source image — perfect identity, no motion.
  A method that does not beat it has learned no motion.
* ``copy_driving``: every output frame is the driving frame — perfect pose, no identity transfer. On
  cross-identity animation the two bracket the identity / pose trade-off.

Both declare ``capabilities.floor``: the benchmark scores their cross-identity protocol in relative *and*
absolute mode, so each mode a method row is compared in has both floors next to it.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from motionbench.core.animator import Animator, Capabilities, SourceState


class IdentityAnimator(Animator):
    name = "identity"
    capabilities = Capabilities(relative=True, trainable=False, floor=True, half_precision=True)

    def encode_source(self, source: Tensor) -> SourceState:
        return {"source": source}

    def animate_state(self, state: SourceState, driving: Tensor, *, mode: str, driving_ref: Optional[Tensor]) -> Tensor:
        src = state["source"]
        return src.unsqueeze(1).expand(-1, driving.shape[1], -1, -1, -1).contiguous()


class CopyDrivingAnimator(Animator):
    name = "copy_driving"
    capabilities = Capabilities(relative=True, trainable=False, floor=True, half_precision=True)

    def encode_source(self, source: Tensor) -> SourceState:
        return {}

    def animate_state(self, state: SourceState, driving: Tensor, *, mode: str, driving_ref: Optional[Tensor]) -> Tensor:
        return driving.clone()
