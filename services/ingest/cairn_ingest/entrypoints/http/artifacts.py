"""Artifact routes: submissions (``artifact.logged``) and usage (``artifact.used``).

Ingest owns no artifact state: it checks the request, asks manifest and storage what only they
know, publishes the event keyed by the sequence and answers once Kafka has it. Manifest applies
the event as the one writer of that sequence; the SDK polls the submission for the outcome.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.events.artifacts import SHA256_HEX, ArtifactLogged, ArtifactUsed
from cairn_shared.events.envelope import Envelope
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import ApiError
from cairn_shared.http.keys import PUBLISHER
from cairn_shared.http.requests import cause, entity_param, project_param, read_json
from pydantic import BaseModel, ConfigDict, Field

from cairn_ingest.domain.artifacts import (
    SubmissionError,
    check_manifest,
    check_metadata,
    check_names,
    check_run,
    check_usage,
    sequence_of,
    submission_id,
    type_conflict,
    usage_id,
)
from cairn_ingest.entrypoints.http.app_keys import PEERS

routes = web.RouteTableDef()
SOURCE = "/cairn/ingest"
ARTIFACTS_URL = "/v1/entities/{entity}/projects/{project}/artifacts"


class SubmitArtifact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: str
    description: str = Field(default="", max_length=65_536)
    metadata: dict[str, Any] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)
    run_id: str = ""
    client_id: UUID  # chosen by the SDK once per submission, kept across its retries
    manifest_digest: str = Field(pattern=SHA256_HEX)
    manifest_json: str


class UseArtifact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    name: str
    version_index: int = Field(ge=0, le=2**31 - 1)


@routes.post(ARTIFACTS_URL)
async def submit_artifact(request: web.Request) -> web.Response:
    entity, project = entity_param(request), project_param(request)
    require_role(request, entity, Role.MEMBER)
    body = await read_json(request, SubmitArtifact)
    try:
        aliases = check_names(body.name, body.type, body.aliases)
        run_id = check_run(body.run_id)
        check_metadata(body.metadata)
        checked = check_manifest(body.manifest_json, body.manifest_digest)
    except SubmissionError as exc:
        raise _bad_submission(exc) from None

    peers = request.app[PEERS]
    existing = await peers.artifact_type(request, entity, project, body.name)
    if reason := type_conflict(body.name, existing, body.type):
        raise ApiError(409, "type_conflict", reason, details={"type": existing})
    missing = await peers.missing_blobs(request, entity, checked.required_blobs)
    if missing:
        raise ApiError(
            409,
            "missing_blobs",
            f"storage does not hold {len(missing)} blob(s) of this manifest; upload them first",
            details={"missing": missing},
        )

    sequence = sequence_of(entity, project, body.name)
    event = ArtifactLogged(
        sequence=sequence,
        name=body.name,
        artifact_type=body.type,
        manifest_digest=checked.digest,
        file_count=len(checked.manifest.contents),
        size=checked.manifest.size,
        description=body.description,
        metadata=body.metadata,
        aliases=aliases,
        run_id=run_id,
    )
    envelope = Envelope.wrap(
        event,
        id=submission_id(entity, project, str(body.client_id)),
        source=SOURCE,
        subject=sequence,
        entity=entity,
        project=project,
        cause=cause(request),
    )
    await request.app[PUBLISHER].publish(envelope, key=sequence)
    return web.json_response({"submission_id": envelope.id, "sequence": sequence}, status=202)


@routes.post(ARTIFACTS_URL + "/used")
async def use_artifact(request: web.Request) -> web.Response:
    entity, project = entity_param(request), project_param(request)
    require_role(request, entity, Role.VIEWER)
    body = await read_json(request, UseArtifact)
    try:
        check_usage(body.run_id, body.name)
    except SubmissionError as exc:
        raise _bad_submission(exc) from None
    sequence = sequence_of(entity, project, body.name)
    envelope = Envelope.wrap(
        ArtifactUsed(sequence=sequence, version_index=body.version_index, run_id=body.run_id),
        id=usage_id(entity, project, body.run_id, sequence, body.version_index),
        source=SOURCE,
        subject=sequence,
        entity=entity,
        project=project,
        cause=cause(request),
    )
    await request.app[PUBLISHER].publish(envelope, key=sequence)
    return web.json_response({"event_id": envelope.id}, status=202)


def _bad_submission(exc: SubmissionError) -> ApiError:
    return ApiError(400, exc.code, str(exc), details={"field": exc.field} if exc.field else None)
