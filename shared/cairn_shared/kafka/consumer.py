"""The consumer runner: decode, dispatch to a handler, and commit only after the effect is durable.

Delivery is at least once and every handler is idempotent on the event id, so the runner's
only duties are ordering (each partition's events in offset order), never committing an offset
whose effect is not durable, and never losing an event that keeps failing: such an event goes to
the dead-letter topic, with the reason, before its offset is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from cairn_shared.events.envelope import Envelope, EventData
from cairn_shared.events.schema_registry import SCHEMAS, SchemaRegistry, UnknownEventError
from cairn_shared.events.topics import Topic, topic_name
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.retry import until_available
from cairn_shared.settings import Settings

log = structlog.get_logger(__name__)

Handler = Callable[[Envelope, EventData], Awaitable[None]]
E = TypeVar("E", bound=EventData)


def on(event: type[E], handler: Callable[[Envelope, E], Awaitable[None]]) -> tuple[str, Handler]:
    """One row of a dispatch table: ``dict([on(RunStarted, started), ...])``, typed per event."""

    async def dispatch(envelope: Envelope, data: EventData) -> None:
        if not isinstance(data, event):
            raise PermanentError(f"{envelope.type} decoded as {type(data).__name__}")
        await handler(envelope, data)

    return event.type, dispatch


@dataclass(frozen=True)
class Delivery(Generic[E]):
    """One decoded event of a batch, with where it sits in its partition."""

    envelope: Envelope
    event: E
    partition: int
    offset: int


BatchHandler = Callable[[Sequence[Delivery[EventData]]], Awaitable[None]]


def on_batch(
    events: Sequence[type[EventData]],
    handler: Callable[[Sequence[Delivery[EventData]]], Awaitable[None]],
) -> dict[str, BatchHandler]:
    """Batch dispatch rows: ``handler`` gets runs of consecutive events (of any of ``events``)
    of one fetch, from any of its partitions, each partition's in offset order.

    For handlers that amortise their writes over many events (one bulk insert per poll instead
    of one per event). The same rules hold as for ``on``: the offsets are committed only after
    ``handler`` returned, and it must be idempotent on each event id, because a batch that
    failed half-way is handed over again, whole or split.
    """
    accepted = tuple(events)

    async def dispatch(deliveries: Sequence[Delivery[EventData]]) -> None:
        for delivery in deliveries:
            if not isinstance(delivery.event, accepted):
                raise PermanentError(
                    f"{delivery.envelope.type} decoded as {type(delivery.event).__name__}"
                )
        await handler(deliveries)

    return {event.type: dispatch for event in accepted}


class Record(Protocol):
    """What the runner reads of an aiokafka ``ConsumerRecord`` (aiokafka ships no type hints)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


# Outages of our own dependencies are retried for as long as they last: dead-lettering an event
# because the database is down would lose it from the normal flow for no fault of its own.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    KafkaError,
    ConnectionError,
    TimeoutError,
)


class _ShutdownRequestedError(Exception):
    """Stop was asked while a handler waited out an outage: leave the event uncommitted."""


class PermanentError(Exception):
    """A handler's verdict that retrying cannot help: the event goes to the dead-letter topic."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_delay_s: float = 0.2
    max_delay_s: float = 10.0

    def delay(self, attempt: int) -> float:
        return min(self.first_delay_s * 2.0 ** (attempt - 1), self.max_delay_s)


MAX_RECORDS = 500  # per handling round
LINGER_FETCH_MIN_BYTES = 1024 * 1024


def _lingering(batch_linger_ms: int) -> dict[str, int]:
    """Fetch settings that let the broker gather events for up to ``batch_linger_ms`` (or
    until a MiB waits) before it answers. A batch handler whose writes cost per call rather
    than per event (the history writer) then makes fewer, larger writes, and the broker
    answers a few fetches a second instead of one per produced batch. 0: no linger."""
    if not batch_linger_ms:
        return {}
    return {"fetch_max_wait_ms": batch_linger_ms, "fetch_min_bytes": LINGER_FETCH_MIN_BYTES}


# Offsets of events no handler here wanted (a topic carries many types) are committed with the
# next handled one, else at most this often: a commit is a round trip, and after a crash such
# events are skipped again at no cost.
SKIPPED_COMMIT_INTERVAL_S = 5.0


class ConsumerRunner:
    """Runs one consumer group member over ``topics`` with a handler per event type."""

    WAIT_FOR_HANDLER_S = 5.0

    def __init__(
        self,
        settings: Settings,
        *,
        group_id: str,
        topics: Sequence[Topic],
        handlers: Mapping[str, Handler],
        dead_letters: KafkaEventPublisher,
        schemas: SchemaRegistry = SCHEMAS,
        retry: RetryPolicy = RetryPolicy(),
        on_start: Callable[[], Awaitable[None]] | None = None,
        batch_handlers: Mapping[str, BatchHandler] | None = None,
        on_assigned: Callable[[], None] | None = None,
        on_idle: Callable[[], Awaitable[None]] | None = None,
        batch_linger_ms: int = 0,
    ) -> None:
        self._settings = settings
        # Tests share a broker: a topic prefix keeps their groups apart from the stack's own.
        self._group_id = settings.kafka_topic_prefix + group_id
        self._topics = [topic_name(t, settings.kafka_topic_prefix) for t in topics]
        self._handlers = dict(handlers)
        self._dead_letters = dead_letters
        self._schemas = schemas
        self._retry = retry
        self._on_start = on_start
        self._batch_handlers = dict(batch_handlers or {})
        self._on_assigned = on_assigned  # e.g. drop caches of what other members may have changed
        self._on_idle = on_idle  # e.g. write what a handler deferred; see ``_idle``
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=self._group_id,
            client_id=f"cairn-{settings.service}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=300_000,
            # Without a linger the broker holds a fetch open until a record arrives (500 ms
            # at most), then answers at once; each round takes every buffered record (up to
            # MAX_RECORDS), after which aiokafka sends the next fetch at once. A short wait
            # (20 ms, tried for the alias path) bought no latency and cost a fifth of a core
            # of the broker's CPU while idle.
            **_lingering(batch_linger_ms),
        )
        # Offsets whose effect is durable but not yet committed, and the lock that makes a
        # partition's "handle then record offset" step atomic with respect to a rebalance.
        self._done: dict[TopicPartition, int] = {}
        # Offsets past events no handler here wanted, not yet committed. Only the loop commits
        # them (see SKIPPED_COMMIT_INTERVAL_S); a revocation or a stop leaves them, as before
        # this member committed only what it handled: a commit made from the revocation
        # callback waits on the group coordinator that runs it, so it must stay rare.
        self._skipped: dict[TopicPartition, int] = {}
        self._committed_at = 0.0  # loop time
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self.processed = 0

    async def run(self) -> None:
        """Consume until ``stop()``; commits what was handled before it returns."""
        if self._on_start is not None:  # e.g. create indexes before the first write
            await until_available(
                "database", self._on_start, retry_on=TRANSIENT_ERRORS, deadline_s=600
            )
        self._consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
        await until_available("kafka", self._consumer.start, retry_on=(KafkaError,))
        log.info("consumer.started", group=self._group_id, topics=self._topics)
        try:
            while not self._stopping.is_set():
                batches = await self._fetch()
                if not batches:
                    await self._idle()
                if self._batch_handlers:
                    try:
                        await self._process_in_batches(batches)
                    finally:
                        await self._commit_when_due()
                    continue
                for tp, records in batches.items():
                    try:
                        await self._process_partition(tp, records)
                    finally:
                        await self._commit_when_due()
        except _ShutdownRequestedError:
            pass
        finally:
            with contextlib.suppress(KafkaError, IllegalStateError):
                await self.commit()
            await self._consumer.stop()
            log.info("consumer.stopped", group=self._group_id, processed=self.processed)

    def stop(self) -> None:
        self._stopping.set()

    async def _fetch(self) -> dict[TopicPartition, list[Record]]:
        batches: dict[TopicPartition, list[Record]] = await self._consumer.getmany(
            timeout_ms=500, max_records=MAX_RECORDS
        )
        return batches

    async def _idle(self) -> None:
        """A fetch brought nothing: run ``on_idle`` under the handlers' lock, so that it never
        overlaps a handler or a rebalance. A failure is logged and tried at the next idle."""
        if self._on_idle is None:
            return
        async with self._lock:
            try:
                await self._on_idle()
            except TRANSIENT_ERRORS as exc:
                log.warning("consumer.idle_failed", group=self._group_id, error=str(exc))

    def assigned(self) -> None:
        """The group gave this member a new set of partitions (called by the listener)."""
        if self._on_assigned is not None:
            self._on_assigned()

    async def _commit_when_due(self) -> None:
        """Handled offsets at once; skipped ones with them, or on their own now and then."""
        loop = asyncio.get_running_loop()
        if not self._done and loop.time() - self._committed_at < SKIPPED_COMMIT_INTERVAL_S:
            return
        self._committed_at = loop.time()
        offsets = {
            tp: max(self._done.get(tp, 0), self._skipped.get(tp, 0))
            for tp in self._done.keys() | self._skipped.keys()
        }
        await self._commit(offsets)
        for tp, offset in offsets.items():
            if self._skipped.get(tp, offset) <= offset:
                self._skipped.pop(tp, None)

    async def commit(self, partitions: Sequence[TopicPartition] | None = None) -> None:
        """Commit the offsets of handled events (of ``partitions``, or all)."""
        await self._commit(
            {
                tp: offset
                for tp, offset in self._done.items()
                if partitions is None or tp in partitions
            }
        )

    async def _commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await self._consumer.commit(dict(offsets))
        except (CommitFailedError, IllegalStateError) as exc:
            # We lost the partition in a rebalance: its new owner re-handles from the last
            # committed offset, which is harmless because handlers are idempotent.
            log.warning("consumer.commit_failed", group=self._group_id, error=str(exc))
        for tp, offset in offsets.items():
            if self._done.get(tp, offset) <= offset:
                self._done.pop(tp, None)

    async def commit_before_revoke(self, revoked: Sequence[TopicPartition]) -> None:
        """Commit what was handled on partitions the group is about to hand to another member.

        Waits a little for an in-flight handler so its offset is committed too; a handler stuck
        on an outage must not stall the whole group, and idempotence covers the rest.
        """
        try:
            await asyncio.wait_for(self._lock.acquire(), self.WAIT_FOR_HANDLER_S)
        except TimeoutError:
            await self.commit(revoked)
            return
        try:
            await self.commit(revoked)
        finally:
            self._lock.release()

    async def _process_partition(self, tp: TopicPartition, records: list[Record]) -> None:
        for record in records:
            if self._stopping.is_set():
                return
            async with self._lock:
                if tp not in self._consumer.assignment():
                    return  # revoked while we were busy: the new owner takes over from here
                handled = await self._process(record)
                (self._done if handled else self._skipped)[tp] = record.offset + 1
                self.processed += 1

    async def _process(self, record: Record) -> bool:
        """Whether the record was handled (or dead-lettered) rather than skipped."""
        if self._unwanted(record):
            return False
        return await self._dispatch(record, await self._decode(record))

    async def _dispatch(self, record: Record, decoded: tuple[Envelope, EventData] | None) -> bool:
        """``_process`` once the record is decoded (None: it was dead-lettered)."""
        if decoded is None:
            return True  # dead-lettered
        envelope, data = decoded
        handler = self._handlers.get(envelope.type)
        if handler is None:
            return False  # topics carry several event types; each group handles the ones it needs
        with structlog.contextvars.bound_contextvars(
            event_id=envelope.id,
            event_type=envelope.type,
            request_id=envelope.requestid or None,
            group=self._group_id,
        ):
            await self._handle_with_retries(handler, envelope, data, record)
        return True

    def _unwanted(self, record: Record) -> bool:
        """Whether the type header names an event no handler here wants: skipped unparsed."""
        for key, value in record.headers or ():
            if key == "ce_type":
                kind = value.decode(errors="replace")
                return kind not in self._handlers and kind not in self._batch_handlers
        return False  # no header (another producer): parsed to find out

    async def _decode(self, record: Record) -> tuple[Envelope, EventData] | None:
        """The record's event; None when it was dead-lettered or no handler wants its type."""
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, f"undecodable envelope: {exc.error_count()} errors")
            return None
        if envelope.type not in self._handlers and envelope.type not in self._batch_handlers:
            return None
        try:
            data = self._schemas.decode(envelope)
        except (UnknownEventError, ValidationError, KeyError) as exc:
            await self._dead_letter(record, f"invalid {envelope.type} payload: {exc}")
            return None
        return envelope, data

    async def _process_in_batches(self, batches: Mapping[TopicPartition, list[Record]]) -> None:
        """Hand runs of consecutive events that share a batch handler to it at once, across
        all partitions of the fetch: one call, so one round of the handler's writes however
        many partitions the events came from. Anything else goes through the per-event path,
        after what came before it in its partition."""
        pending: list[tuple[Record, Delivery[EventData]]] = []
        pending_handler: BatchHandler | None = None
        async with self._lock:
            assigned = self._consumer.assignment()
            for tp, records in batches.items():
                if tp not in assigned:
                    continue  # revoked while we fetched: the new owner takes over from here
                for record in records:
                    if self._stopping.is_set():
                        break
                    unwanted = self._unwanted(record)
                    decoded = None if unwanted else await self._decode(record)
                    batch_handler = self._batch_handlers.get(decoded[0].type) if decoded else None
                    if pending_handler is not None and batch_handler is not pending_handler:
                        await self._flush(pending_handler, pending)
                        pending, pending_handler = [], None
                    if decoded is not None and batch_handler is not None:
                        envelope, data = decoded
                        delivery = Delivery(envelope, data, record.partition, record.offset)
                        pending.append((record, delivery))
                        pending_handler = batch_handler
                        continue
                    handled = not unwanted and await self._dispatch(record, decoded)
                    (self._done if handled else self._skipped)[tp] = record.offset + 1
                    self.processed += 1
            if pending_handler is not None:
                await self._flush(pending_handler, pending)

    async def _flush(
        self, handler: BatchHandler, pending: Sequence[tuple[Record, Delivery[EventData]]]
    ) -> None:
        with structlog.contextvars.bound_contextvars(group=self._group_id, batch=len(pending)):
            await self._handle_batch_with_retries(handler, pending)
        for record, _ in pending:  # in offset order within each partition: the last one stays
            self._done[TopicPartition(record.topic, record.partition)] = record.offset + 1
        self.processed += len(pending)

    async def _handle_batch_with_retries(
        self, handler: BatchHandler, pending: Sequence[tuple[Record, Delivery[EventData]]]
    ) -> None:
        """Like ``_handle_with_retries`` for a batch. When the batch keeps failing, its events
        are retried one by one, so that only the faulty one is dead-lettered."""
        failures = outages = 0
        while True:
            try:
                await handler([delivery for _, delivery in pending])
            except TRANSIENT_ERRORS as exc:
                if self._stopping.is_set():
                    raise _ShutdownRequestedError from exc
                outages += 1
                log.warning("handler.dependency_down", attempt=outages, error=repr(exc))
                await asyncio.sleep(self._retry.delay(outages))
            except Exception as exc:
                failures += 1
                permanent = isinstance(exc, PermanentError)
                if permanent or failures >= self._retry.attempts:
                    if len(pending) > 1:
                        log.warning("handler.batch_split", size=len(pending), error=repr(exc))
                        for item in pending:
                            await self._handle_batch_with_retries(handler, [item])
                        return
                    if not permanent:
                        log.exception("handler.failed", attempts=failures)
                    await self._dead_letter(pending[0][0], _reason(exc))
                    return
                log.warning("handler.retrying", attempt=failures, error=repr(exc))
                await asyncio.sleep(self._retry.delay(failures))
            else:
                return

    async def _handle_with_retries(
        self, handler: Handler, envelope: Envelope, data: EventData, record: Record
    ) -> None:
        failures = outages = 0
        while True:
            try:
                await handler(envelope, data)
            except PermanentError as exc:
                await self._dead_letter(record, str(exc))
                return
            except TRANSIENT_ERRORS as exc:
                if self._stopping.is_set():
                    raise _ShutdownRequestedError from exc
                outages += 1
                log.warning("handler.dependency_down", attempt=outages, error=repr(exc))
                await asyncio.sleep(self._retry.delay(outages))
            except Exception as exc:
                failures += 1
                if failures >= self._retry.attempts:
                    log.exception("handler.failed", attempts=failures)
                    await self._dead_letter(record, f"{type(exc).__name__}: {exc}")
                    return
                log.warning("handler.retrying", attempt=failures, error=repr(exc))
                await asyncio.sleep(self._retry.delay(failures))
            else:
                return

    async def _dead_letter(self, record: Record, reason: str) -> None:
        log.error("event.dead_lettered", topic=record.topic, offset=record.offset, reason=reason)
        headers = [
            *[(k, v) for k, v in record.headers],
            ("cairn_dlq_reason", reason[:1000].encode()),
            ("cairn_dlq_group", self._group_id.encode()),
            ("cairn_dlq_origin", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        ]
        await self._dead_letters.send_raw(
            Topic.DEAD_LETTER, value=record.value or b"", key=record.key, headers=headers
        )


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, PermanentError) else f"{type(exc).__name__}: {exc}"


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._runner.commit_before_revoke(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        names = sorted(f"{tp.topic}/{tp.partition}" for tp in assigned)
        log.info("consumer.assigned", partitions=names)
        self._runner.assigned()
