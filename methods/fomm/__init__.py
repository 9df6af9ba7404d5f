"""First Order Motion Model (Siarohin et al., NeurIPS 2019), state-dict compatible with the official code."""
