"""Artifact submissions: what ingest checks before it publishes ``artifact.logged``.

Everything here is pure, so the rules are unit-tested without a server; the route adds only
what needs other services (the type of an existing artifact, the blobs storage holds).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cairn_shared.ids import derive_id
from cairn_shared.manifests import InvalidManifestError, Manifest, parse_manifest
from cairn_shared.names import (
    MAX_METADATA_KEYS,
    check_alias,
    check_artifact_name,
    check_artifact_type,
)

from cairn_ingest.domain.runs import check_run_id

LATEST = "latest"
MAX_ALIASES = 100
# The metadata travels inside the event; Kafka refuses messages over 1 MB by default.
MAX_METADATA_BYTES = 256 * 1024


class SubmissionError(ValueError):
    """A fault of the submission itself: a 400 with ``code`` and, when it is one, the field."""

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class CheckedManifest:
    manifest: Manifest
    digest: str

    @property
    def required_blobs(self) -> list[str]:
        """What storage must hold: every uploaded file and the manifest blob itself."""
        return sorted(self.manifest.blob_digests() | {self.digest})


def sequence_of(entity: str, project: str, name: str) -> str:
    """The artifact sequence: the aggregate of every version of one name, and its Kafka key."""
    return f"{entity}/{project}/{name}"


def submission_id(entity: str, project: str, client_id: str) -> str:
    """A retried submission (same ``client_id``) publishes the same event: manifest dedupes it."""
    return derive_id(f"artifact-submission:{entity}/{project}/{client_id}")


def usage_id(entity: str, project: str, run_id: str, sequence: str, version_index: int) -> str:
    """One usage per run and version, however often the run declares it."""
    return derive_id(f"artifact-used:{entity}/{project}/{run_id}", sequence, str(version_index))


def check_names(name: str, artifact_type: str, aliases: Iterable[str]) -> list[str]:
    """The requested aliases, checked and de-duplicated; ``latest`` is dropped as it is
    automatic (it always names the newest version)."""
    _field("name", check_artifact_name, name)
    _field("type", check_artifact_type, artifact_type)
    wanted: list[str] = []
    for alias in aliases:
        _field("aliases", check_alias, alias)
        if alias != LATEST and alias not in wanted:
            wanted.append(alias)
    if len(wanted) > MAX_ALIASES:
        raise SubmissionError("bad_request", f"at most {MAX_ALIASES} aliases", "aliases")
    return wanted


def check_run(run_id: str) -> str:
    """An empty run id is a submission without a run (the CLI's ``artifact put``)."""
    return _field("run_id", check_run_id, run_id) if run_id else run_id


def check_usage(run_id: str, name: str) -> None:
    _field("run_id", check_run_id, run_id)
    _field("name", check_artifact_name, name)


def check_metadata(metadata: Mapping[str, Any]) -> None:
    if len(metadata) > MAX_METADATA_KEYS:
        raise SubmissionError(
            "bad_request",
            f"metadata has {len(metadata)} keys; at most {MAX_METADATA_KEYS} are allowed",
            "metadata",
        )
    if len(json.dumps(metadata, separators=(",", ":"))) > MAX_METADATA_BYTES:
        raise SubmissionError(
            "bad_request", f"metadata is larger than {MAX_METADATA_BYTES} bytes as JSON", "metadata"
        )


def check_manifest(manifest_json: str, manifest_digest: str) -> CheckedManifest:
    """The manifest, if its text hashes to ``manifest_digest`` and every entry is valid."""
    raw = manifest_json.encode()
    actual = hashlib.sha256(raw).hexdigest()
    if actual != manifest_digest:
        raise SubmissionError(
            "digest_mismatch",
            f"manifest_digest is {manifest_digest} but the SHA-256 of manifest_json is {actual}",
            "manifest_digest",
        )
    try:
        manifest, digest = parse_manifest(raw)
    except InvalidManifestError as exc:
        raise SubmissionError("invalid_manifest", str(exc), "manifest_json") from None
    return CheckedManifest(manifest, digest)


def type_conflict(name: str, existing: str | None, wanted: str) -> str | None:
    """The reason to refuse the submission, if ``name`` already holds another type."""
    if existing is None or existing == wanted:
        return None
    return f"artifact {name!r} is a {existing!r}, not a {wanted!r}"


def _field(field: str, check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except ValueError as exc:
        raise SubmissionError("bad_request", str(exc), field) from None
