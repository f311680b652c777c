"""Threads that stop early: a failure cancels the work that has not started."""

from __future__ import annotations

import threading

import pytest

from cairn.parallel import parallel_map


def test_results_come_back_in_order() -> None:
    assert parallel_map(lambda x: x * x, list(range(50)), workers=8) == [x * x for x in range(50)]


def test_the_first_failure_stops_the_queue() -> None:
    started: list[int] = []
    gate = threading.Event()

    def work(item: int) -> int:
        started.append(item)
        if item == 0:
            raise OSError("disk full")
        gate.wait(1)
        return item

    with pytest.raises(OSError, match="disk full"):
        parallel_map(work, list(range(1000)), workers=2)
    gate.set()
    assert len(started) < 10
