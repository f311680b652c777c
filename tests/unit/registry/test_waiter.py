"""The command waiter: one poll for every waiting request, answers as results appear."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from cairn_registry.adapters.reads import CollectionReads
from cairn_registry.entrypoints.http.waiter import CommandWaiter


class FakeResults:
    """``CollectionReads.finished`` over a dict; counts the polls and the ids each asked for."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.polls: list[list[str]] = []

    async def finished(self, command_ids: list[str]) -> dict[str, dict[str, Any]]:
        self.polls.append(sorted(command_ids))
        return {i: self.results[i] for i in command_ids if i in self.results}


async def test_waiters_share_polls_and_get_their_own_results() -> None:
    fake = FakeResults()
    waiter = CommandWaiter(cast("CollectionReads", fake), early_interval_s=0.001)

    async def finish_later() -> None:
        await asyncio.sleep(0.02)
        fake.results["a"] = {"_id": "a", "status": "done", "link_index": 3}
        fake.results["b"] = {"_id": "b", "status": "rejected", "code": "invalid", "reason": "no"}

    a, b, _ = await asyncio.gather(waiter.wait("a", 5), waiter.wait("b", 5), finish_later())
    await waiter.close()

    assert a == {"status": "done", "link_index": 3, "version": "v3"}
    assert b == {"status": "rejected", "code": "invalid", "reason": "no"}
    assert ["a", "b"] in fake.polls  # one query for both


async def test_a_command_still_running_at_the_deadline_is_pending() -> None:
    fake = FakeResults()
    waiter = CommandWaiter(cast("CollectionReads", fake), interval_s=0.001, early_interval_s=0.001)

    assert await waiter.wait("slow", 0.05) == {"status": "pending"}
    await waiter.close()


async def test_a_result_written_in_this_process_answers_without_waiting_for_a_poll() -> None:
    fake = FakeResults()
    waiter = CommandWaiter(cast("CollectionReads", fake), first_poll_s=60)
    waiting = asyncio.ensure_future(waiter.wait("a", 30))
    await asyncio.sleep(0.01)  # the request waits; the first poll is a minute away

    waiter.resolve("elsewhere", {"_id": "elsewhere", "status": "done"})  # no one waits: ignored
    waiter.resolve("a", {"_id": "a", "status": "done", "link_index": 1})

    async with asyncio.timeout(1):
        assert await waiting == {"status": "done", "link_index": 1, "version": "v1"}
    assert fake.polls == []
    await waiter.close()
