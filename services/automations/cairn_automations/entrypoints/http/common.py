"""Helpers shared by the automations routes: path names, targets, secrets, cursors, time."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from aiohttp import web
from cairn_shared.http.errors import ApiError, bad_request, conflict
from cairn_shared.http.requests import path_param

from cairn_automations.adapters.config_repository import Replaced
from cairn_automations.adapters.secret_box import NoSecretsKeyError
from cairn_automations.domain.address_policy import TargetRefusedError
from cairn_automations.domain.model import check_object_name
from cairn_automations.entrypoints.http.app_keys import BOX, SENDER

ENTITY_URL = "/v1/entities/{entity}"
MAX_PAGE = 200


def utcnow() -> datetime:
    return datetime.now(UTC)


def name_param(request: web.Request, key: str = "name") -> str:
    """An automation or integration reference from the path: its id or its name."""
    return path_param(request, key, check_object_name)


async def check_target(request: web.Request, url: str) -> str:
    """The normalised URL, or a 400 saying why it may not be a webhook target."""
    try:
        target = await request.app[SENDER].check(url)
    except TargetRefusedError as exc:
        raise ApiError(400, "target_refused", f"webhook URL refused: {exc}") from None
    return target.url


def encrypt(request: web.Request, plaintext: str) -> str:
    try:
        return request.app[BOX].encrypt(plaintext)
    except NoSecretsKeyError as exc:
        raise ApiError(503, "secrets_unavailable", str(exc)) from None


def check_replaced(result: Replaced, what: str) -> None:
    if result is Replaced.DUPLICATE:
        raise conflict(f"{what}: the name is taken in this entity")
    if result is Replaced.CONFLICT:
        raise conflict(f"{what} changed meanwhile: read it again and retry")


def page_limit(request: web.Request, default: int = 50) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise bad_request(f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def encode_cursor(at: datetime, last_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{last_id}".encode()).decode()


def decode_cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        at, _, last_id = base64.urlsafe_b64decode(value.encode()).decode().partition("|")
        return datetime.fromisoformat(at), last_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request("after: not a cursor this API returned") from None
