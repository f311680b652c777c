"""Reading run history, shaped for W&B's public API: ``run.history`` (sampled),
``run.scan_history`` (every row, paged) and the writer's progress (for ``run.finish``)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import orjson
from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import bad_request, not_found
from cairn_shared.http.requests import entity_param, path_param, project_param

from cairn_ingest.adapters.history_reader import Cursor, HistoryReader, StepRange
from cairn_ingest.domain.runs import check_run_id, run_path
from cairn_ingest.domain.summary import RunSummary
from cairn_ingest.entrypoints.http.app_keys import HISTORY, RUNS
from cairn_ingest.entrypoints.http.history import HISTORY_URL

routes = web.RouteTableDef()
MAX_PAGE = 10_000
MAX_SAMPLES = 10_000
MAX_WAIT_S = 60.0
POLL_S = 0.1


@routes.get(HISTORY_URL)
async def sampled_history(request: web.Request) -> web.Response:
    path, summary = await _run(request)
    samples = _int(request, "samples", 500, low=1, high=MAX_SAMPLES)
    reader = HistoryReader(request.app[HISTORY])
    rows = await reader.sample(summary, steps=_steps(request), keys=_keys(request), samples=samples)
    return web.json_response({"path": path, "rows": rows})


@routes.get(HISTORY_URL + "/scan")
async def scan_history(request: web.Request) -> web.Response:
    _, summary = await _run(request)
    page_size = _int(request, "page_size", 1000, low=1, high=MAX_PAGE)
    try:
        cursor = Cursor.decode(request.query["cursor"]) if "cursor" in request.query else None
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    reader = HistoryReader(request.app[HISTORY])
    page = await reader.scan(
        summary, steps=_steps(request), keys=_keys(request), page_size=page_size, cursor=cursor
    )
    answer = {"rows": page.rows, "next": page.next.encode() if page.next else None}
    # orjson would write NaN as null; rows that are not finite keep W&B's tokens (stdlib).
    body = orjson.dumps(answer) if page.finite else json.dumps(answer).encode()
    return web.Response(body=body, content_type="application/json")


@routes.get(HISTORY_URL + "/status")
async def history_status(request: web.Request) -> web.Response:
    """What the writer has stored. With ``seq``, waits (up to ``wait_s``) until the batch of
    that number is stored: ``run.finish`` uses it so that reads right after see every row."""
    path, summary = await _run(request, must_exist=False)
    wanted = _int(request, "seq", -1, low=-1, high=2**62)
    wait_s = min(float(_int(request, "wait_s", 0, low=0, high=int(MAX_WAIT_S))), MAX_WAIT_S)
    deadline = time.monotonic() + wait_s
    while summary.seq < wanted and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
        summary = await request.app[HISTORY].summary(path) or summary
    return web.json_response(status_body(summary) | {"stored": summary.seq >= wanted})


def status_body(summary: RunSummary) -> dict[str, Any]:
    return {
        "path": summary.path,
        "stored_seq": summary.seq,
        "history_rows": summary.rows,
        "last_step": summary.last_step if summary.last_step >= 0 else None,
        "chunks": summary.chunks,
        "updated_at": summary.updated_at.isoformat() if summary.updated_at else None,
    }


async def _run(request: web.Request, *, must_exist: bool = True) -> tuple[str, RunSummary]:
    """The run's path and history summary (empty if nothing is stored yet); 404 if the run
    is unknown to both the run writer and the history writer (unless waiting for it)."""
    entity, project = entity_param(request), project_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    path = run_path(entity, project, path_param(request, "run_id", check_run_id))
    summary = await request.app[HISTORY].summary(path)
    if summary is None:
        if must_exist and await request.app[RUNS].get(path) is None:
            raise not_found(f"run {path!r} not found")
        summary = RunSummary(path=path, entity=entity, project=project)
    return path, summary


def _keys(request: web.Request) -> list[str] | None:
    keys = [key for key in request.query.getall("keys", []) if key]
    return keys or None


def _steps(request: web.Request) -> StepRange:
    low = _int(request, "min_step", 0, low=0, high=2**62)
    end = _int(request, "max_step", -1, low=0, high=2**62) if "max_step" in request.query else -1
    # As in W&B's scan_history, max_step is exclusive.
    return StepRange(low, None if end < 0 else end - 1)


def _int(request: web.Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise bad_request(f"{name} must be between {low} and {high}")
    return value
