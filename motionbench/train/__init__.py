"""The shared trainer (:mod:`.trainer`), its data, optimisers, DDP wrappers and logging; the ``train`` task
that drives it is :mod:`motionbench.cli.tasks.train`."""
