"""Disentanglement by cross training (LORD generator, identity / pose encoders, cycle consistency)."""
