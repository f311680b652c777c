"""A submission's whole way on the real stack, as the SDK drives it: upload the blobs through
storage, submit to ingest, and wait for manifest to commit the version."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cairn_ingest.bootstrap import create_app as create_ingest
from cairn_manifest.bootstrap import create_app as create_manifest
from cairn_shared.blobstore import S3BlobStore
from cairn_shared.manifests import blob_key, canonical_bytes
from cairn_shared.mongo import Document
from cairn_shared.settings import Settings
from cairn_storage.bootstrap import create_app as create_storage
from pymongo import AsyncMongoClient

from tests.conftest import stack_env

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]


@dataclass
class Services:
    ingest: Client
    storage: Client
    manifest: Client
    entity: str
    headers: dict[str, str]

    @property
    def project_url(self) -> str:
        return f"/v1/entities/{self.entity}/projects/proj"

    async def upload(self, blobs: dict[str, bytes]) -> None:
        """Store ``blobs`` (digest → bytes) as the SDK does: presigned PUTs, then complete."""
        specs = [{"digest": d, "size": len(b)} for d, b in blobs.items()]
        url = f"/v1/entities/{self.entity}/uploads"
        opened = await self.storage.post(url, json={"blobs": specs}, headers=self.headers)
        assert opened.status == 200, await opened.text()
        async with aiohttp.ClientSession() as s3:
            for upload in (await opened.json())["uploads"]:
                put = await s3.put(
                    upload["url"], data=blobs[upload["digest"]], headers=upload["headers"]
                )
                assert put.status == 200, await put.text()
        done = await self.storage.post(
            url + "/complete", json={"blobs": specs}, headers=self.headers
        )
        assert done.status == 200, await done.text()

    async def submit(self, body: dict[str, Any]) -> aiohttp.ClientResponse:
        return await self.ingest.post(
            self.project_url + "/artifacts", json=body, headers=self.headers
        )

    async def outcome(self, submission_id: str) -> Any:
        url = f"{self.project_url}/submissions/{submission_id}"
        async with asyncio.timeout(60):
            while True:
                status = await (await self.manifest.get(url, headers=self.headers)).json()
                if status["status"] != "pending":
                    return status
                await asyncio.sleep(0.1)


@pytest.fixture
async def services(
    aiohttp_client: ClientFactory, topics: Settings, mongo: AsyncMongoClient[Document], unique: str
) -> Services:
    del mongo  # drops the services' database afterwards
    storage = await aiohttp_client(create_storage(topics))
    manifest = await aiohttp_client(create_manifest(topics))
    peers = {"manifest_url": str(manifest.make_url("")), "storage_url": str(storage.make_url(""))}
    ingest = await aiohttp_client(create_ingest(topics.model_copy(update=peers)))
    headers = {"Authorization": f"Bearer {stack_env('CAIRN_API_KEY')}"}
    return Services(ingest, storage, manifest, f"it{unique}", headers)


def artifact(files: dict[str, bytes]) -> tuple[dict[str, bytes], bytes, str]:
    """The blobs of ``files`` (path → bytes), its canonical manifest and that manifest's digest."""
    blobs = {hashlib.sha256(b).hexdigest(): b for b in files.values()}
    contents = {
        path: {"digest": hashlib.sha256(b).hexdigest(), "size": len(b)} for path, b in files.items()
    }
    raw = canonical_bytes({"contents": contents, "version": 1})
    return blobs, raw, hashlib.sha256(raw).hexdigest()


def body(raw: bytes, digest: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": "example_artifact",
        "type": "dataset",
        "metadata": {"rows": 2},
        "aliases": ["latest", "candidate"],
        "run_id": "run1",
        "client_id": str(uuid.uuid4()),
        "manifest_digest": digest,
        "manifest_json": raw.decode(),
    } | changes


async def test_upload_submit_and_commit(services: Services, topics: Settings) -> None:
    blobs, raw, digest = artifact({"training_dataset": b"h5 bytes", "labels.csv": b"a,b\n"})
    first = body(raw, digest)

    # Nothing uploaded yet: ingest names every missing blob, the manifest's own included.
    missing = await services.submit(first)
    assert missing.status == 409
    error = (await missing.json())["error"]
    assert error["code"] == "missing_blobs"
    assert error["details"]["missing"] == sorted([*blobs, digest])

    await services.upload({**blobs, digest: raw})
    try:
        accepted = await services.submit(first)
        assert accepted.status == 202, await accepted.text()
        answer = await accepted.json()
        assert answer["sequence"] == f"{services.entity}/proj/example_artifact"
        committed = await services.outcome(answer["submission_id"])
        assert committed["status"] == "committed"
        version = committed["version"]
        assert (version["version"], version["aliases"]) == ("v0", ["candidate", "latest"])
        assert (version["file_count"], version["size"]) == (2, len(b"h5 bytes") + 4)
        assert version["logged_by"] == f"{services.entity}/proj/run1"

        # The SDK retries the same submission; then logs the same files again as another.
        retried = await (await services.submit(first)).json()
        assert retried["submission_id"] == answer["submission_id"]
        again = await (await services.submit(body(raw, digest, aliases=["prod"]))).json()
        same = await services.outcome(again["submission_id"])
        assert same["version"]["version"] == "v0"
        assert same["version"]["aliases"] == ["candidate", "latest", "prod"]

        # A file's name used as an artifact's: the 404 says where the file is.
        miss = await services.manifest.get(
            services.project_url + "/artifacts/training_dataset", headers=services.headers
        )
        assert miss.status == 404
        assert (await miss.json())["error"]["message"].endswith(
            "'training_dataset' is a file in artifact 'example_artifact'"
        )
    finally:
        store = S3BlobStore(topics)
        for d in [*blobs, digest]:
            await store.delete(blob_key(services.entity, d))
        await store.close()
