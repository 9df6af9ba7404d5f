"""The contract every method implements: :class:`~.animator.Animator` (inference, training hooks, capabilities),
checkpoint files (:mod:`.checkpoint`), the GAN policy (:mod:`.adversarial`), what the chunked inference paths
share (:mod:`.inference`), method configs (:mod:`.config`) and the ``torchrun`` process context
(:mod:`.distributed`)."""
