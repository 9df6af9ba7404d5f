"""What several methods share (installed as ``motionbench.methods.common``): relative-motion transfer as in the
official FOMM demo (:mod:`.normalize`, also used by LWGAN, TPSMM and MRAA), and the animator mixin of TPSMM and
MRAA (:mod:`.avd_family`: the ``avd`` mode, the official per-frame loop, the AVD training stage). FOMM's networks
that other methods reuse stay in :mod:`motionbench.methods.fomm`."""
