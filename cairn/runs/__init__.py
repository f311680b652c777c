"""Run history: ``run.log`` rows batched by a background sender, the on-disk spool, offline runs
and ``cairn sync``. Every wire detail lives in ``cairn.runs.transport``."""
