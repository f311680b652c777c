"""Events of the blob index, produced by storage."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field

from cairn_shared.events.artifacts import SHA256_HEX
from cairn_shared.events.envelope import EventData


class BlobStored(EventData):
    """Storage verified a blob's size and SHA-256 and recorded it."""

    type: ClassVar[str] = "blob.stored"

    digest: str = Field(pattern=SHA256_HEX)
    size: int = Field(ge=0)

    @classmethod
    def example(cls) -> Self:
        return cls(digest="0" * 64, size=4096)


SCHEMAS: tuple[type[EventData], ...] = (BlobStored,)
