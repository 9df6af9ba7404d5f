"""What several test modules share: running the CLI (:mod:`.cli`), tiny models, inputs and loss configs
(:mod:`.methods`), and the official-parity helpers of the TPSMM / MRAA fixtures (:mod:`.parity`). Imported as
``helpers.<module>`` (pytest puts tests/, the folder of conftest.py, on the path)."""
