"""Blobs: content addressed by SHA-256 within an entity, and the limits of one request."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

MAX_BLOBS_PER_CALL = 10_000  # uploads, completions and downloads
MAX_DIGESTS_PER_CHECK = 100_000  # a manifest's blobs, checked by ingest in one call
MAX_OBJECT_BYTES = 5 * 1024**4  # S3's largest object, 5 TiB


@dataclass(frozen=True)
class Blob:
    digest: str  # SHA-256, lower-case hex
    size: int


@dataclass(frozen=True)
class Location:
    """Where a verified blob's bytes are: a whole object, or ``size`` bytes of a pack."""

    key: str
    size: int
    offset: int | None = None  # None: the whole object at ``key``


def check_digest(digest: str) -> str:
    if not SHA256_HEX.fullmatch(digest):
        raise ValueError(
            f"invalid digest {digest[:80]!r}: use the SHA-256 of the content as 64 lower-case "
            "hex digits"
        )
    return digest


def checksum_sha256(digest: str) -> str:
    """The digest as S3 writes SHA-256 checksums (``x-amz-checksum-sha256``): base64."""
    return base64.b64encode(bytes.fromhex(digest)).decode()


def unique_blobs(blobs: Iterable[Blob]) -> list[Blob]:
    """``blobs`` without repeats, in order; one digest declared with two sizes is a lie."""
    seen: dict[str, Blob] = {}
    for blob in blobs:
        earlier = seen.setdefault(blob.digest, blob)
        if earlier.size != blob.size:
            raise ValueError(
                f"blob {blob.digest} is listed with two sizes ({earlier.size} and {blob.size})"
            )
    return list(seen.values())


def unique_digests(digests: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(digests))
