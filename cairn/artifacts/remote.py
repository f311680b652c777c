"""The artifact routes of the server: submit a manifest, wait for its commit, read versions,
record use. Paths and bodies follow ``docs/http-api.md``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cairn.artifacts.manifest import Manifest
from cairn.artifacts.upload import BlobSource, upload_blobs
from cairn.errors import ArtifactRejectedError, CommError, WaitTimeoutError
from cairn.http import segment
from cairn.names import VERSION_REF
from cairn.progress import progress_bar
from cairn.session import Session


@dataclass(frozen=True)
class Place:
    """Where artifacts live: an entity and a project."""

    entity: str
    project: str

    def ingest(self) -> str:
        return f"/ingest/v1/entities/{segment(self.entity)}/projects/{segment(self.project)}"

    def manifest(self) -> str:
        return f"/manifest/v1/entities/{segment(self.entity)}/projects/{segment(self.project)}"


@dataclass(frozen=True)
class Submission:
    name: str
    artifact_type: str
    description: str
    metadata: dict[str, Any]
    aliases: list[str]
    run_id: str


def check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON (no NaN, sets or objects): {exc}") from None


def submit(
    session: Session, place: Place, submission: Submission, manifest: Manifest
) -> tuple[str, str]:
    """Upload what storage lacks, then the manifest blob, then submit it to ingest.

    Returns ``(submission_id, manifest_digest)``. One ``client_id`` serves every retry of this
    call, so ingest publishes one event however often the request is repeated.
    """
    check_json(submission.metadata, "artifact metadata")
    raw = manifest.to_bytes()
    digest = manifest.digest()
    sources = [
        BlobSource(e.digest, e.size, path=e.local_path, mtime_ns=e.mtime_ns, packable=True)
        for e in manifest.blobs()
    ]
    sources.append(BlobSource(digest, len(raw), data=raw))
    upload_blobs(session, place.entity, sources, desc=f"Uploading {submission.name}")
    body = {
        "name": submission.name,
        "type": submission.artifact_type,
        "description": submission.description,
        "metadata": submission.metadata,
        "aliases": submission.aliases,
        "run_id": submission.run_id,
        "client_id": str(uuid.uuid4()),
        "manifest_digest": digest,
        "manifest_json": raw.decode(),
    }
    try:
        answer = session.api.post(f"{place.ingest()}/artifacts", body)
    except CommError as exc:
        if exc.code != "missing_blobs":
            raise
        # Storage lost a blob between our check and the submission (collected meanwhile):
        # upload the missing ones once more and resubmit with the same client_id.
        lost = set(exc.details.get("missing", []))
        upload_blobs(session, place.entity, [s for s in sources if s.digest in lost])
        answer = session.api.post(f"{place.ingest()}/artifacts", body)
    return str(answer["submission_id"]), digest


def wait_committed(
    session: Session, place: Place, name: str, submission_id: str, timeout: float | None
) -> dict[str, Any]:
    """Poll the submission until committed; returns the version document."""
    deadline = None if timeout is None else time.monotonic() + timeout
    # A commit usually takes tens of milliseconds: poll soon, then back off (up to 2 s).
    delay = 0.025
    url = f"{place.manifest()}/submissions/{segment(submission_id)}"
    with progress_bar(None, f"Committing {name}", unit="poll") as bar:
        while True:
            status = session.api.get(url)  # unknown yet (not consumed) answers "pending"
            state = status.get("status")
            version = status.get("version")
            if state == "committed" and isinstance(version, dict):
                return version
            if state == "committed" and isinstance(version, (int, str)):
                return read_version(session, place, name, _version_ref(version))
            if state == "rejected":
                raise ArtifactRejectedError(
                    f"the server rejected artifact {name!r}: "
                    f"{status.get('reason') or 'no reason given'}"
                )
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(
                    f"artifact {name!r} (submission {submission_id}) not committed after "
                    f"{timeout}s; call artifact.wait() again, or check the manifest service"
                )
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            time.sleep(delay if left is None else min(delay, left))
            delay = min(delay * 1.5, 2.0)
            bar.update(1)


def _version_ref(version: int | str) -> str:
    if isinstance(version, int):
        return f"v{version}"
    if VERSION_REF.fullmatch(version):
        return version
    raise CommError(f"the server committed the artifact but named no version ({version!r})")


def read_version(session: Session, place: Place, name: str, ref: str) -> dict[str, Any]:
    """The version document of ``name:ref`` (an alias or ``vN``)."""
    path = f"{place.manifest()}/artifacts/{segment(name)}/versions/{segment(ref)}"
    return dict(session.api.get(path))


def read_collection(session: Session, place: Place, name: str) -> dict[str, Any]:
    return dict(session.api.get(f"{place.manifest()}/artifacts/{segment(name)}"))


def list_collections(
    session: Session, place: Place, artifact_type: str | None
) -> list[dict[str, Any]]:
    query = f"?type={segment(artifact_type)}" if artifact_type else ""
    return list(session.api.get(f"{place.manifest()}/artifacts{query}")["artifacts"])


def list_versions(session: Session, place: Place, name: str) -> list[dict[str, Any]]:
    """Every version of ``name``, following the pages."""
    versions: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        query = "?limit=100" + (f"&after={segment(after)}" if after else "")
        page = session.api.get(f"{place.manifest()}/artifacts/{segment(name)}/versions{query}")
        versions.extend(page.get("versions", []))
        cursor = page.get("next")
        if cursor is None or cursor == "":
            return versions
        after = str(cursor)


def mark_used(session: Session, place: Place, run_id: str, name: str, version_index: int) -> None:
    """Record that run ``run_id`` used the version (lineage)."""
    body = {"run_id": run_id, "name": name, "version_index": version_index}
    session.api.post(f"{place.ingest()}/artifacts/used", body)


def aliases_of(values: Sequence[str] | str | None) -> list[str]:
    if values is None:
        return []
    return [values] if isinstance(values, str) else list(values)
