"""The storage service's HTTP API on the real stack: MinIO, the MongoDB wire-protocol server and
Kafka. Bytes travel from the test (the client) straight to S3 with presigned URLs."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiokafka import AIOKafkaConsumer
from cairn_shared.auth.identity_store import IDENTITY_DATABASE, MongoIdentityStore
from cairn_shared.auth.roles import Role
from cairn_shared.blobstore import S3BlobStore
from cairn_shared.events.envelope import Envelope
from cairn_shared.events.topics import Topic, topic_name
from cairn_shared.ids import derive_id
from cairn_shared.manifests import blob_key
from cairn_shared.mongo import Document
from cairn_shared.settings import Settings
from cairn_storage.bootstrap import create_app
from minio import Minio
from minio.deleteobjects import DeleteObject
from pymongo import AsyncMongoClient

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]
MIB = 1024 * 1024


@dataclass(frozen=True)
class User:
    name: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass(frozen=True)
class Stack:
    client: Client
    owner: User  # admin of its own entity
    stranger: User  # no role in the owner's entity
    watcher: User  # restricted viewer in the owner's entity
    settings: Settings

    async def post(self, path: str, body: object, user: User | None = None) -> tuple[int, Any]:
        who = user or self.owner
        response = await self.client.post(path, json=body, headers=who.headers)
        return response.status, await response.json()

    def url(self, route: str, entity: str | None = None) -> str:
        return f"/v1/entities/{entity or self.owner.name}/{route}"


def blob(data: bytes) -> dict[str, Any]:
    return {"digest": hashlib.sha256(data).hexdigest(), "size": len(data)}


async def make_user(identity: MongoIdentityStore, name: str) -> User:
    await identity.create_user(name)
    return User(name, await identity.create_api_key(name, "test"))


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Settings a test changes; small multipart sizes keep the part tests fast."""
    return {"multipart_threshold_bytes": 5 * MIB, "multipart_part_bytes": 5 * MIB}


@pytest.fixture
async def stack(
    aiohttp_client: ClientFactory,
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    unique: str,
    overrides: dict[str, Any],
) -> AsyncIterator[Stack]:
    identity = MongoIdentityStore(mongo[IDENTITY_DATABASE])
    owner = await make_user(identity, f"st-{unique}")
    stranger = await make_user(identity, f"st-stranger-{unique}")
    watcher = await make_user(identity, f"st-watcher-{unique}")
    await identity.set_role(owner.name, watcher.name, Role.RESTRICTED_VIEWER)
    app_settings = settings.model_copy(update=overrides)
    client = await aiohttp_client(create_app(app_settings))
    yield Stack(client, owner, stranger, watcher, app_settings)
    await asyncio.to_thread(remove_objects, settings, f"entities/{owner.name}/")


def remove_objects(settings: Settings, prefix: str) -> None:
    url = urlsplit(settings.s3_endpoint)
    s3 = Minio(
        url.netloc,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=url.scheme == "https",
        region=settings.s3_region,
    )
    listed = s3.list_objects(settings.s3_bucket, prefix=prefix, recursive=True)
    doomed = (DeleteObject(obj.object_name or "") for obj in listed)
    errors = list(s3.remove_objects(settings.s3_bucket, doomed))  # lazy: runs as consumed
    assert not errors, errors


async def put_all(uploads: list[dict[str, Any]], contents: dict[str, bytes]) -> None:
    """What the SDK does with single-PUT sessions: the body, with the headers it was given."""
    limit = asyncio.Semaphore(32)
    async with httpx.AsyncClient(timeout=60) as http:

        async def put(upload: dict[str, Any]) -> None:
            async with limit:
                response = await http.put(
                    upload["url"], content=contents[upload["digest"]], headers=upload["headers"]
                )
                assert response.status_code == 200, response.text

        await asyncio.gather(*(put(u) for u in uploads))


async def put_parts(upload: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    size = upload["part_size"]
    parts = []
    async with httpx.AsyncClient(timeout=120) as http:
        for part in upload["parts"]:
            n = part["part_number"]
            response = await http.put(part["url"], content=data[(n - 1) * size : n * size])
            assert response.status_code == 200, response.text
            parts.append({"part_number": n, "etag": response.headers["ETag"]})
    return parts


async def read_events(settings: Settings, expected: int) -> list[tuple[str, Envelope]]:
    consumer = AIOKafkaConsumer(
        topic_name(Topic.BLOBS, settings.kafka_topic_prefix),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[tuple[str, Envelope]] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < expected:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found.extend(
                        ((r.key or b"").decode(), Envelope.from_bytes(r.value or b""))
                        for r in records
                    )
    finally:
        await consumer.stop()
    return found


async def test_upload_complete_and_present_on_the_next_call(
    stack: Stack, mongo: AsyncMongoClient[Document]
) -> None:
    contents = {b["digest"]: data for data in (b"alpha", b"beta" * 100, b"") for b in [blob(data)]}
    blobs = [blob(data) for data in contents.values()]

    status, opened = await stack.post(stack.url("uploads"), {"blobs": blobs})
    assert status == 200
    assert opened["present"] == []
    assert {u["method"] for u in opened["uploads"]} == {"put"}
    await put_all(opened["uploads"], contents)

    status, completed = await stack.post(stack.url("uploads/complete"), {"blobs": blobs})
    assert (status, completed) == (200, {"stored": [b["digest"] for b in blobs]})

    # Re-logging the same content uploads nothing.
    status, again = await stack.post(stack.url("uploads"), {"blobs": blobs})
    assert (status, again) == (
        200,
        {"present": [b["digest"] for b in blobs], "uploads": [], "packs": []},
    )
    stats = await stack.client.get(stack.url("stats"), headers=stack.owner.headers)
    assert await stats.json() == {"blobs": 3, "bytes": 5 + 400}

    doc = await mongo[stack.settings.database_name]["blobs"].find_one(
        {"_id": f"{stack.owner.name}/{blobs[0]['digest']}"}
    )
    assert doc is not None
    assert doc["size"] == 5
    assert doc["key"] == blob_key(stack.owner.name, blobs[0]["digest"])
    assert doc["stored_by"] == stack.owner.name
    events = await read_events(stack.settings, 3)
    assert {key for key, _ in events} == set(contents)
    key, envelope = events[0]
    assert envelope.type == "blob.stored"
    assert envelope.id == derive_id(f"blob:{stack.owner.name}/{key}", "stored")
    assert envelope.data == {"digest": key, "size": len(contents[key])}
    metrics = await (await stack.client.get("/metrics")).text()
    assert "cairn_storage_blobs_stored_total 3.0" in metrics
    assert "cairn_storage_bytes_verified_total 405.0" in metrics


async def test_s3_refuses_a_corrupted_body_and_nothing_is_recorded(stack: Stack) -> None:
    spec = blob(b"the real content")
    _, opened = await stack.post(stack.url("uploads"), {"blobs": [spec]})
    upload = opened["uploads"][0]

    async with httpx.AsyncClient() as http:
        refused = await http.put(
            upload["url"], content=b"the fake content", headers=upload["headers"]
        )
    assert refused.status_code == 400
    # MinIO and versitygw name the error differently; both refuse the body.
    assert "XAmzContentChecksumMismatch" in refused.text or "BadDigest" in refused.text

    status, error = await stack.post(stack.url("uploads/complete"), {"blobs": [spec]})
    assert status == 409
    assert error["error"]["code"] == "size_mismatch"
    assert error["error"]["details"]["failed"][0]["reason"] == "missing"
    _, check = await stack.post(stack.url("blobs/check"), {"digests": [spec["digest"]]})
    assert check == {"missing": [spec["digest"]]}


async def test_lying_completions_record_nothing(stack: Stack) -> None:
    right, swapped = b"right content", b"wrong content"  # same length
    good, bad = blob(right), blob(b"other content")
    _, opened = await stack.post(stack.url("uploads"), {"blobs": [good, bad]})
    urls = {u["digest"]: u for u in opened["uploads"]}
    await put_all([urls[good["digest"]]], {good["digest"]: right})
    async with httpx.AsyncClient() as http:  # the checksum header is signed: S3 wants it
        refused = await http.put(urls[bad["digest"]]["url"], content=swapped)
    assert refused.status_code in {400, 403}
    # Wrong content can still reach the key by other means (anyone with the bucket's keys):
    # completion must catch it.
    store = S3BlobStore(stack.settings)
    await store.put_bytes(blob_key(stack.owner.name, bad["digest"]), swapped)
    await store.close()

    lie = {"digest": good["digest"], "size": good["size"] + 1}
    status, error = await stack.post(stack.url("uploads/complete"), {"blobs": [lie]})
    assert (status, error["error"]["code"]) == (409, "size_mismatch")
    assert error["error"]["details"]["failed"] == [
        {
            "digest": good["digest"],
            "reason": "size_mismatch",
            "declared_size": 14,
            "stored_size": 13,
        }
    ]

    status, error = await stack.post(stack.url("uploads/complete"), {"blobs": [good, bad]})
    assert (status, error["error"]["code"]) == (409, "checksum_mismatch")
    assert [f["digest"] for f in error["error"]["details"]["failed"]] == [bad["digest"]]
    _, check = await stack.post(stack.url("blobs/check"), {"digests": [good["digest"]]})
    assert check == {"missing": [good["digest"]]}  # all or nothing

    # The wrong object was deleted; the right one stayed, so completing it alone now works.
    status, error = await stack.post(stack.url("uploads/complete"), {"blobs": [bad]})
    assert error["error"]["details"]["failed"][0]["reason"] == "missing"
    assert await stack.post(stack.url("uploads/complete"), {"blobs": [good]}) == (
        200,
        {"stored": [good["digest"]]},
    )
    never = blob(b"never uploaded")
    status, error = await stack.post(stack.url("uploads/complete"), {"blobs": [never]})
    assert status == 409
    stats = await stack.client.get(stack.url("stats"), headers=stack.owner.headers)
    assert await stats.json() == {"blobs": 1, "bytes": 13}


async def test_multipart_round_trip(stack: Stack) -> None:
    data = os.urandom(12 * MIB)
    spec = blob(data)
    _, opened = await stack.post(stack.url("uploads"), {"blobs": [spec]})
    upload = opened["uploads"][0]
    assert upload["method"] == "multipart"
    assert (upload["part_size"], len(upload["parts"])) == (5 * MIB, 3)

    bad_parts = [{"part_number": 1, "etag": "0" * 32}]
    status, error = await stack.post(
        stack.url("uploads/complete"),
        {"blobs": [{**spec, "upload_id": upload["upload_id"], "parts": bad_parts}]},
    )
    assert status == 409
    assert error["error"]["details"]["failed"][0]["reason"] == "invalid_parts"

    parts = await put_parts(upload, data)
    done = {**spec, "upload_id": upload["upload_id"], "parts": parts}
    assert await stack.post(stack.url("uploads/complete"), {"blobs": [done]}) == (
        200,
        {"stored": [spec["digest"]]},
    )
    # A retry of the same completion (the upload id is spent by now) still answers stored.
    assert (await stack.post(stack.url("uploads/complete"), {"blobs": [done]}))[0] == 200

    status, downloads = await stack.post(stack.url("downloads"), {"digests": [spec["digest"]]})
    assert status == 200
    async with httpx.AsyncClient(timeout=60) as http:
        got = await http.get(downloads["urls"][spec["digest"]])
    assert got.content == data


async def test_a_multipart_upload_whose_content_is_wrong_is_deleted(stack: Stack) -> None:
    data = os.urandom(6 * MIB)
    spec = blob(data)
    _, opened = await stack.post(stack.url("uploads"), {"blobs": [spec]})
    upload = opened["uploads"][0]
    parts = await put_parts(upload, data[::-1])  # same size, other bytes: S3 cannot tell

    done = {**spec, "upload_id": upload["upload_id"], "parts": parts}
    status, error = await stack.post(stack.url("uploads/complete"), {"blobs": [done]})
    assert (status, error["error"]["code"]) == (409, "checksum_mismatch")
    status, error = await stack.post(stack.url("uploads/complete"), {"blobs": [done]})
    assert error["error"]["details"]["failed"][0]["reason"] == "missing"


@pytest.mark.parametrize("overrides", [{}])  # the real defaults: 64 MiB threshold and parts
async def test_a_70_mib_blob_goes_multipart_with_the_defaults(stack: Stack) -> None:
    data = os.urandom(70 * MIB)
    spec = blob(data)
    _, opened = await stack.post(stack.url("uploads"), {"blobs": [spec]})
    upload = opened["uploads"][0]
    assert (upload["method"], upload["part_size"], len(upload["parts"])) == (
        "multipart",
        64 * MIB,
        2,
    )
    parts = await put_parts(upload, data)
    status, _ = await stack.post(
        stack.url("uploads/complete"),
        {"blobs": [{**spec, "upload_id": upload["upload_id"], "parts": parts}]},
    )
    assert status == 200
    stats = await stack.client.get(stack.url("stats"), headers=stack.owner.headers)
    assert await stats.json() == {"blobs": 1, "bytes": 70 * MIB}


async def test_downloads_need_every_blob(stack: Stack) -> None:
    stored = blob(b"stored")
    _, opened = await stack.post(stack.url("uploads"), {"blobs": [stored]})
    await put_all(opened["uploads"], {stored["digest"]: b"stored"})
    await stack.post(stack.url("uploads/complete"), {"blobs": [stored]})
    absent = "f" * 64

    status, error = await stack.post(
        stack.url("downloads"), {"digests": [stored["digest"], absent]}
    )
    assert status == 404
    assert error["error"]["code"] == "missing_blobs"
    assert error["error"]["details"]["missing"] == [absent]
    _, check = await stack.post(stack.url("blobs/check"), {"digests": [stored["digest"], absent]})
    assert check == {"missing": [absent]}


async def test_roles_and_other_entities(stack: Stack) -> None:
    digests = {"digests": ["a" * 64]}
    for route, body in [
        ("uploads", {"blobs": []}),
        ("uploads/complete", {"blobs": []}),
        ("blobs/check", digests),
        ("downloads", digests),
    ]:
        status, error = await stack.post(stack.url(route), body, stack.stranger)
        assert (status, error["error"]["code"]) == (404, "not_found"), route
    stats = await stack.client.get(stack.url("stats"), headers=stack.stranger.headers)
    assert stats.status == 404

    # A restricted viewer sees what exists, but may neither download nor upload.
    assert (await stack.post(stack.url("blobs/check"), digests, stack.watcher))[0] == 200
    stats = await stack.client.get(stack.url("stats"), headers=stack.watcher.headers)
    assert stats.status == 200
    assert (await stack.post(stack.url("downloads"), digests, stack.watcher))[0] == 403
    assert (await stack.post(stack.url("uploads"), {"blobs": []}, stack.watcher))[0] == 403


async def test_bad_input_is_a_400_and_writes_nothing(stack: Stack) -> None:
    good = blob(b"fine")
    for body in [
        {"blobs": [{"digest": "not-a-digest", "size": 1}]},
        {"blobs": [good, {"digest": "A" * 64, "size": 1}]},
        {"blobs": [good, {**good, "size": 5}]},
        {"blobs": [{"digest": "a" * 64, "size": -1}]},
        {"blobs": [good] * 10_001},
        {"blob": [good]},
    ]:
        status, error = await stack.post(stack.url("uploads"), body)
        assert status == 400, body
        assert error["error"]["code"] in {"invalid_request", "bad_request"}
    status, _ = await stack.post(stack.url("downloads"), {"digests": ["zz"]})
    assert status == 400
    bad_entity = await stack.client.get(
        "/v1/entities/Not_Valid!/stats", headers=stack.owner.headers
    )
    assert bad_entity.status == 400
    stats = await stack.client.get(stack.url("stats"), headers=stack.owner.headers)
    assert await stats.json() == {"blobs": 0, "bytes": 0}


async def test_a_batch_larger_than_one_index_chunk(stack: Stack) -> None:
    """More blobs than the index reads or writes in one command (1,000): every chunk counts."""
    contents = {
        b["digest"]: data for data in (os.urandom(64) for _ in range(1100)) for b in [blob(data)]
    }
    blobs = [{"digest": d, "size": 64} for d in contents]
    _, opened = await stack.post(stack.url("uploads"), {"blobs": blobs})
    await put_all(opened["uploads"], contents)

    status, completed = await stack.post(stack.url("uploads/complete"), {"blobs": blobs})

    assert status == 200
    assert len(completed["stored"]) == 1100
    _, again = await stack.post(stack.url("uploads"), {"blobs": blobs})
    assert (len(again["present"]), again["uploads"]) == (1100, [])
    stats = await stack.client.get(stack.url("stats"), headers=stack.owner.headers)
    assert await stats.json() == {"blobs": 1100, "bytes": 1100 * 64}


async def test_packable_small_blobs_go_up_in_one_put_and_come_down_as_ranges(
    stack: Stack,
) -> None:
    contents = [b"alpha", b"", b"gamma" * 100, b"delta"]
    manifest = b'{"a manifest": "never packed"}'
    blobs = [blob(data) | {"packable": True} for data in contents] + [blob(manifest)]

    status, opened = await stack.post(stack.url("uploads"), {"blobs": blobs})

    assert status == 200
    assert [u["digest"] for u in opened["uploads"]] == [blob(manifest)["digest"]]
    (pack,) = opened["packs"]
    assert [(m["digest"], m["offset"]) for m in pack["members"]] == [
        (blob(contents[0])["digest"], 0),
        (blob(contents[1])["digest"], 5),
        (blob(contents[2])["digest"], 5),
        (blob(contents[3])["digest"], 505),
    ]
    await put_all(opened["uploads"], {blob(manifest)["digest"]: manifest})
    async with httpx.AsyncClient(timeout=60) as http:
        put = await http.put(pack["url"], content=b"".join(contents))
        assert put.status_code == 200, put.text
    members = [{"digest": m["digest"], "size": m["size"]} for m in pack["members"]]
    status, completed = await stack.post(
        stack.url("uploads/complete"),
        {"blobs": [blob(manifest)], "packs": [{"pack_id": pack["pack_id"], "members": members}]},
    )
    assert (status, completed) == (
        200,
        {"stored": [blob(manifest)["digest"], *(m["digest"] for m in members)]},
    )

    digests = [m["digest"] for m in members]
    status, found = await stack.post(stack.url("downloads"), {"digests": digests})
    assert status == 200
    assert len(set(found["urls"].values())) == 1  # one URL serves the whole pack
    async with httpx.AsyncClient(timeout=60) as http:
        for data, digest in zip(contents, digests, strict=True):
            where = found["ranges"][digest]
            assert (where["size"]) == len(data)
            if not data:
                continue
            last = where["offset"] + where["size"] - 1
            got = await http.get(
                found["urls"][digest], headers={"Range": f"bytes={where['offset']}-{last}"}
            )
            assert (got.status_code, got.content) == (206, data)


async def test_a_pack_whose_content_is_wrong_records_nothing_and_is_deleted(
    stack: Stack,
) -> None:
    contents = [b"one", b"two"]
    blobs = [blob(data) | {"packable": True} for data in contents]
    status, opened = await stack.post(stack.url("uploads"), {"blobs": blobs})
    (pack,) = opened["packs"]
    async with httpx.AsyncClient(timeout=60) as http:
        assert (await http.put(pack["url"], content=b"onX" + b"two")).status_code == 200
    members = [{"digest": m["digest"], "size": m["size"]} for m in pack["members"]]

    status, refused = await stack.post(
        stack.url("uploads/complete"),
        {"packs": [{"pack_id": pack["pack_id"], "members": members}], "blobs": []},
    )
    wrong_id, _ = await stack.post(
        stack.url("uploads/complete"),
        {"packs": [{"pack_id": "0" * 64, "members": members}], "blobs": []},
    )

    assert (status, refused["error"]["code"]) == (409, "checksum_mismatch")
    failed = refused["error"]["details"]["failed"]
    assert [f["digest"] for f in failed] == [blob(b"one")["digest"]]
    assert wrong_id == 400
    status, check = await stack.post(
        stack.url("blobs/check"), {"digests": [m["digest"] for m in members]}
    )
    assert check["missing"] == [m["digest"] for m in members]
    async with httpx.AsyncClient(timeout=60) as http:
        assert (await http.put(pack["url"], content=b"onetwo")).status_code == 200
    status, _ = await stack.post(
        stack.url("uploads/complete"),
        {"packs": [{"pack_id": pack["pack_id"], "members": members}], "blobs": []},
    )
    assert status == 200  # the same pack, uploaded right this time
