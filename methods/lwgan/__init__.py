"""LWGAN (Liquid Warping GAN) without SMPL: official three-stream generator, keypoint flow."""
