"""Baselines every trained method must beat."""
from .identity import IdentityAnimator

__all__ = ["IdentityAnimator"]
