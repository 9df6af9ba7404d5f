"""Motion Representations for Articulated Animation (Siarohin et al., CVPR 2021), state-dict compatible with the official code."""
