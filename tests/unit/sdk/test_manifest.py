"""The manifest the SDK writes is the server's canonical JSON, byte for byte."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cairn_shared.manifests import canonical_bytes as server_canonical_bytes
from cairn_shared.manifests import parse_manifest

import cairn
from cairn.artifacts.manifest import ArtifactManifestEntry, InvalidManifestError, Manifest


def _manifest() -> Manifest:
    return Manifest(
        {
            "b/données.bin": ArtifactManifestEntry("b/données.bin", "ab" * 32, 3),
            "a.txt": ArtifactManifestEntry("a.txt", "cd" * 32, 0),
            "ref.csv": ArtifactManifestEntry(
                "ref.csv", "etag-1", 12, ref="s3://bucket/ref.csv", extra={"etag": "etag-1"}
            ),
        }
    )


def test_bytes_are_the_servers_canonical_json() -> None:
    manifest = _manifest()
    raw = manifest.to_bytes()
    assert raw == server_canonical_bytes(manifest.to_document())
    assert raw == server_canonical_bytes(json.loads(raw))
    assert "données".encode() in raw  # UTF-8, not \u escapes


def test_the_server_accepts_it_with_the_same_digest() -> None:
    manifest = _manifest()
    parsed, digest = parse_manifest(manifest.to_bytes())
    assert digest == manifest.digest() == hashlib.sha256(manifest.to_bytes()).hexdigest()
    assert parsed.blob_digests() == {"ab" * 32, "cd" * 32}
    assert parsed.contents["ref.csv"].ref == "s3://bucket/ref.csv"


def test_an_uploaded_entry_has_neither_ref_nor_empty_extra() -> None:
    wire = ArtifactManifestEntry("a", "00" * 32, 1).to_wire()
    assert wire == {"digest": "00" * 32, "size": 1}


def test_the_digest_does_not_depend_on_the_order_files_were_added(tmp_path: Path) -> None:
    for name in "abc":
        (tmp_path / name).write_text(name)
    first, second = cairn.Artifact("x", "t"), cairn.Artifact("x", "t")
    for name in "abc":
        first.add_file(tmp_path / name)
    for name in "cba":
        second.add_file(tmp_path / name)
    assert first.digest == second.digest


def test_reading_round_trips() -> None:
    manifest = _manifest()
    again = Manifest.from_bytes(manifest.to_bytes())
    assert again.to_bytes() == manifest.to_bytes()
    assert again.size == 15


@pytest.mark.parametrize(
    "document",
    [
        {"version": 1, "contents": {"../evil": {"digest": "00" * 32, "size": 1}}},
        {"version": 1, "contents": {"/etc/passwd": {"digest": "00" * 32, "size": 1}}},
        {"version": 1, "contents": {"a": {"digest": "not-a-sha", "size": 1}}},
        {"version": 1, "contents": {"a": {"digest": "00" * 32, "size": -1}}},
        {"version": 2, "contents": {}},
    ],
)
def test_a_manifest_that_could_escape_the_root_is_refused(document: object) -> None:
    with pytest.raises(InvalidManifestError):
        Manifest.from_bytes(json.dumps(document).encode())
