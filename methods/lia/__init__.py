"""Latent Image Animator (Wang et al., ICLR 2022), state-dict compatible with the official code."""
