"""Reading requests: JSON bodies into models, names from the path, and the event context."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from cairn_shared.events.envelope import Cause
from cairn_shared.http.errors import ApiError, bad_request
from cairn_shared.http.keys import REQUEST_ID, principal
from cairn_shared.names import check_entity_name, check_project_name

M = TypeVar("M", bound=BaseModel)


async def read_json(request: web.Request, model: type[M]) -> M:
    """The body as ``model``; a body that is not JSON or not valid is a 400 with the details."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = await request.read()
    if not raw:
        raise bad_request("the request body is empty; send a JSON object")
    return model.model_validate_json(raw)


def path_param(request: web.Request, name: str, check: Callable[[str], str]) -> str:
    """A path segment that ``check`` accepts; its ``ValueError`` becomes a 400."""
    try:
        return check(request.match_info[name])
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def entity_param(request: web.Request) -> str:
    return path_param(request, "entity", check_entity_name)


def project_param(request: web.Request) -> str:
    return path_param(request, "project", check_project_name)


def cause(request: web.Request) -> Cause:
    """What an HTTP request hands on to the events it causes."""
    return Cause(
        actor=principal(request).user,
        requestid=str(request.get(REQUEST_ID, "")),
        traceparent=request.headers.get("traceparent", ""),
    )
