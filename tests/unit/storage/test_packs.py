"""Packs: how small blobs are grouped, opened, verified as a whole and recorded as ranges."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from cairn_shared.blobstore import SliceHasher
from cairn_shared.testing import FakeEventPublisher
from cairn_storage.domain.blobs import Blob, Location
from cairn_storage.domain.packs import Pack, is_packable, pack_key, plan_packs
from cairn_storage.domain.uploads import MIB
from cairn_storage.domain.verification import Reason, judge_pack
from cairn_storage.service_layer.uploads import UploadPolicy, open_uploads

from tests.unit.storage.fakes import ENTITY, FakeBlobIndex, FakeBlobStore, complete

POLICY = UploadPolicy(
    threshold=5 * MIB,
    part_bytes=5 * MIB,
    expires=timedelta(hours=1),
    concurrency=4,
    pack_member_max_bytes=100,
    pack_max_bytes=250,
)


def blob_of(data: bytes) -> Blob:
    return Blob(hashlib.sha256(data).hexdigest(), len(data))


CONTENTS = [b"alpha", b"", b"gamma" * 10, b"delta"]
BLOBS = [blob_of(c) for c in CONTENTS]


# -- the domain ------------------------------------------------------------------------------


def test_a_pack_lays_its_members_end_to_end_and_is_named_by_them() -> None:
    pack = Pack.of(BLOBS)

    assert [(m.blob, m.offset) for m in pack.members] == [
        (BLOBS[0], 0),
        (BLOBS[1], 5),
        (BLOBS[2], 5),
        (BLOBS[3], 55),
    ]
    assert pack.size == 60
    assert pack.id == Pack.of(list(BLOBS)).id
    assert pack.id != Pack.of(reversed(BLOBS)).id  # the order is part of the content
    assert pack_key(ENTITY, pack.id) == f"entities/{ENTITY}/packs/{pack.id}"


def test_packs_are_cut_at_the_size_limit_in_order() -> None:
    sizes = [100, 100, 60, 300, 10]
    blobs = [Blob(f"{i:064x}", size) for i, size in enumerate(sizes)]

    packs = plan_packs(blobs, max_bytes=250)

    assert [[b.size for b in p.blobs] for p in packs] == [[100, 100], [60], [300], [10]]
    assert plan_packs([], max_bytes=250) == []


def test_only_small_blobs_are_packable_and_a_zero_limit_packs_nothing() -> None:
    assert is_packable(Blob("a" * 64, 100), 100)
    assert not is_packable(Blob("a" * 64, 101), 100)
    assert not is_packable(Blob("a" * 64, 0), 0)


def test_slices_are_hashed_across_chunk_boundaries_empty_ones_included() -> None:
    data = b"".join(CONTENTS)
    for chunk in (1, 3, 7, len(data)):
        hasher = SliceHasher([b.size for b in BLOBS])
        for start in range(0, len(data), chunk):
            hasher.update(data[start : start + chunk])

        assert hasher.digests == [b.digest for b in BLOBS]
        assert hasher.size == len(data)


def test_a_short_object_hashes_only_the_slices_it_holds() -> None:
    hasher = SliceHasher([5, 10])
    hasher.update(b"alpha" + b"gam")

    assert hasher.digests == [BLOBS[0].digest]


def test_judging_a_pack() -> None:
    digests = [b.digest for b in BLOBS]
    assert judge_pack(BLOBS, size=60, sha256_hex=digests) == []

    missing = judge_pack(BLOBS, size=None, sha256_hex=None)
    assert {f.reason for f in missing} == {Reason.MISSING}
    assert not any(f.discard for f in missing)

    short = judge_pack(BLOBS, size=59, sha256_hex=digests[:3])
    assert len(short) == 4
    assert all(f.reason is Reason.SIZE_MISMATCH and f.discard for f in short)

    swapped = judge_pack(BLOBS, size=60, sha256_hex=[digests[0], digests[1], "0" * 64, digests[3]])
    assert [(f.digest, f.reason, f.discard) for f in swapped] == [
        (BLOBS[2].digest, Reason.CHECKSUM_MISMATCH, True)
    ]


# -- the service layer ----------------------------------------------------------------------


async def test_small_packable_blobs_are_opened_as_packs_the_others_as_their_own_uploads(
    store: FakeBlobStore, index: FakeBlobIndex
) -> None:
    known, big, manifest = BLOBS[3], Blob("b" * 64, 6 * MIB), Blob("c" * 64, 10)
    index.sizes_by_id[ENTITY, known.digest] = known.size
    wanted = [*BLOBS, big, manifest]

    sessions = await open_uploads(
        ENTITY,
        wanted,
        index=index,
        store=store,
        policy=POLICY,
        packable={b.digest for b in [*BLOBS, big]},  # not the manifest
    )

    assert sessions.present == [known.digest]
    assert [u["digest"] for u in sessions.uploads] == [big.digest, manifest.digest]
    (pack,) = sessions.packs
    expected = Pack.of(BLOBS[:3])
    assert pack["pack_id"] == expected.id
    assert pack["size"] == expected.size
    assert pack["members"] == expected.as_json()
    assert pack["url"].startswith(f"https://s3.test/{pack_key(ENTITY, expected.id)}?PUT")


async def test_a_verified_pack_records_each_member_as_a_range_of_it(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    pack = Pack.of(BLOBS)
    store.put(pack_key(ENTITY, pack.id), b"".join(CONTENTS), with_checksum=False)

    done = await complete([], store, index, publisher, packs=[pack])

    assert done.failures == []
    assert done.stored == [b.digest for b in BLOBS]
    assert (done.newly_stored, done.bytes_verified) == (4, 60)
    key = pack_key(ENTITY, pack.id)
    assert await index.locations(ENTITY, [BLOBS[2].digest, BLOBS[3].digest]) == {
        BLOBS[2].digest: Location(key, 50, 5),
        BLOBS[3].digest: Location(key, 5, 55),
    }
    assert len(publisher.published) == 4


async def test_a_pack_with_one_wrong_member_records_nothing_and_is_deleted(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    pack = Pack.of(BLOBS)
    key = pack_key(ENTITY, pack.id)
    store.put(key, b"alpha" + b"GAMMA" * 10 + b"delta", with_checksum=False)

    done = await complete([], store, index, publisher, packs=[pack])

    assert [(f.digest, f.reason) for f in done.failures] == [
        (BLOBS[2].digest, Reason.CHECKSUM_MISMATCH)
    ]
    assert index.sizes_by_id == {}
    assert key not in store.objects
    assert f"delete {key}" in store.calls


async def test_a_pack_never_uploaded_is_missing_and_nothing_is_deleted(
    store: FakeBlobStore, index: FakeBlobIndex, publisher: FakeEventPublisher
) -> None:
    done = await complete([], store, index, publisher, packs=[Pack.of(BLOBS[:2])])

    assert {f.reason for f in done.failures} == {Reason.MISSING}
    assert not any(call.startswith("delete") for call in store.calls)
