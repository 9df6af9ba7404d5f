"""The ``identity`` baseline: every output frame is the source image.

It is the floor of every leaderboard: a method that does not beat copy-the-source has learned no motion.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from motionbench.animator import Animator, Capabilities, SourceState


class IdentityAnimator(Animator):
    name = "identity"
    capabilities = Capabilities(relative=True, trainable=False, half_precision=True)

    def encode_source(self, source: Tensor) -> SourceState:
        return {"source": source}

    def animate_state(self, state: SourceState, driving: Tensor, *, mode: str, driving_ref: Optional[Tensor]) -> Tensor:
        src = state["source"]
        return src.unsqueeze(1).expand(-1, driving.shape[1], -1, -1, -1).contiguous()
