"""The delivery scheduler: runs the attempts of the deliveries whose partition this member owns.

- A new delivery is attempted at once, and stored by its first attempt (``attempt_first``).
- When this member gains partitions (at start, after a rebalance, after a crash of another
  member), it loads their pending deliveries from MongoDB and resumes their persisted schedule.
- Every ``scan_interval_s`` it loads the pending deliveries due within two intervals, and applies
  the redelivery requests of its partitions; only those due soon are held in memory.
- At most one attempt per delivery runs at a time; a lost partition stops its timers, and each
  attempt checks ownership before it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from cairn_automations.adapters.delivery_repository import DeliveryRepository
from cairn_automations.delivery.attempts import AttemptRunner
from cairn_automations.domain.deliveries import Delivery, Status

log = structlog.get_logger(__name__)

OWNERSHIP_POLL_S = 0.2


class Ownership(Protocol):
    def owned_sources(self) -> frozenset[str]: ...


class DeliveryScheduler:
    def __init__(
        self,
        *,
        deliveries: DeliveryRepository,
        attempts: AttemptRunner,
        schedule: Sequence[float],
        scan_interval_s: float,
        now: Callable[[], datetime],
    ) -> None:
        self._deliveries = deliveries
        self._attempts = attempts
        self._schedule = tuple(schedule)
        self._scan_interval_s = scan_interval_s
        self._now = now
        self._ownership: Ownership | None = None
        self._owned: frozenset[str] = frozenset()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._sources: dict[str, str] = {}  # delivery id → partition, for the timers
        self._running: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False

    def attach(self, ownership: Ownership) -> None:
        self._ownership = ownership

    @property
    def horizon(self) -> timedelta:
        return timedelta(seconds=2 * self._scan_interval_s)

    def submit(self, delivery: Delivery) -> Awaitable[bool]:
        """A new delivery: its first attempt starts now, and stores it (``attempt_first``).
        What it returns is done once the delivery is stored (True if it was new)."""
        if self._stopping or delivery.id in self._running:  # only stored, not sent (again)
            return asyncio.ensure_future(self._deliveries.insert(delivery))
        stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._cancel(delivery.id)
        self._launch(delivery.id, self._attempts.attempt_first(delivery, stored))
        return stored

    def poke(self) -> None:
        """Look for redelivery requests now rather than at the next scan."""
        self._wake.set()

    async def run(self) -> None:
        next_scan = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            owned = self._ownership.owned_sources() if self._ownership else frozenset()
            gained = owned - self._owned
            if owned != self._owned:
                self._forget(self._owned - owned)
                self._owned = owned
                log.info("scheduler.ownership", owned=sorted(owned))
            if gained or self._wake.is_set() or loop.time() >= next_scan:
                self._wake.clear()
                await self._scan_safely()
                next_scan = loop.time() + self._scan_interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), OWNERSHIP_POLL_S)

    async def stop(self, *, grace_s: float = 5.0) -> None:
        self._stopping = True
        self._wake.set()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._sources.clear()
        running = list(self._running.values())
        if running:
            _, late = await asyncio.wait(running, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _scan_safely(self) -> None:
        try:
            await self._redeliver(self._owned)
            await self._load_due(self._owned)
        except Exception as exc:  # noqa: BLE001 - an outage: the next scan tries again
            log.warning("scheduler.scan_failed", error=repr(exc))

    async def _load_due(self, sources: frozenset[str]) -> None:
        for delivery in await self._deliveries.pending(
            sources, due_before=self._now() + self.horizon
        ):
            if delivery.id not in self._timers and delivery.id not in self._running:
                self._schedule_at(delivery, fresh=False)

    async def _redeliver(self, sources: frozenset[str]) -> None:
        for request in await self._deliveries.redelivery_requests(sources):
            delivery_id = request["delivery_id"]
            if delivery_id in self._running:
                continue  # an attempt is under way: apply the request at the next scan
            delivery = await self._attempts.stored(delivery_id)
            if delivery is not None and delivery.status is not Status.PENDING:
                delivery = delivery.redelivered(now=self._now(), schedule=self._schedule)
                await self._deliveries.save_state(delivery)
                self._cancel(delivery_id)
                self._schedule_at(delivery, fresh=True)
                log.info("delivery.redelivering", delivery_id=delivery_id, round=delivery.round)
            await self._deliveries.forget_redelivery_request(request["_id"])

    def _schedule_at(self, delivery: Delivery, *, fresh: bool) -> None:
        if self._stopping or delivery.next_attempt_at is None:
            return
        self._cancel(delivery.id)
        delay = max((delivery.next_attempt_at - self._now()).total_seconds(), 0.0)
        if delay == 0.0:
            self._start(delivery, fresh=fresh)
        elif delivery.next_attempt_at <= self._now() + self.horizon:
            loop = asyncio.get_running_loop()
            self._timers[delivery.id] = loop.call_later(delay, self._start, delivery, False)
            self._sources[delivery.id] = delivery.source
        # later ones are loaded by a scan when they come within the horizon

    def _start(self, delivery: Delivery, fresh: bool) -> None:
        self._timers.pop(delivery.id, None)
        self._sources.pop(delivery.id, None)
        if self._stopping or delivery.id in self._running:
            return
        self._launch(delivery.id, self._attempt(delivery, fresh=fresh))

    def _launch(self, delivery_id: str, work: Awaitable[Delivery | None]) -> None:
        task = asyncio.create_task(self._run(delivery_id, work), name=f"delivery {delivery_id}")
        self._running[delivery_id] = task

    async def _attempt(self, delivery: Delivery, *, fresh: bool) -> Delivery | None:
        if not self._owns(delivery):
            return None
        current = delivery if fresh else await self._reload(delivery.id)
        return None if current is None else await self._attempts.attempt(current)

    async def _run(self, delivery_id: str, work: Awaitable[Delivery | None]) -> None:
        updated: Delivery | None = None
        try:
            updated = await work
        except Exception as exc:  # noqa: BLE001 - the delivery stays pending; a scan resumes it
            log.warning("delivery.attempt_failed", delivery_id=delivery_id, error=repr(exc))
        finally:
            if self._running.get(delivery_id) is asyncio.current_task():
                del self._running[delivery_id]
        if updated is not None and updated.status is Status.PENDING:
            self._schedule_at(updated, fresh=False)

    def _owns(self, delivery: Delivery) -> bool:
        """Asked of the consumer at each attempt: the assignment may have changed since the
        last poll, and a fresh delivery comes from a partition the poll may not have seen."""
        owned = self._ownership.owned_sources() if self._ownership else frozenset()
        return delivery.source in owned

    async def _reload(self, delivery_id: str) -> Delivery | None:
        """The stored state: a delivery resumed from MongoDB may have moved on meanwhile."""
        delivery = await self._attempts.stored(delivery_id)
        if delivery is None or delivery.status is not Status.PENDING:
            return None
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > self._now():
            self._schedule_at(delivery, fresh=False)
            return None
        return delivery

    def _forget(self, sources: frozenset[str]) -> None:
        """Drop the timers of partitions this member lost: their new owner resumes them."""
        for delivery_id, source in list(self._sources.items()):
            if source in sources:
                self._cancel(delivery_id)

    def _cancel(self, delivery_id: str) -> None:
        self._sources.pop(delivery_id, None)
        timer = self._timers.pop(delivery_id, None)
        if timer is not None:
            timer.cancel()
