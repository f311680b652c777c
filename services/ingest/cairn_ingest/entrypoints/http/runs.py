"""Run lifecycle routes. Ingest keeps no state on this path: it answers once Kafka has the event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.events.envelope import Envelope
from cairn_shared.events.runs import RunFinished, RunStarted
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import not_found
from cairn_shared.http.keys import PUBLISHER
from cairn_shared.http.requests import (
    cause,
    entity_param,
    path_param,
    project_param,
    read_json,
)
from cairn_shared.mongo import decode_mapping
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cairn_ingest.domain.runs import check_run_id, lifecycle_event_id, run_path
from cairn_ingest.entrypoints.http.app_keys import RUNS

routes = web.RouteTableDef()
SOURCE = "/cairn/ingest"
RUNS_URL = "/v1/entities/{entity}/projects/{project}/runs"


class StartRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    name: str = Field(default="", max_length=256)
    job_type: str = Field(default="", max_length=128)
    config: dict[str, Any] = Field(default_factory=dict)

    _run_id = field_validator("run_id")(check_run_id)


class FinishRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exit_code: int = 0


@routes.post(RUNS_URL)
async def start_run(request: web.Request) -> web.Response:
    entity, project = entity_param(request), project_param(request)
    require_role(request, entity, Role.MEMBER)
    body = await read_json(request, StartRun)
    path = run_path(entity, project, body.run_id)
    event = RunStarted(
        run_id=body.run_id,
        name=body.name or body.run_id,
        job_type=body.job_type,
        config=body.config,
        started_at=datetime.now(UTC),
    )
    envelope = Envelope.wrap(
        event,
        id=lifecycle_event_id(path, "started"),
        source=SOURCE,
        subject=path,
        entity=entity,
        project=project,
        cause=cause(request),
    )
    await request.app[PUBLISHER].publish(envelope, key=path)
    return web.json_response({"path": path, "event_id": envelope.id}, status=201)


@routes.post(RUNS_URL + "/{run_id}/finish")
async def finish_run(request: web.Request) -> web.Response:
    entity, project = entity_param(request), project_param(request)
    require_role(request, entity, Role.MEMBER)
    run_id = path_param(request, "run_id", check_run_id)
    body = await read_json(request, FinishRun)
    path = run_path(entity, project, run_id)
    envelope = Envelope.wrap(
        RunFinished(run_id=run_id, exit_code=body.exit_code, finished_at=datetime.now(UTC)),
        id=lifecycle_event_id(path, "finished"),
        source=SOURCE,
        subject=path,
        entity=entity,
        project=project,
        cause=cause(request),
    )
    await request.app[PUBLISHER].publish(envelope, key=path)
    return web.json_response({"path": path, "event_id": envelope.id}, status=202)


@routes.get(RUNS_URL + "/{run_id}")
async def get_run(request: web.Request) -> web.Response:
    entity, project = entity_param(request), project_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    path = run_path(entity, project, path_param(request, "run_id", check_run_id))
    run = await request.app[RUNS].get(path)
    if run is None:
        raise not_found(f"run {path!r} not found")
    return web.json_response(
        {
            "path": path,
            "id": run["run_id"],
            "name": run["name"],
            "job_type": run["job_type"],
            "state": run["state"],
            "config": decode_mapping(run["config"]),
            "started_at": run["started_at"].isoformat(),
            "finished_at": run["finished_at"].isoformat() if run.get("finished_at") else None,
            "exit_code": run.get("exit_code"),
        }
    )
