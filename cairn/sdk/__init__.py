"""Runs: ``cairn.init`` and the ``Run`` it returns."""
