"""The artifact writer on a real broker and database: gapless versions, dedupe by manifest,
alias moves, redelivery and interrupted attempts, type conflicts, usage."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer
from cairn_manifest.adapters.artifact_repository import ArtifactRepository
from cairn_manifest.adapters.submission_repository import SubmissionRepository
from cairn_manifest.handlers.artifacts import SOURCE, ArtifactWriter
from cairn_shared.events.artifacts import ArtifactLogged, ArtifactUsed
from cairn_shared.events.envelope import Cause, Envelope, EventData
from cairn_shared.events.topics import Topic, topic_name
from cairn_shared.ids import derive_id
from cairn_shared.kafka.consumer import ConsumerRunner, RetryPolicy
from cairn_shared.kafka.publisher import EventPublisher, KafkaEventPublisher
from cairn_shared.mongo import Database, Document
from cairn_shared.settings import Settings
from pymongo import AsyncMongoClient

SEQ = "team/proj/mnist"


def digest(n: int) -> str:
    return hashlib.sha256(f"manifest {n}".encode()).hexdigest()


def wrap(data: EventData, event_id: str, sequence: str = SEQ) -> Envelope:
    return Envelope.wrap(
        data,
        id=event_id,
        source="/test",
        subject=sequence,
        cause=Cause(actor="tester", requestid="req-1"),
        entity="team",
        project="proj",
    )


def logged(
    event_id: str,
    manifest: int,
    *,
    aliases: Sequence[str] = (),
    artifact_type: str = "dataset",
    sequence: str = SEQ,
) -> Envelope:
    name = sequence.rsplit("/", 1)[1]
    data = ArtifactLogged(
        sequence=sequence,
        name=name,
        artifact_type=artifact_type,
        manifest_digest=digest(manifest),
        file_count=1,
        size=manifest,
        metadata={"n": manifest, "a.b": {"$x": 1}},
        aliases=list(aliases),
        run_id="run1",
    )
    return wrap(data, event_id, sequence)


@dataclass
class Stack:
    settings: Settings
    db: Database
    publisher: KafkaEventPublisher
    artifacts: ArtifactRepository
    submissions: SubmissionRepository

    def writer(self, publisher: EventPublisher | None = None) -> ArtifactWriter:
        return ArtifactWriter(self.artifacts, self.submissions, publisher or self.publisher)

    def runner(self) -> ConsumerRunner:
        return ConsumerRunner(
            self.settings,
            group_id=f"{self.settings.kafka_topic_prefix}manifest.artifacts",
            topics=[Topic.ARTIFACTS],
            handlers=self.writer().handlers(),
            dead_letters=self.publisher,
            retry=RetryPolicy(attempts=3, first_delay_s=0.01, max_delay_s=0.05),
        )

    async def consume(self, expected: int) -> ConsumerRunner:
        """Run the writer's consumer until it has taken ``expected`` events off the topic
        (its own announcements included: they share the topic and are skipped)."""
        runner = self.runner()
        task = asyncio.create_task(runner.run())
        try:
            async with asyncio.timeout(60):
                while runner.processed < expected:
                    await asyncio.sleep(0.05)
                    if task.done():
                        task.result()
        finally:
            runner.stop()
            await task
        return runner

    async def emitted(self, expected: int) -> list[Envelope]:
        """The events the writer published, in topic order (one sequence: one partition)."""
        consumer = AIOKafkaConsumer(
            topic_name(Topic.ARTIFACTS, self.settings.kafka_topic_prefix),
            bootstrap_servers=self.settings.kafka_bootstrap,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        found: list[Envelope] = []

        async def take(timeout_ms: int) -> None:
            for records in (await consumer.getmany(timeout_ms=timeout_ms)).values():
                envelopes = (Envelope.from_bytes(r.value) for r in records)
                found.extend(e for e in envelopes if e.source == SOURCE)

        try:
            async with asyncio.timeout(30):
                while len(found) < expected:
                    await take(300)
            await take(500)  # and nothing more than expected
        finally:
            await consumer.stop()
        return found

    async def version_docs(self, sequence: str = SEQ) -> list[Document]:
        cursor = self.db["versions"].find({"sequence": sequence}).sort("version_index", 1)
        return await cursor.to_list()

    async def aliases(self, sequence: str = SEQ) -> dict[str, int]:
        return (await self.artifacts.aliases([sequence]))[sequence]


@pytest.fixture
async def stack(topics: Settings, mongo: AsyncMongoClient[Document]) -> AsyncIterator[Stack]:
    db = mongo[topics.database_name]
    publisher = KafkaEventPublisher(topics)
    await publisher.start()
    artifacts, submissions = ArtifactRepository(db), SubmissionRepository(db)
    await artifacts.setup()
    await submissions.setup()
    yield Stack(topics, db, publisher, artifacts, submissions)
    await publisher.stop()


def summary(events: list[Envelope]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for e in events:
        if e.type == "artifact.committed":
            out.append((e.type, str(e.data["version_index"]), str(e.data["created"])))
        else:
            out.append((e.type, e.data["alias"], str(e.data["version_index"])))
    return out


async def test_many_submissions_to_one_sequence_get_gapless_versions(stack: Stack) -> None:
    count = 40
    other = "team/proj/other"
    events = [logged(f"e{n}", n) for n in range(count)]
    events += [logged(f"o{n}", 100 + n, sequence=other) for n in range(5)]
    await stack.publisher.publish_many([(e, e.subject) for e in events])

    # 45 submissions; per new version: committed, latest added, and (after the first) removed.
    await stack.consume(expected=45 + 45 + 2 * 45 - 2)

    versions = await stack.version_docs()
    assert [v["version_index"] for v in versions] == list(range(count))
    assert [v["manifest_digest"] for v in versions] == [digest(n) for n in range(count)]
    assert [v["version_id"] for v in versions] == [
        derive_id(f"e{n}", "version") for n in range(count)
    ]
    assert versions[3]["logged_by"] == "team/proj/run1"
    assert await stack.aliases() == {"latest": count - 1}
    assert [v["version_index"] for v in await stack.version_docs(other)] == list(range(5))
    for n in range(count):
        done = await stack.submissions.get(f"e{n}")
        assert done is not None
        assert (done["status"], done["version_index"]) == ("committed", n)


async def test_the_same_manifest_twice_is_one_version_and_its_aliases_still_apply(
    stack: Stack,
) -> None:
    writer = stack.writer()
    await writer.logged(first := logged("e1", 1, aliases=["best"]), data_of(first))
    await writer.logged(again := logged("e2", 1, aliases=["prod"]), data_of(again))

    versions = await stack.version_docs()
    assert len(versions) == 1
    assert await stack.aliases() == {"latest": 0, "best": 0, "prod": 0}
    emitted = await stack.emitted(expected=5)
    assert summary(emitted) == [
        ("artifact.committed", "0", "True"),
        ("artifact.alias.added", "latest", "0"),
        ("artifact.alias.added", "best", "0"),
        ("artifact.committed", "0", "False"),
        ("artifact.alias.added", "prod", "0"),
    ]
    assert emitted[3].data["aliases"] == ["best", "latest", "prod"]
    assert emitted[3].data["metadata"] == {"n": 1, "a.b": {"$x": 1}}
    assert emitted[3].data["submission_id"] == "e2"


async def test_moving_an_alias_announces_its_removal_then_its_addition(stack: Stack) -> None:
    writer = stack.writer()
    await writer.logged(e1 := logged("e1", 1, aliases=["best"]), data_of(e1))
    await writer.logged(e2 := logged("e2", 2, aliases=["best"]), data_of(e2))

    emitted = await stack.emitted(expected=8)

    second = emitted[3:]
    assert summary(second) == [
        ("artifact.committed", "1", "True"),
        ("artifact.alias.removed", "latest", "0"),
        ("artifact.alias.added", "latest", "1"),
        ("artifact.alias.removed", "best", "0"),
        ("artifact.alias.added", "best", "1"),
    ]
    assert [e.id for e in second] == [
        derive_id("e2", "committed"),
        derive_id("e2", "alias", "latest", "removed"),
        derive_id("e2", "alias", "latest", "added"),
        derive_id("e2", "alias", "best", "removed"),
        derive_id("e2", "alias", "best", "added"),
    ]
    assert second[1].data["version_id"] == derive_id("e1", "version")
    assert {(e.subject, e.actor, e.requestid) for e in second} == {(SEQ, "tester", "req-1")}
    assert await stack.aliases() == {"latest": 1, "best": 1}


async def test_a_redelivered_submission_changes_nothing_and_re_emits_the_same_events(
    stack: Stack,
) -> None:
    await stack.publisher.publish_many(
        [(logged("e1", 1, aliases=["best"]), SEQ), (logged("e2", 2, aliases=["best"]), SEQ)]
    )
    await stack.consume(expected=2 + 3 + 5)
    before = await stack.version_docs(), await stack.aliases(), await stack.submissions.get("e2")

    await stack.publisher.publish(logged("e2", 2, aliases=["best"]), key=SEQ)  # delivered again
    await stack.consume(expected=1 + 5)

    assert (await stack.version_docs(), await stack.aliases()) == before[:2]
    assert await stack.submissions.get("e2") == before[2]
    emitted = await stack.emitted(expected=3 + 5 + 5)
    first, again = emitted[3:8], emitted[8:]
    assert [e.id for e in again] == [e.id for e in first]
    assert [e.model_dump() for e in again] == [e.model_dump() for e in first]


async def test_an_interrupted_attempt_is_completed_with_the_same_events(stack: Stack) -> None:
    """The first attempt wrote the version and moved the aliases, then Kafka failed."""

    class KafkaDown:
        async def publish(self, envelope: Envelope, *, key: str) -> None:
            raise ConnectionError("kafka is down")

        async def publish_many(self, items: Sequence[tuple[Envelope, str]]) -> None:
            raise ConnectionError("kafka is down")

    await stack.writer().logged(e1 := logged("e1", 1, aliases=["best"]), data_of(e1))
    e2 = logged("e2", 2, aliases=["best"])
    with pytest.raises(ConnectionError):
        await stack.writer(KafkaDown()).logged(e2, data_of(e2))
    assert await stack.aliases() == {"latest": 1, "best": 1}  # applied, not yet announced
    assert await stack.submissions.get("e2") is None

    await stack.writer().logged(e2, data_of(e2))

    emitted = await stack.emitted(expected=8)
    assert summary(emitted[3:]) == [
        ("artifact.committed", "1", "True"),
        ("artifact.alias.removed", "latest", "0"),
        ("artifact.alias.added", "latest", "1"),
        ("artifact.alias.removed", "best", "0"),
        ("artifact.alias.added", "best", "1"),
    ]
    assert len(await stack.version_docs()) == 2


async def test_another_type_under_the_name_is_a_rejected_submission(stack: Stack) -> None:
    writer = stack.writer()
    await writer.logged(e1 := logged("e1", 1), data_of(e1))
    await writer.logged(e2 := logged("e2", 2, artifact_type="model"), data_of(e2))

    rejected = await stack.submissions.get("e2")
    assert rejected is not None
    assert rejected["status"] == "rejected"
    assert rejected["reason"] == "artifact 'mnist' is a 'dataset', not a 'model'"
    assert len(await stack.version_docs()) == 1
    assert len(await stack.emitted(expected=2)) == 2  # only e1's


async def test_a_usage_is_recorded_once(stack: Stack) -> None:
    used = wrap(ArtifactUsed(sequence=SEQ, version_index=0, run_id="run9"), "u1")
    await stack.publisher.publish_many([(used, SEQ), (used, SEQ)])

    await stack.consume(expected=2)

    assert await stack.submissions.used_by(SEQ, [0, 1]) == {0: ["team/proj/run9"], 1: []}
    assert await stack.db["usages"].count_documents({}) == 1


def data_of(envelope: Envelope) -> ArtifactLogged:
    return ArtifactLogged.model_validate(envelope.data)
