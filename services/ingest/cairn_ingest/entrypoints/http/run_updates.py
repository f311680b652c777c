"""``POST .../runs/{run_id}/summary`` and ``.../config``: keys a script sets after ``init``.

``{"update": {key: value}, "remove": [key]}`` with the same ``batch_id`` and ``seq`` query as a
history batch, numbered in the run's one sequence: the history writer applies them in order
with the rows (a later ``run.log`` of a key replaces a summary value set before it). Answers
200 once Kafka holds the update.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.events.envelope import Envelope
from cairn_shared.events.runs import RunConfigUpdated, RunSummaryUpdated
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import ApiError, bad_request
from cairn_shared.http.keys import SETTINGS
from cairn_shared.http.requests import cause, entity_param, path_param, project_param

from cairn_ingest.domain.history import MAX_KEY_CHARS, json_safe
from cairn_ingest.domain.runs import check_run_id, run_path
from cairn_ingest.entrypoints.http.history import (
    HISTORY_URL,
    SOURCE,
    batch_identity,
    history_event_id,
    publish_history,
)

routes = web.RouteTableDef()
RUN_URL = HISTORY_URL.removesuffix("/history")


@routes.post(RUN_URL + "/summary")
async def update_summary(request: web.Request) -> web.Response:
    return await _update(request, RunSummaryUpdated)


@routes.post(RUN_URL + "/config")
async def update_config(request: web.Request) -> web.Response:
    return await _update(request, RunConfigUpdated)


async def _update(
    request: web.Request, kind: type[RunSummaryUpdated] | type[RunConfigUpdated]
) -> web.Response:
    entity, project = entity_param(request), project_param(request)
    require_role(request, entity, Role.MEMBER)
    run_id = path_param(request, "run_id", check_run_id)
    batch_id, seq = batch_identity(request)
    update, remove = await _read_update(request)
    path = run_path(entity, project, run_id)
    envelope = Envelope.wrap(
        kind(run_id=run_id, batch_id=batch_id, seq=seq, update=update, remove=remove),
        id=history_event_id(path, batch_id),
        source=SOURCE,
        subject=path,
        entity=entity,
        project=project,
        cause=cause(request),
    )
    await publish_history(request, envelope, path)
    return web.json_response({"event_id": envelope.id, "batch_id": batch_id, "seq": seq})


async def _read_update(request: web.Request) -> tuple[dict[str, Any], list[str]]:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    settings = request.app[SETTINGS]
    raw = await request.read()
    if len(raw) > settings.history_max_body_bytes:
        raise ApiError(413, "payload_too_large", "the update is too large")
    try:
        body = json.loads(raw)  # the stdlib: NaN and Infinity as the SDK writes them
    except ValueError:
        raise bad_request("the body is not JSON") from None
    if not isinstance(body, dict) or set(body) - {"update", "remove"}:
        raise bad_request('send {"update": {key: value}, "remove": [key]}')
    update, remove = body.get("update", {}), body.get("remove", [])
    if not isinstance(update, dict) or not isinstance(remove, list):
        raise bad_request('"update" must be an object and "remove" a list of keys')
    keys = [*update, *remove]
    if len(keys) > settings.history_max_keys:
        raise bad_request(f"at most {settings.history_max_keys} keys at once")
    for key in keys:
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS:
            raise bad_request(f"keys must be texts of 1 to {MAX_KEY_CHARS} characters")
    return {key: json_safe(value) for key, value in update.items()}, remove
