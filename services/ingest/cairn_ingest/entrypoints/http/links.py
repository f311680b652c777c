"""Link requests: a run (or the API) asks to link an artifact version into a registered model.

Like every ingest write, this owns no state: it checks the request and publishes
``model.link.requested`` keyed by the registered model, whose owner in the registry applies it.
The link may name the version by index or by the submission still creating it.
"""

from __future__ import annotations

from uuid import UUID

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.events.envelope import Envelope
from cairn_shared.events.registry import ModelLinkRequested
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import bad_request
from cairn_shared.http.keys import PUBLISHER
from cairn_shared.http.requests import cause, entity_param, read_json
from cairn_shared.ids import derive_id
from cairn_shared.names import check_alias, check_artifact_name, check_project_name
from cairn_shared.registry_paths import parse_target
from pydantic import BaseModel, ConfigDict, Field

from cairn_ingest.domain.runs import check_run_id

routes = web.RouteTableDef()
SOURCE = "/cairn/ingest"


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(min_length=1, max_length=512)
    source: str = Field(min_length=1, max_length=512)  # entity/project/name of the artifact
    source_version_index: int | None = Field(default=None, ge=0)
    source_submission_id: str = Field(default="", max_length=64)
    aliases: list[str] = Field(default_factory=list, max_length=64)
    run_id: str = ""
    client_id: UUID  # chosen by the SDK once per link, kept across its retries


@routes.post("/v1/entities/{entity}/links")
async def request_link(request: web.Request) -> web.Response:
    entity = entity_param(request)
    caller = require_role(request, entity, Role.MEMBER)
    body = await read_json(request, LinkRequest)
    try:
        command = _command(entity, body, requested_by_admin=caller.role_in(entity) == Role.ADMIN)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    envelope = Envelope.wrap(
        command,
        id=derive_id(f"link:{command.collection_id}", str(body.client_id)),
        source=SOURCE,
        subject=command.collection_id,
        cause=cause(request),
        entity=entity,
        project=command.source_sequence.split("/")[1],
    )
    await request.app[PUBLISHER].publish(envelope, key=command.collection_id)
    return web.json_response(
        {"command_id": envelope.id, "collection_id": command.collection_id}, status=202
    )


def _command(entity: str, body: LinkRequest, *, requested_by_admin: bool) -> ModelLinkRequested:
    target = parse_target(body.target)
    if target.entity not in (None, entity):
        raise ValueError(
            f"cannot link into {target.entity!r} from {entity!r}: a registry holds the "
            "artifacts of its own entity"
        )
    source_entity, project, name = _split_source(body.source)
    if source_entity != entity:
        raise ValueError(f"the artifact {body.source!r} is not in entity {entity!r}")
    if (body.source_version_index is None) == (not body.source_submission_id):
        raise ValueError("name the version by source_version_index or source_submission_id")
    if body.run_id:
        check_run_id(body.run_id)
    aliases = [check_alias(alias) for alias in body.aliases if alias != "latest"]
    return ModelLinkRequested(
        collection_id=target.collection_id(entity),
        registry=target.registry,
        collection=target.collection,
        source_sequence=f"{source_entity}/{project}/{name}",
        source_version_index=body.source_version_index,
        source_submission_id=body.source_submission_id,
        aliases=list(dict.fromkeys(aliases)),
        run_id=body.run_id,
        requested_by_admin=requested_by_admin,
    )


def _split_source(source: str) -> tuple[str, str, str]:
    parts = source.split("/")
    if len(parts) != 3:
        raise ValueError(f"invalid source {source!r}: use 'entity/project/name'")
    entity, project, name = parts
    return entity, check_project_name(project), check_artifact_name(name)
