"""Packs: many small blobs uploaded as one object, each blob a byte range of it.

A request per blob costs more than its bytes below about a megabyte (a PUT, a HEAD and a GET
each), so a client that marks blobs ``packable`` gets one presigned PUT per pack for the small
ones instead. A pack's content is its members' bytes in order, so its id derives from the
member list: a retried upload names the same object. Storage reads a pack back and hashes
every member before it records any of them; a member is then found through the index
(key, offset, size), never by its own key, which is why only blobs read through the index
(artifact files, not manifests) may be packed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cairn_storage.domain.blobs import Blob


@dataclass(frozen=True)
class PackMember:
    blob: Blob
    offset: int


@dataclass(frozen=True)
class Pack:
    id: str  # derived from the member list: see ``of``
    members: tuple[PackMember, ...]

    @classmethod
    def of(cls, blobs: Iterable[Blob]) -> Pack:
        members: list[PackMember] = []
        offset = 0
        for blob in blobs:
            members.append(PackMember(blob, offset))
            offset += blob.size
        listing = "\n".join(f"{m.blob.digest}:{m.blob.size}" for m in members)
        return cls(hashlib.sha256(listing.encode()).hexdigest(), tuple(members))

    @property
    def size(self) -> int:
        return sum(m.blob.size for m in self.members)

    @property
    def blobs(self) -> list[Blob]:
        return [m.blob for m in self.members]

    def as_json(self) -> list[dict[str, object]]:
        return [
            {"digest": m.blob.digest, "size": m.blob.size, "offset": m.offset} for m in self.members
        ]


def pack_key(entity: str, pack_id: str) -> str:
    """Beside the entity's blobs; never a blob key (those end in a blob's own digest)."""
    return f"entities/{entity}/packs/{pack_id}"


def is_packable(blob: Blob, member_max_bytes: int) -> bool:
    """Small enough to go into a pack; a limit of 0 packs nothing."""
    return member_max_bytes > 0 and blob.size <= member_max_bytes


def plan_packs(blobs: Sequence[Blob], *, max_bytes: int) -> list[Pack]:
    """``blobs`` in order, cut into packs of at most ``max_bytes`` (a larger blob alone)."""
    packs: list[Pack] = []
    current: list[Blob] = []
    size = 0
    for blob in blobs:
        if current and size + blob.size > max_bytes:
            packs.append(Pack.of(current))
            current, size = [], 0
        current.append(blob)
        size += blob.size
    if current:
        packs.append(Pack.of(current))
    return packs
