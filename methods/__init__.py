"""Built-in animators, one sub-package per method (installed as ``motionbench.methods``)."""
