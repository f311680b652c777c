"""Ingest's artifact routes over the whole service on the real stack: every fault of a
submission is a 400 that publishes nothing; a name of another type is a 409 from what the real
manifest service knows."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from aiokafka import AIOKafkaConsumer
from cairn_ingest.bootstrap import create_app as create_ingest
from cairn_manifest.bootstrap import create_app as create_manifest
from cairn_shared.events.artifacts import ArtifactLogged
from cairn_shared.events.envelope import Cause, Envelope
from cairn_shared.events.topics import Topic, topic_name
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.manifests import canonical_bytes
from cairn_shared.mongo import Document
from cairn_shared.settings import Settings
from pymongo import AsyncMongoClient

from tests.conftest import stack_env

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]


def submission(*paths: str, **changes: Any) -> dict[str, Any]:
    raw = canonical_bytes(
        {"contents": {p: {"digest": "b" * 64, "size": 1} for p in paths}, "version": 1}
    )
    body = {
        "name": "mnist",
        "type": "dataset",
        "aliases": ["best"],
        "run_id": "run1",
        "client_id": str(uuid.uuid4()),
        "manifest_digest": hashlib.sha256(raw).hexdigest(),
        "manifest_json": raw.decode(),
    }
    return body | changes


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"name": "a/b"}, "bad_request", "invalid artifact name 'a/b'"),
    ({"name": "a:b"}, "bad_request", "invalid artifact name 'a:b'"),
    ({"type": "data/set"}, "bad_request", "invalid artifact type 'data/set'"),
    ({"aliases": ["a/b"]}, "bad_request", "invalid alias 'a/b'"),
    ({"aliases": ["best", "a:b"]}, "bad_request", "invalid alias 'a:b'"),
    ({"metadata": {f"k{i}": i for i in range(101)}}, "bad_request", "metadata has 101 keys"),
    ({"manifest_digest": "0" * 64}, "digest_mismatch", "manifest_digest is 0000"),
    ({"run_id": "../x"}, "bad_request", "invalid run id '../x'"),
]
BAD_PATHS = ["../outside.txt", "data/../../outside.txt", "/etc/passwd", "a//b"]


async def test_every_fault_of_a_submission_is_a_400_and_nothing_is_published(
    aiohttp_client: ClientFactory, topics: Settings, mongo: AsyncMongoClient[Document]
) -> None:
    del mongo  # drops the service's database afterwards
    client = await aiohttp_client(create_ingest(topics))
    headers = {"Authorization": f"Bearer {stack_env('CAIRN_API_KEY')}"}
    url = "/v1/entities/team/projects/proj/artifacts"
    cases = [(submission("ok.txt", **c), code, m) for c, code, m in BAD]
    cases += [(submission(p), "invalid_manifest", f"invalid entry path {p!r}") for p in BAD_PATHS]

    for body, code, message in cases:
        response = await client.post(url, json=body, headers=headers)
        error = (await response.json())["error"]
        assert (response.status, error["code"]) == (400, code), (body, error)
        assert error["message"].startswith(message), (body, error)
    used = await client.post(
        url + "/used", json={"run_id": "r", "name": "a/b", "version_index": 0}, headers=headers
    )
    assert used.status == 400

    assert await messages_on(topics, Topic.ARTIFACTS) == 0


async def test_a_name_that_holds_another_type_is_a_409(
    aiohttp_client: ClientFactory, topics: Settings, mongo: AsyncMongoClient[Document], unique: str
) -> None:
    del mongo
    manifest = await aiohttp_client(create_manifest(topics))
    ingest_settings = topics.model_copy(update={"manifest_url": str(manifest.make_url(""))})
    ingest = await aiohttp_client(create_ingest(ingest_settings))
    headers = {"Authorization": f"Bearer {stack_env('CAIRN_API_KEY')}"}
    entity = f"it{unique}"
    await committed_model(topics, manifest, headers, entity)

    response = await ingest.post(
        f"/v1/entities/{entity}/projects/proj/artifacts",
        json=submission("weights.bin", name="cnn", type="dataset"),
        headers=headers,
    )

    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "type_conflict"
    assert error["message"] == "artifact 'cnn' is a 'model', not a 'dataset'"


async def committed_model(
    settings: Settings, manifest: Client, headers: dict[str, str], entity: str
) -> None:
    """A model ``cnn`` that the manifest service has applied."""
    sequence = f"{entity}/proj/cnn"
    event = ArtifactLogged(
        sequence=sequence, name="cnn", artifact_type="model", manifest_digest="c" * 64,
        file_count=1, size=1,
    )  # fmt: skip
    envelope = Envelope.wrap(
        event, id=f"seed-{entity}", source="/test", subject=sequence,
        cause=Cause(actor="tester"), entity=entity, project="proj",
    )  # fmt: skip
    publisher = KafkaEventPublisher(settings)
    await publisher.start()
    try:
        await publisher.publish(envelope, key=sequence)
    finally:
        await publisher.stop()
    url = f"/v1/entities/{entity}/projects/proj/submissions/{envelope.id}"
    async with asyncio.timeout(60):
        while True:
            status = await (await manifest.get(url, headers=headers)).json()
            if status["status"] == "committed":
                return
            await asyncio.sleep(0.1)


async def messages_on(settings: Settings, topic: Topic) -> int:
    """How many messages the topic holds (read from the start for a moment)."""
    consumer = AIOKafkaConsumer(
        topic_name(topic, settings.kafka_topic_prefix),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        found = 0
        for _ in range(4):
            batches = await consumer.getmany(timeout_ms=500)
            found += sum(len(records) for records in batches.values())
        return found
    finally:
        await consumer.stop()
