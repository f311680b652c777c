"""Sampling a long series to a few hundred points, keeping what a plot must not lose.

W&B's ``run.history(samples=500)`` returns at most ``samples`` rows spread over the run, and a
plot of them must still show each key's extremes: a loss spike that sampling skipped would be
a lie. ``Sampler`` takes the rows in order, once, in bounded memory: it keeps every
``stride``-th row and doubles the stride whenever it holds twice the target (so it holds
between ``samples`` and ``2 * samples`` rows whatever the run's length), and beside them each
numeric key's min and max row and the last row. ``result`` spreads the budget that the
extremes leave evenly over the kept rows.

Rows come as blocks of columns (``domain.history``), and only the rows kept become dicts: a
key's extremes over a block are two C-level passes, so a million rows take about a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from cairn_ingest.domain.history import NUMBERS, STEP, Block

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

    def add(self, block: Block) -> None:
        """Offer a block of rows, in step order. With ``keys``, only rows holding all of them
        count (as in W&B), reduced to ``_step`` and those keys."""
        if self._keys is not None:
            if not all(key in block for key in self._keys):
                return
            block = {STEP: block[STEP], **{key: block[key] for key in self._keys}}
        first, size = self.count, len(block[STEP])
        if not size:
            return
        self.count += size
        self._last = (self.count - 1, _row(block, size - 1))
        self._keep(block, first, size)
        for key, column in block.items():
            if key != STEP:
                self._extremes(key, column, block, first)

    def _keep(self, block: Block, first: int, size: int) -> None:
        """Every ``stride``-th row of the run, as if the block's rows came one by one."""
        position = -(-first // self._stride) * self._stride  # the first multiple >= first
        while position < first + size:
            self._kept.append((position, _row(block, position - first)))
            if len(self._kept) >= 2 * self._samples:
                self._kept = self._kept[::2]
                self._stride *= 2
            position = (position // self._stride + 1) * self._stride

    def _extremes(self, key: str, column: list[Any], block: Block, first: int) -> None:
        """The column's finite numeric min and max (the earliest on a tie), if they beat the
        run's so far."""
        found = _finite_extremes(column)
        if found is None:
            return
        (low, at_low), (high, at_high) = found
        known = self._low.get(key)
        if known is None or low < known[0]:
            self._low[key] = (low, first + at_low, _row(block, at_low))
        known = self._high.get(key)
        if known is None or high > known[0]:
            self._high[key] = (high, first + at_high, _row(block, at_high))

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


def _row(block: Block, index: int) -> Row:
    return {key: column[index] for key, column in block.items()}


def _finite_extremes(column: list[Any]) -> tuple[tuple[float, int], tuple[float, int]] | None:
    """``((min, index), (max, index))`` over the finite numbers (not bools) of ``column``,
    each at its first occurrence; None if it has none. Two C passes for an all-number column
    (a finite sum proves every value finite), one Python pass otherwise."""
    if set(map(type, column)) <= NUMBERS:
        try:
            finite = math.isfinite(sum(column))
        except OverflowError:  # an int beyond float range
            finite = False
        if finite:
            low, high = min(column), max(column)
            return (low, column.index(low)), (high, column.index(high))
    numbers = [(value, index) for index, value in enumerate(column) if _finite(value)]
    if not numbers:
        return None
    return min(numbers, key=_value), max(numbers, key=_value)


def _finite(value: Any) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _value(item: tuple[float, int]) -> float:
    return item[0]
