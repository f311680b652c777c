"""A state change recorded by one service is applied by a consumer in another exactly once,
even when that consumer is killed with SIGKILL halfway through.

Ingest records each run start as a `run.started` event (it answers only once Kafka has it, and
writes nothing else: no dual write); manifest's lineage consumer applies it to its run
references. We kill manifest at about half of 10,000 events, restart it, and count.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from cairn_shared.mongo import Document
from pymongo import AsyncMongoClient

from tests.conftest import stack_env
from tests.e2e.conftest import UserFactory, cairn_dev

EVENTS = 10_000
CONCURRENCY = 48


async def start_runs(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(EVENTS):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            response = await http.post(url, json={"run_id": f"r{n}"}, headers=headers)
            assert response.status_code == 201, response.text

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def test_sigkill_of_the_consumer_loses_and_duplicates_nothing(
    http: httpx.AsyncClient, new_user: UserFactory
) -> None:
    alice = await new_user("alice")
    prefix = f"{alice.name}/p/"
    url = f"/ingest/v1/entities/{alice.name}/projects/p/runs"
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(stack_env("CAIRN_MONGO_URL"))
    run_refs = mongo["cairn_manifest"]["run_refs"]
    runs = mongo["cairn_ingest"]["runs"]
    mine = {"_id": {"$regex": f"^{prefix}"}}

    try:
        producer = asyncio.create_task(start_runs(http, url, alice.headers))
        started = time.monotonic()
        while await run_refs.count_documents(mine) < EVENTS // 2:
            assert time.monotonic() - started < 300, "manifest did not reach half way"
            assert not producer.done() or producer.exception() is None
            await asyncio.sleep(0.05)
        cairn_dev("kill", "manifest")
        at_kill = await run_refs.count_documents(mine)
        await producer
        cairn_dev("up", "manifest")

        deadline = time.monotonic() + 300
        while await run_refs.count_documents(mine) < EVENTS:
            assert time.monotonic() < deadline, "manifest did not catch up after restart"
            await asyncio.sleep(0.2)
        while await runs.count_documents(mine) < EVENTS:
            assert time.monotonic() < deadline, "ingest's run writer did not catch up"
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # anything redelivered late would show now

        ids = [doc["_id"] async for doc in run_refs.find(mine, {"_id": 1})]
        expected = {f"{prefix}r{n}" for n in range(EVENTS)}
        assert EVENTS // 2 <= at_kill < EVENTS
        assert len(ids) == EVENTS
        assert set(ids) == expected
        assert await runs.count_documents(mine) == EVENTS
    finally:
        await mongo.close()
