"""The events storage publishes."""

from __future__ import annotations

from cairn_shared.events.blobs import BlobStored
from cairn_shared.events.envelope import Cause, Envelope
from cairn_shared.ids import derive_id

from cairn_storage.domain.blobs import Blob

SOURCE = "/cairn/storage"


def blob_stored(entity: str, blob: Blob, cause: Cause) -> tuple[Envelope, str]:
    """The event and its Kafka key (the digest). The id depends on the blob alone, so a
    completion that is retried, or races another, announces the blob under one id."""
    envelope = Envelope.wrap(
        BlobStored(digest=blob.digest, size=blob.size),
        id=derive_id(f"blob:{entity}/{blob.digest}", "stored"),
        source=SOURCE,
        subject=f"{entity}/{blob.digest}",
        cause=cause,
        entity=entity,
    )
    return envelope, blob.digest
