"""The artifact manifest: which file of a version is which blob (or external reference).

Wire format, version 1, as canonical JSON (keys sorted, no spaces, UTF-8)::

    {"contents": {"<path>": {"digest": "<sha256 hex>", "size": 12}},
     "version": 1}

An entry with ``"ref"`` (``file://``, ``s3://``, ``http(s)://``) is tracked, not uploaded; its
``digest`` is the checksum or ETag that identifies the content. Canonical bytes make the
manifest's SHA-256 a digest of the content: the same files give the same manifest digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cairn_shared.names import check_entry_path

MANIFEST_VERSION = 1
SHA256 = re.compile(r"^[0-9a-f]{64}$")
REFERENCE_SCHEMES = ("file://", "s3://", "http://", "https://")


class InvalidManifestError(ValueError):
    """The manifest is not valid; the message says which entry and why."""


class ManifestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    digest: str = Field(min_length=1, max_length=512)
    size: int = Field(ge=0)
    ref: str | None = Field(default=None, max_length=4096)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("ref")
    @classmethod
    def _known_scheme(cls, ref: str | None) -> str | None:
        if ref is not None and not ref.startswith(REFERENCE_SCHEMES):
            raise ValueError(f"reference {ref!r} must start with one of {REFERENCE_SCHEMES}")
        return ref

    @property
    def is_reference(self) -> bool:
        return self.ref is not None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = MANIFEST_VERSION
    contents: dict[str, ManifestEntry]

    def blob_digests(self) -> set[str]:
        """The blobs storage must hold for this manifest (references excepted)."""
        return {e.digest for e in self.contents.values() if not e.is_reference}

    @property
    def size(self) -> int:
        return sum(e.size for e in self.contents.values())


def canonical_bytes(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_manifest(raw: bytes) -> tuple[Manifest, str]:
    """The manifest in ``raw`` and its digest, if ``raw`` is a valid canonical manifest."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidManifestError(f"the manifest is not JSON: {exc}") from None
    if canonical_bytes(document) != raw:
        raise InvalidManifestError(
            "the manifest must be canonical JSON (sorted keys, no spaces, UTF-8)"
        )
    try:
        manifest = Manifest.model_validate(document)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidManifestError(f"invalid manifest at {where}: {first['msg']}") from None
    if manifest.version != MANIFEST_VERSION:
        raise InvalidManifestError(f"unsupported manifest version {manifest.version}")
    for path, entry in manifest.contents.items():
        try:
            check_entry_path(path)
        except ValueError as exc:
            raise InvalidManifestError(str(exc)) from None
        if not entry.is_reference and not SHA256.fullmatch(entry.digest):
            raise InvalidManifestError(
                f"entry {path!r}: an uploaded file's digest must be a SHA-256 hex string"
            )
    return manifest, hashlib.sha256(raw).hexdigest()


def blob_key(entity: str, digest: str) -> str:
    """Where a blob lives in the bucket: per entity, content-addressed."""
    return f"entities/{entity}/sha256/{digest[:2]}/{digest}"
