"""Run lifecycle routes. Ingest keeps no state on this path: it answers once Kafka has the event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.events.envelope import Envelope
from cairn_shared.events.runs import RunFinished, RunStarted
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import bad_request, not_found
from cairn_shared.http.keys import PUBLISHER
from cairn_shared.http.requests import (
    cause,
    entity_param,
    path_param,
    project_param,
    read_json,
)
from cairn_shared.mongo import Document, decode_mapping
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cairn_ingest.domain.filters import FilterError, compile_filter, pinned_state
from cairn_ingest.domain.runs import check_run_id, lifecycle_event_id, run_path
from cairn_ingest.domain.summary import RunSummary
from cairn_ingest.entrypoints.http.app_keys import HISTORY, RUNS

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
    """The run page: lifecycle, config, summary and how much history is stored."""
    entity, project = entity_param(request), project_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    path = run_path(entity, project, path_param(request, "run_id", check_run_id))
    run = await request.app[RUNS].get(path)
    if run is None:
        raise not_found(f"run {path!r} not found")
    summary = await request.app[HISTORY].summary(path)
    return web.json_response(run_view(run, summary, stats=True))


@routes.get(RUNS_URL)
async def list_runs(request: web.Request) -> web.Response:
    """A project's runs, W&B-style ``filters`` (JSON), ``order`` (a field, ``-`` for
    descending; ``-created_at`` by default), ``per_page`` and the ``cursor`` of a page."""
    entity, project = entity_param(request), project_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    query = _json_param(request, "filters")
    try:
        matches = compile_filter(query)
    except FilterError as exc:
        raise bad_request(str(exc)) from None
    per_page = _int_param(request, "per_page", 50, high=1000)
    start = _int_param(request, "cursor", 0, high=2**31)
    docs = await request.app[RUNS].list_project(entity, project, state=pinned_state(query))
    summaries = await request.app[HISTORY].project_summaries(entity, project)
    views = [run_view(doc, summaries.get(doc["_id"])) for doc in docs]
    selected = [
        view for view, doc in zip(views, docs, strict=True) if matches(_filterable(doc, view))
    ]
    selected = _sorted(selected, request.query.get("order", "-created_at"))
    page = selected[start : start + per_page]
    following = start + per_page if start + per_page < len(selected) else None
    next_page = None if following is None else str(following)
    return web.json_response({"runs": page, "total": len(selected), "next": next_page})


def run_view(run: Document, summary: RunSummary | None, *, stats: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "path": run["_id"],
        "id": run["run_id"],
        "name": run["name"],
        "job_type": run["job_type"],
        "state": run["state"],
        "config": decode_mapping(run["config"]) | (summary.config if summary else {}),
        "summary": summary.public() if summary else {},
        "history_rows": summary.rows if summary else 0,
        "last_step": summary.last_step if summary and summary.last_step >= 0 else None,
        "created_at": run["started_at"].isoformat(),
        "started_at": run["started_at"].isoformat(),
        "finished_at": run["finished_at"].isoformat() if run.get("finished_at") else None,
        "exit_code": run.get("exit_code"),
    }
    if stats:
        view["summary_stats"] = (
            {key: {"min": low, "max": summary.maximum[key]} for key, low in summary.minimum.items()}
            if summary
            else {}
        )
    return view


def _filterable(doc: Document, view: dict[str, Any]) -> dict[str, Any]:
    return view | {"created_at": doc["started_at"]}


def _sorted(views: list[dict[str, Any]], order: str) -> list[dict[str, Any]]:
    """Sorted by a field (``-`` for descending); runs without the value go last, and numbers
    sort before texts rather than being compared with them."""
    descending = order.startswith("-")
    field = order.lstrip("+-") or "created_at"
    section, _, key = field.partition(".")
    if section == "summary_metrics":
        section = "summary"

    def read(view: dict[str, Any]) -> Any:
        return view.get(section, {}).get(key) if key else view.get(field)

    present = [view for view in views if read(view) is not None]
    absent = [view for view in views if read(view) is None]
    numbers = [v for v in present if isinstance(read(v), int | float)]
    others = [v for v in present if not isinstance(read(v), int | float)]
    numbers.sort(key=read, reverse=descending)
    others.sort(key=lambda view: str(read(view)), reverse=descending)
    return numbers + others + absent


def _json_param(request: web.Request, name: str) -> Any:
    raw = request.query.get(name)
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request(f"{name} must be JSON") from None


def _int_param(request: web.Request, name: str, default: int, *, high: int) -> int:
    raw = request.query.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= high:
        raise bad_request(f"{name} must be an integer between 0 and {high}")
    return int(raw)
