"""The memory of present blobs: asks the index only for what it has not seen present."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from cairn_shared.manifests import blob_key
from cairn_storage.adapters.known_blobs import KnownBlobs
from cairn_storage.domain.blobs import Blob, Location

from tests.unit.storage.fakes import FakeBlobIndex

A, B, C = "a" * 64, "b" * 64, "c" * 64
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class CountingIndex(FakeBlobIndex):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[str]] = []

    async def sizes(self, entity: str, digests: Sequence[str]) -> dict[str, int]:
        self.asked.append(list(digests))
        return await super().sizes(entity, digests)

    async def locations(self, entity: str, digests: Sequence[str]) -> dict[str, Location]:
        self.asked.append(list(digests))
        return await super().locations(entity, digests)


async def test_present_blobs_are_asked_once_and_absent_ones_every_time() -> None:
    index = CountingIndex()
    index.sizes_by_id["team", A] = 1
    known = KnownBlobs(index)

    assert await known.sizes("team", [A, B]) == {A: 1}
    assert await known.sizes("team", [A, B]) == {A: 1}

    assert index.asked == [[A, B], [B]]


async def test_recorded_blobs_are_known_and_entities_stay_apart() -> None:
    index = CountingIndex()
    known = KnownBlobs(index)

    await known.add_many("team", [Blob(C, 3)], stored_by="u", stored_at=NOW)

    assert await known.sizes("team", [C]) == {C: 3}
    assert await known.sizes("other", [C]) == {}
    assert index.asked == [[C]]  # only for "other"


async def test_the_memory_is_bounded_and_forgets_the_least_recent() -> None:
    index = CountingIndex()
    for digest in (A, B, C):
        index.sizes_by_id["team", digest] = 1
    known = KnownBlobs(index, capacity=2)
    await known.sizes("team", [A, B])
    await known.sizes("team", [A])  # A is now the most recent
    await known.sizes("team", [C])  # evicts B
    index.asked.clear()

    await known.sizes("team", [A, B, C])

    assert index.asked == [[B]]


async def test_locations_read_from_the_index_are_asked_once() -> None:
    index = CountingIndex()
    await index.add_many("team", [Blob(A, 1)], stored_by="u", stored_at=NOW)
    known = KnownBlobs(index)

    first = await known.locations("team", [A, B])
    assert await known.locations("team", [A, B]) == first
    assert await known.sizes("team", [A]) == {A: 1}  # a located blob is a present one

    assert index.asked == [[A, B], [B]]


async def test_a_blob_recorded_here_first_is_located_without_asking() -> None:
    index = CountingIndex()
    known = KnownBlobs(index)
    packed = {A: Location("packs/p1", 1, offset=0)}

    whole = Location(blob_key("team", B), 2)

    recorded = await known.add_many(
        "team", [Blob(A, 1), Blob(B, 2)], stored_by="u", stored_at=NOW, packed=packed
    )

    assert recorded == {A: packed[A], B: whole}
    assert await known.locations("team", [A, B]) == recorded

    assert index.asked == []


async def test_a_blob_recorded_before_keeps_its_first_location() -> None:
    index = CountingIndex()
    packed = {A: Location("packs/p1", 1, offset=0)}
    await index.add_many("team", [Blob(A, 1)], stored_by="u", stored_at=NOW, packed=packed)
    known = KnownBlobs(index)
    # Recording it again, whole this time: the index keeps the first location, and so do we.
    assert await known.add_many("team", [Blob(A, 1)], stored_by="u", stored_at=NOW) == {}

    assert await known.locations("team", [A]) == packed
    known.forget("team", A)  # as garbage collection would: asked again
    assert await known.locations("team", [A]) == packed

    assert index.asked == [[A], [A]]
