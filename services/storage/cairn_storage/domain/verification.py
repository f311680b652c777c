"""Deciding whether an uploaded object is the blob the client declared.

Storage records a blob only once S3 holds exactly ``size`` bytes whose SHA-256 is ``digest``.
A single PUT carries S3's own SHA-256 check (the ``x-amz-checksum-sha256`` header), so a HEAD
settles it; anything else (a multipart upload, a PUT without the header) is hashed by reading it
back, and so is a pack, member by member. An object whose content is wrong is deleted; one whose
content is proven right stays, even if the client declared the wrong size, so that a lying
client cannot delete good data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum

from cairn_storage.domain.blobs import Blob, checksum_sha256


class Reason(StrEnum):
    MISSING = "missing"  # no object (never uploaded, or the multipart upload is unknown)
    SIZE_MISMATCH = "size_mismatch"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    INVALID_PARTS = "invalid_parts"  # S3 refused to assemble the listed parts


class Verdict(Enum):
    VERIFIED = "verified"
    NEEDS_HASH = "needs_hash"  # S3 holds no SHA-256 for the object: read it back


@dataclass(frozen=True)
class Failure:
    digest: str
    reason: Reason
    declared_size: int
    stored_size: int | None = None
    discard: bool = False  # delete the object: its content is not the blob's
    detail: str = ""

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "digest": self.digest,
            "reason": self.reason.value,
            "declared_size": self.declared_size,
            "stored_size": self.stored_size,
        }
        if self.detail:
            body["detail"] = self.detail
        return body


def judge_head(blob: Blob, *, size: int | None, checksum: str | None) -> Failure | Verdict:
    """What a HEAD of the object says: ``size`` None means absent, ``checksum`` None unknown."""
    if size is None:
        return Failure(blob.digest, Reason.MISSING, blob.size)
    if checksum is not None:
        if checksum != checksum_sha256(blob.digest):
            return Failure(blob.digest, Reason.CHECKSUM_MISMATCH, blob.size, size, discard=True)
        if size != blob.size:
            return Failure(blob.digest, Reason.SIZE_MISMATCH, blob.size, size)
        return Verdict.VERIFIED
    if size != blob.size:
        return Failure(blob.digest, Reason.SIZE_MISMATCH, blob.size, size, discard=True)
    return Verdict.NEEDS_HASH


def judge_content(blob: Blob, *, size: int | None, sha256_hex: str | None) -> Failure | Verdict:
    """What reading the object back measured (None: it vanished meanwhile)."""
    if size is None or sha256_hex is None:
        return Failure(blob.digest, Reason.MISSING, blob.size)
    if sha256_hex != blob.digest:
        return Failure(blob.digest, Reason.CHECKSUM_MISMATCH, blob.size, size, discard=True)
    if size != blob.size:
        return Failure(blob.digest, Reason.SIZE_MISMATCH, blob.size, size)
    return Verdict.VERIFIED


def judge_pack(
    members: Sequence[Blob], *, size: int | None, sha256_hex: Sequence[str] | None
) -> list[Failure]:
    """What reading a pack back measured (``size`` None: no object); no failure means every
    member is verified. Content that is not the pack's is discarded whole."""
    if size is None or sha256_hex is None:
        return [Failure(b.digest, Reason.MISSING, b.size) for b in members]
    if size != sum(b.size for b in members):
        return [
            Failure(b.digest, Reason.SIZE_MISMATCH, b.size, detail="pack size", discard=True)
            for b in members
        ]
    return [
        Failure(b.digest, Reason.CHECKSUM_MISMATCH, b.size, b.size, discard=True)
        for b, found in zip(members, sha256_hex, strict=True)
        if found != b.digest
    ]


def judge_indexed(blob: Blob, indexed_size: int) -> Failure | Verdict:
    """A blob the index holds is verified already; only a different declared size is wrong."""
    if indexed_size != blob.size:
        return Failure(blob.digest, Reason.SIZE_MISMATCH, blob.size, indexed_size)
    return Verdict.VERIFIED


def error_code(failures: Iterable[Failure]) -> str:
    """The answer's code: ``checksum_mismatch`` if any content was wrong, else
    ``size_mismatch`` (the object is not there as declared); the reasons are in the details."""
    if any(f.reason is Reason.CHECKSUM_MISMATCH for f in failures):
        return "checksum_mismatch"
    return "size_mismatch"
