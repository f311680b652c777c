"""Sampling a long series to a few hundred points, keeping what a plot must not lose.

W&B's ``run.history(samples=500)`` returns at most ``samples`` rows spread over the run, and a
plot of them must still show each key's extremes: a loss spike that sampling skipped would be
a lie. ``Sampler`` takes the rows in order, once, in bounded memory: it keeps every
``stride``-th row and doubles the stride whenever it holds twice the target (so it holds
between ``samples`` and ``2 * samples`` rows whatever the run's length), and beside them each
numeric key's min and max row and the last row. ``result`` spreads the budget that the
extremes leave evenly over the kept rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from cairn_ingest.domain.history import STEP

Row = dict[str, Any]


class Sampler:
    def __init__(self, samples: int, keys: Sequence[str] | None = None) -> None:
        if samples < 1:
            raise ValueError("samples must be at least 1")
        self._samples = samples
        self._keys = list(keys) if keys else None
        self._stride = 1
        self._kept: list[tuple[int, Row]] = []
        self._low: dict[str, tuple[float, int, Row]] = {}
        self._high: dict[str, tuple[float, int, Row]] = {}
        self._last: tuple[int, Row] | None = None
        self.count = 0  # rows that matched

    def add(self, row: Row) -> None:
        """Offer one row, in step order. With ``keys``, only rows holding all of them count
        (as in W&B), reduced to ``_step`` and those keys."""
        if self._keys is not None:
            if not all(key in row for key in self._keys):
                return
            row = {STEP: row[STEP], **{key: row[key] for key in self._keys}}
        position = self.count
        self.count += 1
        self._last = (position, row)
        if position % self._stride == 0:
            self._kept.append((position, row))
            if len(self._kept) >= 2 * self._samples:
                self._kept = self._kept[::2]
                self._stride *= 2
        for key, value in row.items():
            if key == STEP or type(value) not in (int, float) or not math.isfinite(value):
                continue
            low = self._low.get(key)
            if low is None or value < low[0]:
                self._low[key] = (value, position, row)
            high = self._high.get(key)
            if high is None or value > high[0]:
                self._high[key] = (value, position, row)

    def result(self) -> list[Row]:
        """At most ``samples`` rows in order (more only if the extremes alone need more)."""
        if self.count <= self._samples:
            return [row for _, row in self._kept]
        required: dict[int, Row] = {}
        for _, position, row in (*self._low.values(), *self._high.values()):
            required[position] = row
        if self._last is not None:
            required[self._last[0]] = self._last[1]
        budget = max(self._samples - len(required), 0)
        candidates = [(p, r) for p, r in self._kept if p not in required]
        chosen = dict(spread(candidates, budget))
        chosen.update(required)
        return [chosen[position] for position in sorted(chosen)]


def spread(items: Sequence[tuple[int, Row]], count: int) -> list[tuple[int, Row]]:
    """``count`` items evenly spaced over ``items``, the first included."""
    if count <= 0 or not items:
        return []
    if count >= len(items):
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]
