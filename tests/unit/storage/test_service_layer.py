"""Opening and completing uploads, with fakes of the blob store, the index and the publisher."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from cairn_shared.blobstore import UploadedPart
from cairn_shared.ids import derive_id
from cairn_shared.manifests import blob_key
from cairn_shared.testing import FakeEventPublisher
from cairn_storage.domain.blobs import Blob, checksum_sha256
from cairn_storage.domain.uploads import MIB
from cairn_storage.domain.verification import Reason
from cairn_storage.service_layer.completion import Completed
from cairn_storage.service_layer.uploads import (
    TooManyPartsError,
    UploadPolicy,
    open_uploads,
)

from tests.unit.storage.fakes import ENTITY, FakeBlobIndex, FakeBlobStore, complete

POLICY = UploadPolicy(
    threshold=5 * MIB, part_bytes=5 * MIB, expires=timedelta(hours=1), concurrency=4
)


def blob_of(data: bytes) -> Blob:
    return Blob(hashlib.sha256(data).hexdigest(), len(data))


async def test_open_uploads_presigns_what_is_missing(
    store: FakeBlobStore, index: FakeBlobIndex
) -> None:
    small, big, known = Blob("a" * 64, 10), Blob("b" * 64, 12 * MIB), Blob("c" * 64, 3)
    index.sizes_by_id[ENTITY, known.digest] = known.size

    sessions = await open_uploads(
        ENTITY, [small, known, big], index=index, store=store, policy=POLICY
    )

    assert sessions.present == [known.digest]
    single, multipart = sessions.uploads
    assert single["method"] == "put"
    assert single["headers"] == {"x-amz-checksum-sha256": checksum_sha256(small.digest)}
    assert single["url"].startswith(f"https://s3.test/{blob_key(ENTITY, small.digest)}?PUT")
    assert multipart["method"] == "multipart"
    assert multipart["part_size"] == 5 * MIB
    assert [p["part_number"] for p in multipart["parts"]] == [1, 2, 3]
    assert multipart["parts"][2]["url"].endswith(f"uploadId={multipart['upload_id']}&partNumber=3")
    assert store.calls == ["presign 4"]  # one batch for every URL


async def test_a_size_the_index_contradicts_opens_nothing(
    store: FakeBlobStore, index: FakeBlobIndex
) -> None:
    index.sizes_by_id[ENTITY, "a" * 64] = 10

    sessions = await open_uploads(
        ENTITY,
        [Blob("a" * 64, 11), Blob("b" * 64, 6 * MIB)],
        index=index,
        store=store,
        policy=POLICY,
    )

    assert [f.reason for f in sessions.conflicts] == [Reason.SIZE_MISMATCH]
    assert sessions.uploads == []
    assert store.uploads == {}


async def test_a_failure_midway_aborts_the_multipart_uploads_already_created(
    store: FakeBlobStore, index: FakeBlobIndex
) -> None:
    store.fail_create_after = 2
    blobs = [Blob(f"{n:064x}", 6 * MIB) for n in range(1, 4)]

    with pytest.raises(ConnectionError):
        await open_uploads(
            ENTITY,
            blobs,
            index=index,
            store=store,
            policy=UploadPolicy(5 * MIB, 5 * MIB, timedelta(hours=1), concurrency=1),
        )

    assert store.uploads == {}
    assert sum(c.startswith("abort") for c in store.calls) == 2


async def test_too_many_part_urls_for_one_answer_are_refused(
    store: FakeBlobStore, index: FakeBlobIndex
) -> None:
    blobs = [Blob(f"{n:064x}", 5 * 1024 * MIB) for n in range(1, 22)]  # 21 x 1024 parts

    with pytest.raises(TooManyPartsError):
        await open_uploads(ENTITY, blobs, index=index, store=store, policy=POLICY)
    assert store.uploads == {}


async def test_complete_records_and_announces_verified_blobs(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    blobs = [blob_of(b"one"), blob_of(b"two")]
    for data, blob in zip([b"one", b"two"], blobs, strict=True):
        store.put(blob_key(ENTITY, blob.digest), data)

    result = await complete([Completed(b) for b in blobs], store, index, publisher)

    assert result.stored == [b.digest for b in blobs]
    assert (result.newly_stored, result.bytes_verified, result.failures) == (2, 6, [])
    assert index.stored_by[ENTITY, blobs[0].digest] == "alice"
    assert not any(c.startswith("hash") for c in store.calls)  # S3's checksum sufficed
    envelope, key = publisher.published[0]
    assert key == blobs[0].digest
    assert envelope.type == "blob.stored"
    assert envelope.id == derive_id(f"blob:{ENTITY}/{blobs[0].digest}", "stored")
    assert (envelope.actor, envelope.requestid, envelope.entity) == ("alice", "req-1", ENTITY)
    assert envelope.data == {"digest": blobs[0].digest, "size": 3}


async def test_one_bad_blob_records_nothing_and_deletes_only_the_bad_object(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    good, bad = blob_of(b"good"), blob_of(b"expected")
    store.put(blob_key(ENTITY, good.digest), b"good")
    store.put(blob_key(ENTITY, bad.digest), b"tampered, longer", with_checksum=False)

    result = await complete([Completed(good), Completed(bad)], store, index, publisher)

    assert [(f.digest, f.reason) for f in result.failures] == [(bad.digest, Reason.SIZE_MISMATCH)]
    assert result.stored == []
    assert index.sizes_by_id == {}
    assert publisher.published == []
    assert blob_key(ENTITY, bad.digest) not in store.objects
    assert blob_key(ENTITY, good.digest) in store.objects


async def test_content_without_an_s3_checksum_is_hashed(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    blob = blob_of(b"12345678")
    store.put(blob_key(ENTITY, blob.digest), b"87654321", with_checksum=False)  # same size

    result = await complete([Completed(blob)], store, index, publisher)

    assert [f.reason for f in result.failures] == [Reason.CHECKSUM_MISMATCH]
    assert f"hash {blob_key(ENTITY, blob.digest)}" in store.calls
    assert store.objects == {}


async def test_a_lying_size_for_right_content_keeps_the_object(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    blob = blob_of(b"right")
    store.put(blob_key(ENTITY, blob.digest), b"right")

    result = await complete([Completed(Blob(blob.digest, 99))], store, index, publisher)

    assert [f.reason for f in result.failures] == [Reason.SIZE_MISMATCH]
    assert blob_key(ENTITY, blob.digest) in store.objects
    assert index.sizes_by_id == {}


async def test_an_absent_object_is_missing(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    result = await complete([Completed(blob_of(b"never sent"))], store, index, publisher)

    assert [f.reason for f in result.failures] == [Reason.MISSING]
    assert not any(c.startswith("delete") for c in store.calls)


async def test_a_retried_completion_skips_s3_and_announces_again(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    blob = blob_of(b"data")
    store.put(blob_key(ENTITY, blob.digest), b"data")
    first = await complete([Completed(blob)], store, index, publisher)
    calls = len(store.calls)

    again = await complete([Completed(blob)], store, index, publisher)

    assert (first.newly_stored, again.newly_stored) == (1, 0)
    assert again.stored == [blob.digest]
    assert len(store.calls) == calls  # no HEAD: the index vouches for it
    assert publisher.published[0][0].id == publisher.published[1][0].id


async def test_multipart_is_assembled_then_hashed(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    data = bytes(range(256)) * 50_000
    blob = blob_of(data)
    key = blob_key(ENTITY, blob.digest)
    session = (await open_uploads(ENTITY, [blob], index=index, store=store, policy=POLICY)).uploads[
        0
    ]
    size = session["part_size"]
    parts = tuple(
        UploadedPart(
            p["part_number"],
            store.put_part(
                key,
                session["upload_id"],
                p["part_number"],
                data[(p["part_number"] - 1) * size : p["part_number"] * size],
            ),
        )
        for p in session["parts"]
    )

    result = await complete([Completed(blob, session["upload_id"], parts)], store, index, publisher)

    assert result.stored == [blob.digest]
    assert f"hash {key}" in store.calls
    assert index.sizes_by_id[ENTITY, blob.digest] == len(data)


async def test_refused_parts_leave_the_upload_open_for_another_try(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    blob = Blob("d" * 64, 6 * MIB)
    upload_id = await store.create_multipart(blob_key(ENTITY, blob.digest))

    result = await complete(
        [Completed(blob, upload_id, (UploadedPart(1, "nope"),))], store, index, publisher
    )

    assert [(f.reason, f.detail) for f in result.failures] == [
        (Reason.INVALID_PARTS, "InvalidPart")
    ]
    assert upload_id in store.uploads


async def test_an_unknown_upload_id_verifies_what_is_already_there(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    """A completion that assembled the object but died before recording it, retried."""
    blob = blob_of(b"assembled earlier")
    store.put(blob_key(ENTITY, blob.digest), b"assembled earlier", with_checksum=False)

    result = await complete(
        [Completed(blob, "gone", (UploadedPart(1, "etag"),))], store, index, publisher
    )

    assert result.stored == [blob.digest]


async def test_parts_of_a_blob_recorded_meanwhile_are_dropped(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    """Two clients uploaded the same big blob; the first completion recorded it."""
    blob = Blob("e" * 64, 6 * MIB)
    index.sizes_by_id[ENTITY, blob.digest] = blob.size
    upload_id = await store.create_multipart(blob_key(ENTITY, blob.digest))

    result = await complete(
        [Completed(blob, upload_id, (UploadedPart(1, "etag"),))], store, index, publisher
    )

    assert result.stored == [blob.digest]
    assert store.uploads == {}
