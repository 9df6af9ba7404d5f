"""Weights: the pretrained files of metrics and losses (:mod:`.weights`), the methods' official checkpoints
(:mod:`.pretrained`), and building models and datasets from configs (:mod:`.build`)."""
