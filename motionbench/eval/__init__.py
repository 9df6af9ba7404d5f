"""Evaluation: the two benchmark protocols (:mod:`.runner`, sharded under ``torchrun`` by :mod:`.distributed`),
bootstrap intervals (:mod:`.stats`), the typed result record (:mod:`.results`), the leaderboard CSV
(:mod:`.leaderboard`) and its rendering (:mod:`.report`)."""
