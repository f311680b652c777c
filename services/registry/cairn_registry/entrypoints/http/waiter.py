"""Waiting for command results: one poll for all the requests of a process that wait.

Each route that changes a collection waits (up to 10 s) for its command's result. Polling per
request would multiply database reads by the number of waiting requests (20 concurrent alias
moves: 400 reads a second) and slow down the very consumer they wait for; one query for every
waiting id costs the same for one waiter or a hundred. Most commands finish within tens of
milliseconds, so the first poll comes after 20 ms, then one every 10 ms while a waiter is that
young, then every 50 ms.

When this process's own consumer owns the collection, the writer hands its results over
(``resolve``) as soon as they are written, and the request needs no poll at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from cairn_shared.mongo import Document

from cairn_registry.adapters.collections import command_result
from cairn_registry.adapters.reads import CollectionReads

log = structlog.get_logger(__name__)


class CommandWaiter:
    def __init__(
        self,
        reads: CollectionReads,
        *,
        interval_s: float = 0.05,
        early_interval_s: float = 0.01,
        early_s: float = 0.2,
        first_poll_s: float = 0.02,
    ) -> None:
        self._reads = reads
        self._interval = interval_s
        self._early_interval = early_interval_s
        self._early = early_s
        # No command is done sooner than its trip through Kafka and its writes: an earlier poll
        # would find nothing (and a result written in this process comes without one).
        self._first_poll = first_poll_s
        self._waiting: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self._newest = 0.0  # when the youngest waiter arrived (loop time)
        self._task: asyncio.Task[None] | None = None

    async def wait(self, command_id: str, timeout_s: float) -> dict[str, Any]:
        """The command's result, or ``{"status": "pending"}`` after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._waiting.setdefault(command_id, []).append(future)
        self._newest = loop.time()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll(), name="command-waiter")
        try:
            await asyncio.wait({future}, timeout=timeout_s)
        finally:
            self._forget(command_id, future)
        return future.result() if future.done() else {"status": "pending"}

    def resolve(self, command_id: str, result: Document) -> None:
        """A result written in this process: its waiters (if any) are answered at once."""
        for future in self._waiting.pop(command_id, []):
            if not future.done():
                future.set_result(command_result(result))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        await asyncio.sleep(self._first_poll)
        while self._waiting:
            try:
                finished = await self._reads.finished(list(self._waiting))
            except Exception as exc:  # noqa: BLE001 - an outage: the waiters time out with 202
                log.warning("command_waiter.poll_failed", error=repr(exc))
                finished = {}
            for command_id, doc in finished.items():
                self.resolve(command_id, doc)
            young = asyncio.get_running_loop().time() - self._newest < self._early
            await asyncio.sleep(self._early_interval if young else self._interval)

    def _forget(self, command_id: str, future: asyncio.Future[dict[str, Any]]) -> None:
        futures = self._waiting.get(command_id)
        if futures is not None and future in futures:
            futures.remove(future)
            if not futures:
                del self._waiting[command_id]
