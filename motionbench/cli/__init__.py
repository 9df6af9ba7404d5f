"""The command line: ``python -m motionbench`` (:mod:`.app`), the typed Hydra schemas (:mod:`.schema`), the checks
run before any work (:mod:`.validate`, :mod:`.hydra_check`) and one module per task (:mod:`.tasks`)."""
