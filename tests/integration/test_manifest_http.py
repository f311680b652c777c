"""Manifest's read routes over the whole service (its consumer included) on the real stack:
submissions, collections, versions and refs, and the 404 that names a file's artifact."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cairn_manifest.bootstrap import create_app
from cairn_shared.blobstore import S3BlobStore
from cairn_shared.events.artifacts import ArtifactLogged, ArtifactUsed
from cairn_shared.events.envelope import Cause, Envelope, EventData
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.manifests import blob_key, canonical_bytes
from cairn_shared.mongo import Document
from cairn_shared.settings import Settings
from pymongo import AsyncMongoClient

from tests.conftest import stack_env

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]


def manifest(*paths: str) -> tuple[bytes, str]:
    raw = canonical_bytes(
        {"contents": {p: {"digest": "c" * 64, "size": 4} for p in paths}, "version": 1}
    )
    return raw, hashlib.sha256(raw).hexdigest()


class Scenario:
    def __init__(self, client: Client, publisher: KafkaEventPublisher, entity: str) -> None:
        self.client, self.publisher, self.entity = client, publisher, entity
        self.headers = {"Authorization": f"Bearer {stack_env('CAIRN_API_KEY')}"}
        self.base = f"/v1/entities/{entity}/projects/proj"

    def wrap(self, data: EventData, event_id: str, sequence: str) -> Envelope:
        return Envelope.wrap(
            data,
            id=event_id,
            source="/test",
            subject=sequence,
            cause=Cause(actor="tester"),
            entity=self.entity,
            project="proj",
        )

    async def log(
        self,
        event_id: str,
        name: str,
        digest: str,
        *,
        aliases: tuple[str, ...] = (),
        artifact_type: str = "dataset",
    ) -> Any:
        """Publish a submission as ingest would, and wait for its outcome."""
        sequence = f"{self.entity}/proj/{name}"
        data = ArtifactLogged(
            sequence=sequence,
            name=name,
            artifact_type=artifact_type,
            manifest_digest=digest,
            file_count=1,
            size=4,
            description="first cut",
            metadata={"rows": 10},
            aliases=list(aliases),
            run_id="run1",
        )
        await self.publisher.publish(self.wrap(data, event_id, sequence), key=sequence)
        return await self.poll(f"/submissions/{event_id}", lambda s: s["status"] != "pending")

    async def poll(self, path: str, ready: Callable[[Any], bool]) -> Any:
        """GET ``path`` until ``ready`` accepts the answer: the consumer applies events async."""
        async with asyncio.timeout(60):
            while True:
                answer = await self.get(path)
                if ready(answer):
                    return answer
                await asyncio.sleep(0.1)

    async def get(self, path: str, expect: int = 200) -> Any:
        response = await self.client.get(self.base + path, headers=self.headers)
        assert response.status == expect, await response.text()
        return await response.json()


@pytest.fixture
async def scenario(
    aiohttp_client: ClientFactory,
    topics: Settings,
    mongo: AsyncMongoClient[Document],
    unique: str,
) -> AsyncIterator[Scenario]:
    del mongo  # drops the service's database afterwards
    client = await aiohttp_client(create_app(topics))
    publisher = KafkaEventPublisher(topics)
    await publisher.start()
    yield Scenario(client, publisher, entity=f"it{unique}")
    await publisher.stop()


async def test_versions_collections_and_refs(scenario: Scenario) -> None:
    first = await scenario.log("s1", "mnist", "a" * 64, aliases=("best",))
    await scenario.log("s2", "mnist", "b" * 64)
    same = await scenario.log("s3", "mnist", "a" * 64, aliases=("prod",))
    await scenario.log("s4", "cnn", "d" * 64, artifact_type="model")
    sequence = f"{scenario.entity}/proj/mnist"
    used = scenario.wrap(
        ArtifactUsed(sequence=sequence, version_index=0, run_id="r9"), "u1", sequence
    )
    await scenario.publisher.publish(used, key=sequence)

    assert first["status"] == "committed"
    assert first["version"]["version"] == "v0"
    assert first["version"]["logged_by"] == f"{scenario.entity}/proj/run1"
    assert same["version"]["version_index"] == 0  # the same manifest: no new version
    mnist = {
        "name": "mnist",
        "type": "dataset",
        "version_count": 2,
        "aliases": {"best": 0, "latest": 1, "prod": 0},
    }
    assert await scenario.get("/artifacts/mnist") == mnist
    assert (await scenario.get("/artifacts?type=dataset"))["artifacts"] == [mnist]
    assert [c["name"] for c in (await scenario.get("/artifacts"))["artifacts"]] == ["cnn", "mnist"]

    page = await scenario.get("/artifacts/mnist/versions?limit=1")
    assert [v["version"] for v in page["versions"]] == ["v0"]
    assert page["next"] == "0"
    last = await scenario.get(f"/artifacts/mnist/versions?limit=1&after={page['next']}")
    assert [v["version"] for v in last["versions"]] == ["v1"]
    assert last["next"] is None

    latest = await scenario.get("/artifacts/mnist/versions/latest")
    assert (latest["version"], latest["aliases"]) == ("v1", ["latest"])
    v0 = await scenario.poll("/artifacts/mnist/versions/best", lambda v: bool(v["used_by"]))
    assert v0 == await scenario.get("/artifacts/mnist/versions/v0")
    assert v0["used_by"] == [f"{scenario.entity}/proj/r9"]
    assert v0["aliases"] == ["best", "prod"]
    assert v0["metadata"] == {"rows": 10}
    assert v0["description"] == "first cut"
    assert v0["sequence"] == sequence


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/artifacts/mnist/versions/v7", 404, "artifact 'mnist' in {e}/proj has no version v7"),
        ("/artifacts/mnist/versions/nope", 404, "artifact 'mnist' in {e}/proj has no alias 'nope'"),
        ("/artifacts/mnist/versions/a:b", 400, "invalid alias 'a:b'"),
        ("/artifacts/mnist/versions?limit=0", 400, "limit must be between 1 and 100"),
        ("/artifacts/mnist/versions?limit=x", 400, "limit must be an integer, not 'x'"),
        ("/artifacts/bad!name", 400, "invalid artifact name 'bad!name'"),
        ("/artifacts/ghost", 404, "no artifact 'ghost' in {e}/proj"),
    ],
)
async def test_bad_refs_are_clear_4xx(
    scenario: Scenario, path: str, status: int, message: str
) -> None:
    await scenario.log("s1", "mnist", "a" * 64)

    error = (await scenario.get(path, expect=status))["error"]

    assert error["message"].startswith(message.format(e=scenario.entity))


async def test_a_missing_name_that_is_a_file_says_which_artifact_holds_it(
    scenario: Scenario, topics: Settings
) -> None:
    raw, digest = manifest("training_dataset", "labels.csv")
    blobs = S3BlobStore(topics)
    await blobs.put_bytes(blob_key(scenario.entity, digest), raw)
    try:
        await scenario.log("s1", "example_artifact", digest)
        await scenario.log("s2", "unrelated", "e" * 64)  # its manifest is not even stored

        for path in ("/artifacts/training_dataset", "/artifacts/training_dataset/versions/latest"):
            error = (await scenario.get(path, expect=404))["error"]
            assert error["message"] == (
                f"no artifact 'training_dataset' in {scenario.entity}/proj; "
                "'training_dataset' is a file in artifact 'example_artifact'"
            )
            assert error["details"] == {"file_of": "example_artifact"}
    finally:
        await blobs.delete(blob_key(scenario.entity, digest))
        await blobs.close()


async def test_submission_outcomes(scenario: Scenario) -> None:
    await scenario.log("s1", "mnist", "a" * 64)

    rejected = await scenario.log("s2", "mnist", "b" * 64, artifact_type="model")

    assert rejected == {
        "status": "rejected",
        "reason": "artifact 'mnist' is a 'dataset', not a 'model'",
    }
    assert await scenario.get("/submissions/never-sent") == {"status": "pending"}
    # Another project's submission is as unknown as one never sent.
    other = f"/v1/entities/{scenario.entity}/projects/other/submissions/s1"
    response = await scenario.client.get(other, headers=scenario.headers)
    assert await response.json() == {"status": "pending"}
