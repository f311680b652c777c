"""SIGTERM to any service finishes its in-flight requests and commits, within 10 s."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest
from cairn_shared.mongo import Document
from pymongo import AsyncMongoClient

from tests.conftest import stack_env
from tests.e2e.conftest import UserFactory, cairn_dev

SERVICES = ("ingest", "manifest", "storage", "registry", "automations")


def stop_seconds(output: str, service: str) -> float:
    """How long `cairn-dev down` waited after SIGTERM; it says "killed" if it had to."""
    match = re.search(rf"^{service}: stopped \(pid \d+\) in ([0-9.]+)s$", output, re.MULTILINE)
    assert match, f"{service} did not stop on SIGTERM:\n{output}"
    return float(match.group(1))


@pytest.mark.parametrize("service", SERVICES)
def test_sigterm_stops_each_service_within_10_seconds(service: str) -> None:
    try:
        output = cairn_dev("down", service)
    finally:
        cairn_dev("up", service)

    assert stop_seconds(output, service) <= 10


async def test_requests_in_flight_at_sigterm_finish_and_are_durable(
    http: httpx.AsyncClient, new_user: UserFactory
) -> None:
    user = await new_user("term")
    url = f"/ingest/v1/entities/{user.name}/projects/p/runs"
    answers: dict[int, int] = {}
    warmed_up = asyncio.Event()

    async def start(n: int) -> None:
        try:
            response = await http.post(url, json={"run_id": f"r{n}"}, headers=user.headers)
        except httpx.TransportError:
            return  # never accepted: the gateway could not reach a stopping ingest
        answers[n] = response.status_code
        if len(answers) >= 20:
            warmed_up.set()

    requests = [asyncio.create_task(start(n)) for n in range(300)]
    await warmed_up.wait()
    began = time.monotonic()
    try:
        output = await asyncio.to_thread(cairn_dev, "down", "ingest")
        await asyncio.gather(*requests)
    finally:
        cairn_dev("up", "ingest")

    accepted = sorted(n for n, status in answers.items() if status == 201)
    assert stop_seconds(output, "ingest") <= 10
    assert time.monotonic() - began < 15
    # Only the gateway's own "no upstream" answers, never an error from ingest itself.
    assert set(answers.values()) <= {201, 502, 503}, answers
    assert len(accepted) >= 20
    # Every acknowledged start reached Kafka: manifest's lineage consumer applies each one.
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(stack_env("CAIRN_MONGO_URL"))
    try:
        refs = mongo["cairn_manifest"]["run_refs"]
        wanted = {f"{user.name}/p/r{n}" for n in accepted}
        deadline = time.monotonic() + 60
        while True:
            found = {d["_id"] async for d in refs.find({"_id": {"$in": sorted(wanted)}})}
            if wanted <= found or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert wanted <= found
    finally:
        await mongo.close()
