"""Implicit Motion Function (Gao et al., CVPR 2024): latent tokens, StyleGAN2 token decoder, attention alignment."""
