"""Thin-Plate Spline Motion Model (Zhao & Zhang, CVPR 2022), state-dict compatible with the official code."""
