"""Run history on the real stack: ingest's history route publishes to Kafka, the history
writer (a consumer group of its own) stores it in MongoDB, and the read routes return it."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cairn_ingest.adapters.history_repository import HistoryRepository, chunk_document
from cairn_ingest.bootstrap import create_app as create_ingest
from cairn_ingest.domain.summary import BatchStats, RunSummary
from cairn_ingest.handlers.history_writer import HANDLED, HistoryWriter
from cairn_ingest.history_writer import GROUP
from cairn_shared.events.topics import Topic
from cairn_shared.kafka.consumer import ConsumerRunner, RetryPolicy, on_batch
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.mongo import Document
from cairn_shared.settings import Settings
from pymongo import AsyncMongoClient

from cairn.runs.batch import blocks_of
from cairn.runs.transport import HISTORY_TYPE
from tests.conftest import stack_env

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]


class Harness:
    def __init__(
        self,
        client: Client,
        settings: Settings,
        repository: HistoryRepository,
        dead_letters: KafkaEventPublisher | None = None,
    ) -> None:
        self.client, self.settings, self.repository = client, settings, repository
        self.dead_letters = dead_letters
        self.headers = {"Authorization": f"Bearer {stack_env('CAIRN_API_KEY')}"}
        self.run = f"/v1/entities/it{settings.service[2:]}/projects/proj/runs/run1"

    async def post(self, seq: int, steps: range, batch_id: str = "") -> Any:
        """Rows in both formats ingest takes: the SDK's columns (even seqs) and NDJSON."""
        rows = [{"_step": s, "loss": 1 / (s + 1)} for s in steps]
        if seq % 2:
            text, kind = b"".join(orjson.dumps(row) + b"\n" for row in rows), "application/x-ndjson"
        else:
            text, kind = orjson.dumps(blocks_of(rows)), HISTORY_TYPE
        return await self.client.post(
            f"{self.run}/history",
            params={"batch_id": batch_id or str(uuid.uuid4()), "seq": str(seq)},
            data=gzip.compress(text),
            headers=self.headers | {"Content-Type": kind, "Content-Encoding": "gzip"},
        )

    async def scan(self, page_size: int = 100) -> list[int]:
        steps: list[int] = []
        cursor: str | None = None
        while True:
            params = {"page_size": str(page_size)} | ({"cursor": cursor} if cursor else {})
            page = await (
                await self.client.get(
                    f"{self.run}/history/scan", params=params, headers=self.headers
                )
            ).json()
            steps.extend(row["_step"] for row in page["rows"])
            cursor = page["next"]
            if not cursor:
                return steps

    async def wait_stored(self, seq: int) -> dict[str, Any]:
        answer = await self.client.get(
            f"{self.run}/history/status",
            params={"seq": str(seq), "wait_s": "60"},
            headers=self.headers,
        )
        status: dict[str, Any] = await answer.json()
        assert status["stored"], status
        return status

    def writer(self, writer: HistoryWriter | None = None) -> tuple[ConsumerRunner, HistoryWriter]:
        writer = writer or HistoryWriter(self.repository)
        assert self.dead_letters is not None
        runner = ConsumerRunner(
            self.settings,
            group_id=GROUP,
            topics=[Topic.RUN_HISTORY],
            handlers={},
            batch_handlers=on_batch(HANDLED, writer.handle),
            dead_letters=self.dead_letters,
            retry=RetryPolicy(attempts=3, first_delay_s=0.01, max_delay_s=0.05),
            on_assigned=writer.forget,
        )
        return runner, writer


@pytest.fixture
async def harness(
    aiohttp_client: ClientFactory, topics: Settings, mongo: AsyncMongoClient[Document]
) -> AsyncIterator[Harness]:
    client = await aiohttp_client(create_ingest(topics))
    dead_letters = KafkaEventPublisher(topics)
    await dead_letters.start()
    yield Harness(client, topics, HistoryRepository(mongo[topics.database_name]), dead_letters)
    await dead_letters.stop()


async def running(runner: ConsumerRunner) -> asyncio.Task[None]:
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(0)
    return task


async def test_batches_are_stored_once_in_order_and_read_back_whole(harness: Harness) -> None:
    for seq in range(30):
        batch_id = f"batch-{seq}"
        answer = await harness.post(seq, range(seq * 50, seq * 50 + 50), batch_id)
        assert answer.status == 200, await answer.text()
        if seq in (5, 17):  # a client retry after a lost acknowledgement
            again = await harness.post(seq, range(seq * 50, seq * 50 + 50), batch_id)
            assert again.status == 200
    runner, writer = harness.writer()
    task = await running(runner)
    try:
        status = await harness.wait_stored(29)
    finally:
        runner.stop()
        await task
    assert status["history_rows"] == 1500
    assert writer.duplicates == 2
    assert await harness.scan(page_size=333) == list(range(1500))
    sampled = await (
        await harness.client.get(
            f"{harness.run}/history", params={"samples": "50"}, headers=harness.headers
        )
    ).json()
    steps = [row["_step"] for row in sampled["rows"]]
    assert len(steps) <= 50
    assert {0, 1499} <= set(steps)  # loss is highest at step 0 and lowest at the last step


async def test_a_writer_that_stops_mid_stream_and_a_half_done_write_store_exactly_once(
    harness: Harness,
) -> None:
    for seq in range(20):
        assert (await harness.post(seq, range(seq * 10, seq * 10 + 10))).status == 200
    first, _ = harness.writer()
    task = await running(first)
    async with asyncio.timeout(60):
        while first.processed < 5:  # noqa: ASYNC110 - polling the runner's counter
            await asyncio.sleep(0.01)
    first.stop()
    await task
    for seq in range(20, 40):
        assert (await harness.post(seq, range(seq * 10, seq * 10 + 10))).status == 200

    class FailingOnce(HistoryRepository):
        """The chunks are written, then the process dies before the summary is."""

        failed = False

        async def save_summaries(self, summaries: Sequence[RunSummary]) -> None:
            if not FailingOnce.failed:
                FailingOnce.failed = True
                raise RuntimeError("killed between the chunks and the summary")
            await super().save_summaries(summaries)

    repository = FailingOnce(harness.repository._chunks.database)
    second, _ = harness.writer(HistoryWriter(repository))
    task = await running(second)
    try:
        status = await harness.wait_stored(39)
    finally:
        second.stop()
        await task
    assert FailingOnce.failed
    assert status["history_rows"] == 400
    assert await harness.scan(page_size=1000) == list(range(400))


async def test_back_pressure_answers_429_with_retry_after(
    aiohttp_client: ClientFactory, topics: Settings, mongo: AsyncMongoClient[Document]
) -> None:
    del mongo
    tight = topics.model_copy(update={"history_max_inflight_bytes": 1024})
    harness = Harness(await aiohttp_client(create_ingest(tight)), tight, None)  # type: ignore[arg-type]
    answer = await harness.post(0, range(200))  # more than 1 KiB compressed
    assert answer.status == 429
    assert answer.headers["Retry-After"] == "1"
    assert (await answer.json())["error"]["code"] == "too_many_requests"
    small = await harness.post(0, range(1))
    assert small.status == 200


async def test_summaries_of_hundreds_of_runs_are_saved_and_saved_again(
    mongo: AsyncMongoClient[Document], settings: Settings
) -> None:
    """One round can touch hundreds of runs; they go in commands of at most 50 replacements."""
    repository = HistoryRepository(mongo[settings.database_name])
    summaries = [RunSummary(path=f"e/p/r{n}", entity="e", project="p") for n in range(230)]
    await repository.save_summaries(summaries)
    for summary in summaries:
        summary.rows = 7

    await asyncio.wait_for(repository.save_summaries(summaries), timeout=60)

    stored = await repository.summaries(s.path for s in summaries)
    assert len(stored) == 230
    assert {s.rows for s in stored.values()} == {7}


async def test_a_summary_read_applies_the_chunks_stored_since_it_was_saved(
    mongo: AsyncMongoClient[Document], settings: Settings
) -> None:
    """The writer saves a summary every few seconds; readers see every stored chunk anyway,
    up to the first number missing."""
    repository = HistoryRepository(mongo[settings.database_name])
    summary = RunSummary(path="e/p/r", entity="e", project="p")
    at = datetime.now(UTC).replace(microsecond=0)  # BSON keeps milliseconds

    def stored_chunk(n: int) -> Document:
        stats = BatchStats(
            rows=10,
            min_step=10 * n,
            max_step=10 * n + 9,
            seq=n,
            ordered=True,
            last={"loss": 1 / (n + 1), "a.b": n},
            min={"loss": 1 / (n + 1)},
            max={"loss": 1.0},
        )
        number = summary.apply(stats, partition=2, offset=100 + n, at=at)
        return chunk_document(
            path=summary.path,
            number=number,
            event_id=f"evt-{n}",
            batch_id=f"b-{n}",
            keys=list(stats.last),
            stats=stats,
            partition=2,
            offset=100 + n,
            at=at,
            encoding="columns+gzip",
            body=gzip.compress(b'[{"_step":[0]}]'),
        )

    await repository.insert_chunks([stored_chunk(0)])
    await repository.save_summaries([summary])
    await repository.insert_chunks([stored_chunk(n) for n in range(1, 20)])  # past PROBE
    expected = summary.copy()
    stored_chunk(20)  # numbered but never stored: a half-done insert
    await repository.insert_chunks([stored_chunk(21)])

    assert await repository.summary(summary.path) == expected
    assert (expected.chunks, expected.rows, expected.seq, expected.offset) == (20, 200, 19, 119)
