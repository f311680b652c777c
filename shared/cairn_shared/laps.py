"""Milliseconds per phase of one piece of work, for the log line that shows where it went."""

from __future__ import annotations

import time


class Laps:
    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        """Close the phase ``name``: the time since the previous lap (or since creation)."""
        now = time.perf_counter()
        self.laps[f"{name}_ms"] = round((now - self._last) * 1000, 1)
        self._last = now
