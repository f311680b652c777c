"""Entity secrets: named values that payload templates and integration headers reference as
``${NAME}``. Admins write them; the value is encrypted at rest and never returned or logged."""

from __future__ import annotations

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import conflict, not_found
from cairn_shared.http.requests import entity_param, path_param, read_json
from pydantic import BaseModel, ConfigDict, Field

from cairn_automations.adapters.config_repository import secret_id
from cairn_automations.domain.signing import secret_hint
from cairn_automations.domain.templates import check_secret_name, references
from cairn_automations.entrypoints.http.app_keys import CACHE, CONFIG
from cairn_automations.entrypoints.http.common import ENTITY_URL, encrypt, utcnow
from cairn_automations.entrypoints.http.views import secret_view

routes = web.RouteTableDef()
SECRETS_URL = ENTITY_URL + "/secrets"


class SecretValue(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    value: str = Field(min_length=1, max_length=8192, repr=False)


@routes.get(SECRETS_URL)
async def list_secrets(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.MEMBER)
    docs = await request.app[CONFIG].secrets(entity)
    return web.json_response({"secrets": [secret_view(d) for d in docs]})


@routes.put(SECRETS_URL + "/{secret}")
async def put_secret(request: web.Request) -> web.Response:
    entity = entity_param(request)
    caller = require_role(request, entity, Role.ADMIN)
    name = path_param(request, "secret", check_secret_name)
    body = await read_json(request, SecretValue)
    now = utcnow()
    doc = {
        "_id": secret_id(entity, name),
        "entity": entity,
        "name": name,
        "ciphertext": encrypt(request, body.value),
        "hint": secret_hint(body.value),
        "created_by": caller.user,
        "created_at": now,
        "updated_at": now,
    }
    created = await request.app[CONFIG].put_secret(doc)
    request.app[CACHE].invalidate(entity)
    return web.json_response(secret_view(doc), status=201 if created else 200)


@routes.delete(SECRETS_URL + "/{secret}")
async def delete_secret(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.ADMIN)
    name = path_param(request, "secret", check_secret_name)
    users = await _users_of(request, entity, name)
    if users:
        raise conflict(f"secret {name!r} is in use: {', '.join(users)}", used_by=users)
    if not await request.app[CONFIG].delete_secret(entity, name):
        raise not_found(f"secret {name!r} not found")
    request.app[CACHE].invalidate(entity)
    return web.Response(status=204)


async def _users_of(request: web.Request, entity: str, name: str) -> list[str]:
    config = request.app[CONFIG]
    found = [
        f"automation {a.name!r}"
        for a in await config.automations([entity])
        if a.payload is not None and name in references(a.payload).secrets
    ]
    found += [
        f"integration {i.name!r}"
        for i in await config.integrations(entity)
        if any(name in references(value, secrets_only=True).secrets for _, value in i.headers)
    ]
    return found
