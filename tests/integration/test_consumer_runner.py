"""The consumer runner on a real broker and database: commit after effect, dead letters,
transient outages, and a group of two splitting the partitions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from cairn_shared.events.envelope import Cause, Envelope, EventData
from cairn_shared.events.runs import RunStarted
from cairn_shared.events.topics import Topic, topic_name
from cairn_shared.kafka.consumer import (
    BatchHandler,
    ConsumerRunner,
    Delivery,
    Handler,
    PermanentError,
    RetryPolicy,
    on,
    on_batch,
)
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.mongo import Collection, Document, insert_once
from cairn_shared.settings import Settings
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect

FAST = RetryPolicy(attempts=3, first_delay_s=0.01, max_delay_s=0.05)


def run_started(n: int) -> Envelope:
    return Envelope.wrap(
        RunStarted(run_id=f"run{n}", started_at=datetime.now(UTC)),
        id=f"evt-{n}",
        source="/test",
        subject=f"team/proj/run{n}",
        cause=Cause(actor="tester"),
        entity="team",
        project="proj",
    )


@pytest.fixture
async def publisher(topics: Settings) -> AsyncIterator[KafkaEventPublisher]:
    publisher = KafkaEventPublisher(topics)
    await publisher.start()
    yield publisher
    await publisher.stop()


@pytest.fixture
def effects(mongo: AsyncMongoClient[Document], settings: Settings) -> Collection:
    return mongo[settings.database_name]["effects"]


def recording(effects: Collection) -> Mapping[str, Handler]:
    async def started(envelope: Envelope, event: RunStarted) -> None:
        await insert_once(effects, {"_id": envelope.id, "run": event.run_id})

    return dict([on(RunStarted, started)])


def runner(
    settings: Settings,
    publisher: KafkaEventPublisher,
    handlers: Mapping[str, Handler],
    group: str = "g",
) -> ConsumerRunner:
    return ConsumerRunner(
        settings,
        group_id=f"{settings.kafka_topic_prefix}{group}",
        topics=[Topic.RUNS],
        handlers=handlers,
        dead_letters=publisher,
        retry=FAST,
    )


async def run_until(
    runners: list[ConsumerRunner], done: Callable[[], bool], timeout_s: float = 60
) -> None:
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        async with asyncio.timeout(timeout_s):
            while not done():
                await asyncio.sleep(0.05)
                for task in tasks:
                    if task.done():
                        task.result()  # surfaces a crash of the loop
    finally:
        for r in runners:
            r.stop()
        await asyncio.gather(*tasks)


async def test_effects_are_applied_once_and_offsets_committed_after_them(
    settings: Settings, publisher: KafkaEventPublisher, effects: Collection
) -> None:
    await publisher.publish_many([(run_started(n), f"k{n}") for n in range(200)])
    first = runner(settings, publisher, recording(effects))

    await run_until([first], lambda: first.processed >= 200)

    assert await effects.count_documents({}) == 200
    # A new member of the same group starts after the committed offsets: nothing is redone.
    again = runner(settings, publisher, recording(effects))
    await publisher.publish(run_started(999), key="late")
    await run_until([again], lambda: again.processed >= 1)
    assert again.processed == 1
    assert await effects.count_documents({}) == 201


async def test_a_redelivered_event_finds_its_own_write(
    settings: Settings, publisher: KafkaEventPublisher, effects: Collection
) -> None:
    event = run_started(1)
    await publisher.publish_many([(event, "k"), (event, "k")])  # delivered twice
    consumer = runner(settings, publisher, recording(effects))

    await run_until([consumer], lambda: consumer.processed >= 2)

    assert await effects.count_documents({}) == 1


async def test_an_event_that_keeps_failing_is_dead_lettered_and_the_rest_flows(
    settings: Settings, publisher: KafkaEventPublisher, effects: Collection
) -> None:
    attempts: list[str] = []

    async def flaky(envelope: Envelope, event: RunStarted) -> None:
        attempts.append(envelope.id)
        if event.run_id == "run1":
            raise RuntimeError("cannot handle run1")
        if event.run_id == "run2":
            raise PermanentError("run2 is malformed")
        await insert_once(effects, {"_id": envelope.id})

    await publisher.publish_many([(run_started(n), "same-key") for n in range(4)])
    consumer = runner(settings, publisher, dict([on(RunStarted, flaky)]))

    await run_until([consumer], lambda: consumer.processed >= 4)

    assert attempts.count("evt-1") == FAST.attempts
    assert attempts.count("evt-2") == 1  # permanent: no retry
    assert await effects.count_documents({}) == 2
    dead = await read_dead_letters(settings, expected=2)
    assert [d[0] for d in dead] == ["evt-1", "evt-2"]
    assert "RuntimeError: cannot handle run1" in dead[0][1]
    assert dead[1][1] == "run2 is malformed"


async def test_events_no_handler_wants_are_skipped_unread_and_their_offsets_committed(
    settings: Settings, publisher: KafkaEventPublisher, effects: Collection
) -> None:
    # Another type on the topic, with a body this member could not even parse: the type header
    # says it is not wanted here, so it is never read, let alone dead-lettered.
    for _ in range(3):
        await publisher.send_raw(
            Topic.RUNS, value=b"not json", key=b"k", headers=[("ce_type", b"run.finished")]
        )
    await publisher.publish(run_started(1), key="k")
    first = runner(settings, publisher, recording(effects))

    await run_until([first], lambda: first.processed >= 4)

    assert await effects.count_documents({}) == 1
    assert await dead_letter_count(settings) == 0
    # Committed with the handled event: a new member of the group starts after all four.
    again = runner(settings, publisher, recording(effects))
    await publisher.publish(run_started(2), key="k")
    await run_until([again], lambda: again.processed >= 1)
    assert again.processed == 1


async def test_a_dependency_outage_is_waited_out_not_dead_lettered(
    settings: Settings, publisher: KafkaEventPublisher, effects: Collection
) -> None:
    outage = {"left": 4}

    async def during_outage(envelope: Envelope, _event: RunStarted) -> None:
        if outage["left"]:
            outage["left"] -= 1
            raise AutoReconnect("connection refused")
        await insert_once(effects, {"_id": envelope.id})

    await publisher.publish(run_started(1), key="k")
    consumer = runner(settings, publisher, dict([on(RunStarted, during_outage)]))

    await run_until([consumer], lambda: consumer.processed >= 1)

    assert outage["left"] == 0
    assert await effects.count_documents({}) == 1


async def test_two_members_split_the_partitions_and_handle_each_event_once(
    settings: Settings, publisher: KafkaEventPublisher, effects: Collection
) -> None:
    await publisher.publish_many([(run_started(n), f"k{n}") for n in range(300)])
    members = [runner(settings, publisher, recording(effects)) for _ in range(2)]

    await run_until(members, lambda: sum(m.processed for m in members) >= 300)

    assert await effects.count_documents({}) == 300


async def dead_letter_count(settings: Settings) -> int:
    topic = topic_name(Topic.DEAD_LETTER, settings.kafka_topic_prefix)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.kafka_partitions)]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def read_dead_letters(settings: Settings, expected: int) -> list[tuple[str, str]]:
    consumer = AIOKafkaConsumer(
        topic_name(Topic.DEAD_LETTER, settings.kafka_topic_prefix),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[tuple[str, str]] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < expected:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        headers = {k: v.decode() for k, v in record.headers}
                        found.append((headers["ce_id"], headers["cairn_dlq_reason"]))
    finally:
        await consumer.stop()
    return found


def batch_member(
    settings: Settings,
    publisher: KafkaEventPublisher,
    group: str,
    handle: BatchHandler,
    *,
    batch_linger_ms: int = 0,
    on_idle: Callable[[], Awaitable[None]] | None = None,
) -> ConsumerRunner:
    """A member whose batch handler takes ``run.started`` events."""
    return ConsumerRunner(
        settings,
        group_id=f"{settings.kafka_topic_prefix}{group}",
        topics=[Topic.RUNS],
        handlers={},
        batch_handlers=on_batch((RunStarted,), handle),
        dead_letters=publisher,
        retry=FAST,
        batch_linger_ms=batch_linger_ms,
        on_idle=on_idle,
    )


def lingering_batches(
    settings: Settings, publisher: KafkaEventPublisher, group: str, handle: BatchHandler
) -> ConsumerRunner:
    """A batch member lingering a second."""
    return batch_member(settings, publisher, group, handle, batch_linger_ms=1_000)


async def test_a_lingering_batch_handler_gets_events_that_arrive_close_together_at_once(
    settings: Settings, publisher: KafkaEventPublisher
) -> None:
    batches: list[list[str]] = []

    async def handle(deliveries: Sequence[Delivery[EventData]]) -> None:
        batches.append([d.envelope.id for d in deliveries])

    lingering = lingering_batches(settings, publisher, "linger", handle)
    key = "one-run"  # one partition, so one batch can hold them all

    async def publish_in_bursts() -> None:
        await publisher.publish(run_started(1), key=key)
        await asyncio.sleep(0.2)  # well within the linger
        await publisher.publish_many([(run_started(n), key) for n in (2, 3)])

    await asyncio.gather(
        publish_in_bursts(),
        run_until([lingering], lambda: sum(map(len, batches)) >= 3),
    )

    assert batches == [["evt-1", "evt-2", "evt-3"]]


async def test_a_batch_handler_gets_a_fetch_of_several_partitions_in_one_call(
    settings: Settings, publisher: KafkaEventPublisher
) -> None:
    """One call, so one round of the handler's writes, however many partitions it spans."""
    batches: list[list[tuple[str, int]]] = []

    async def handle(deliveries: Sequence[Delivery[EventData]]) -> None:
        batches.append([(d.envelope.id, d.partition) for d in deliveries])

    def member() -> ConsumerRunner:
        return lingering_batches(settings, publisher, "across", handle)

    await publisher.publish_many([(run_started(n), f"run-{n}") for n in range(12)])
    await run_until([member()], lambda: sum(map(len, batches)) >= 12)

    assert len(batches) == 1
    assert sorted(event for event, _ in batches[0]) == sorted(f"evt-{n}" for n in range(12))
    assert len({partition for _, partition in batches[0]}) > 1
    # Every partition's offset was committed: a new member of the group gets only what is new.
    await publisher.publish(run_started(99), key="run-0")
    await run_until([member()], lambda: len(batches) >= 2)
    assert [event for event, _ in batches[1]] == ["evt-99"]


async def test_the_idle_hook_runs_once_a_fetch_brings_nothing_and_never_beside_a_handler(
    settings: Settings, publisher: KafkaEventPublisher
) -> None:
    """The history writer saves the summaries it deferred from there when logging stops."""
    log: list[str] = []
    handling = False

    async def handle(deliveries: Sequence[Delivery[EventData]]) -> None:
        nonlocal handling
        handling = True
        await asyncio.sleep(0.05)
        log.extend(d.envelope.id for d in deliveries)
        handling = False

    async def idle() -> None:
        assert not handling
        log.append("idle")

    member = batch_member(settings, publisher, "idle", handle, on_idle=idle)
    await publisher.publish_many([(run_started(n), "one-run") for n in range(3)])
    await run_until([member], lambda: "evt-2" in log and log[-1] == "idle")

    # Handled once each, in order; the hook ran after them (the loop's condition) and never
    # while the handler did (its assert would have ended the loop with an error).
    assert [entry for entry in log if entry != "idle"] == ["evt-0", "evt-1", "evt-2"]
