"""The artifact manifest: which path of a version is which blob, or which external reference.

Wire format, version 1, as canonical JSON (keys sorted, no spaces, UTF-8), the format of the
server's ``shared/cairn_shared/manifests.py``::

    {"contents": {"<path>": {"digest": "<sha256 hex>", "size": 12}}, "version": 1}

An entry with ``"ref"`` (``file://``, ``s3://``, ``http(s)://``) is tracked, not uploaded.
Canonical bytes make the manifest's SHA-256 a digest of the content: the same files give the
same manifest digest, which is how the server recognises a re-logged version.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cairn.names import check_entry_path

if TYPE_CHECKING:
    from cairn.artifacts.artifact import Artifact

MANIFEST_VERSION = 1
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
REFERENCE_SCHEMES = ("file://", "s3://", "http://", "https://")


def canonical_bytes(document: Any) -> bytes:
    """Exactly the server's canonical JSON (``cairn_shared.manifests.canonical_bytes``)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class ArtifactManifestEntry:
    """One file of an artifact: its ``path`` inside the artifact, ``digest`` (SHA-256 hex, or
    the checksum or ETag of a reference), ``size`` in bytes, and ``ref`` for a reference."""

    path: str
    digest: str
    size: int
    ref: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    local_path: str | None = field(default=None, compare=False)  # the file a draft uploads
    mtime_ns: int | None = field(default=None, compare=False, repr=False)  # seen when hashed
    _artifact: Artifact | None = field(default=None, compare=False, repr=False)

    @property
    def is_reference(self) -> bool:
        return self.ref is not None

    def ref_url(self) -> str:
        """The reference's URI; raises ``ValueError`` for an uploaded file."""
        if self.ref is None:
            raise ValueError(f"entry {self.path!r} is an uploaded file, not a reference")
        return self.ref

    def download(self, root: str | None = None) -> str:
        """Download this one file of a logged artifact; returns its local path."""
        if self._artifact is None:
            raise ValueError("this entry belongs to no logged artifact; use artifact.get_entry()")
        return self._artifact._download_entry(self, root)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"digest": self.digest, "size": self.size}
        if self.ref is not None:
            wire["ref"] = self.ref
        if self.extra:
            wire["extra"] = dict(self.extra)
        return wire


class InvalidManifestError(ValueError):
    """A manifest from the server is not one this SDK can read."""


@dataclass
class Manifest:
    entries: dict[str, ArtifactManifestEntry] = field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "contents": {path: e.to_wire() for path, e in self.entries.items()},
        }

    def to_bytes(self) -> bytes:
        return canonical_bytes(self.to_document())

    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries.values())

    def blobs(self) -> Iterable[ArtifactManifestEntry]:
        """The uploaded (not referenced) entries."""
        return (e for e in self.entries.values() if e.ref is None)

    def copy(self) -> Manifest:
        return Manifest(dict(self.entries))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Parse a manifest, re-checking every path: a download must never escape its root."""
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidManifestError(f"the manifest is not JSON: {exc}") from None
        if not isinstance(document, dict) or document.get("version") != MANIFEST_VERSION:
            raise InvalidManifestError("unsupported manifest: expected version 1")
        entries: dict[str, ArtifactManifestEntry] = {}
        for path, wire in document.get("contents", {}).items():
            try:
                check_entry_path(path)
                digest, size, ref = wire["digest"], wire["size"], wire.get("ref")
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidManifestError(f"invalid manifest entry {path!r}: {exc}") from None
            if not isinstance(size, int) or size < 0 or not isinstance(digest, str):
                raise InvalidManifestError(f"invalid manifest entry {path!r}: bad digest or size")
            if ref is None and not SHA256_HEX.fullmatch(digest):
                raise InvalidManifestError(f"invalid manifest entry {path!r}: digest not SHA-256")
            entries[path] = ArtifactManifestEntry(
                path, digest, size, ref=ref, extra=dict(wire.get("extra") or {})
            )
        return cls(entries)
