"""Webhook integrations: a URL, signing secrets and extra headers, named per entity.

Admins write them (they hold secrets); anyone who may see the entity lists them. The signing
secret is shown once, in the answer that creates or rotates it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import bad_request, conflict, not_found
from cairn_shared.http.requests import entity_param, read_json
from cairn_shared.ids import new_id
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cairn_automations.domain.model import check_object_name
from cairn_automations.domain.records import (
    MAX_HEADERS,
    Integration,
    SigningSecret,
    check_header,
)
from cairn_automations.domain.signing import check_signing_secret, generate_secret, secret_hint
from cairn_automations.domain.templates import TemplateError, references
from cairn_automations.entrypoints.http.app_keys import CACHE, CONFIG
from cairn_automations.entrypoints.http.common import (
    ENTITY_URL,
    check_replaced,
    check_target,
    encrypt,
    name_param,
    utcnow,
)
from cairn_automations.entrypoints.http.views import integration_view

routes = web.RouteTableDef()
INTEGRATIONS_URL = ENTITY_URL + "/integrations"
MAX_SIGNING_SECRETS = 5


def _check_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    if headers is None:
        return None
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} headers")
    for name, value in headers.items():
        check_header(name, value)
        try:
            references(value, secrets_only=True)
        except TemplateError as exc:
            raise ValueError(f"header {name!r}: {exc}") from None
    return headers


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: str
    url: str = Field(max_length=2048)
    secret: str | None = Field(default=None, repr=False)  # whsec_...; generated when absent
    headers: dict[str, str] = Field(default_factory=dict)
    description: str = Field(default="", max_length=4096)
    enabled: bool = True

    _name = field_validator("name")(check_object_name)
    _secret = field_validator("secret")(lambda s: None if s is None else check_signing_secret(s))
    _headers = field_validator("headers")(_check_headers)


class IntegrationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2048)
    headers: dict[str, str] | None = None
    description: str | None = Field(default=None, max_length=4096)
    enabled: bool | None = None
    revision: int | None = None  # when given, the update applies only to that revision

    _headers = field_validator("headers")(_check_headers)


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    secret: str | None = Field(default=None, repr=False)
    # How long the previous secrets keep signing, so receivers can switch without a gap.
    previous_expire_in_s: float = Field(default=86400, ge=0, le=30 * 86400)

    _secret = field_validator("secret")(lambda s: None if s is None else check_signing_secret(s))


@routes.get(INTEGRATIONS_URL)
async def list_integrations(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    now = utcnow()
    found = await request.app[CONFIG].integrations(entity)
    return web.json_response({"integrations": [integration_view(i, now) for i in found]})


@routes.post(INTEGRATIONS_URL)
async def create_integration(request: web.Request) -> web.Response:
    entity = entity_param(request)
    caller = require_role(request, entity, Role.ADMIN)
    body = await read_json(request, IntegrationCreate)
    url = await check_target(request, body.url)
    secret = body.secret or generate_secret()
    now = utcnow()
    integration = Integration(
        id=new_id(),
        entity=entity,
        name=body.name,
        url=url,
        headers=tuple(body.headers.items()),
        signing_secrets=(_signing_secret(request, secret, now),),
        revision=1,
        created_by=caller.user,
        created_at=now,
        updated_at=now,
        enabled=body.enabled,
        description=body.description,
    )
    if not await request.app[CONFIG].insert_integration(integration):
        raise conflict(f"integration {body.name!r} exists in {entity!r}")
    request.app[CACHE].invalidate(entity)
    view = integration_view(integration, now) | {"signing_secret": secret}
    return web.json_response(view, status=201)


@routes.get(INTEGRATIONS_URL + "/{name}")
async def get_integration(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    integration = await find_integration(request, entity)
    return web.json_response(integration_view(integration, utcnow()))


@routes.patch(INTEGRATIONS_URL + "/{name}")
async def update_integration(request: web.Request) -> web.Response:
    """Any update is a new revision, which also re-enables an integration a 410 disabled."""
    entity = entity_param(request)
    require_role(request, entity, Role.ADMIN)
    current = await find_integration(request, entity)
    body = await read_json(request, IntegrationPatch)
    if body.revision is not None and body.revision != current.revision:
        raise conflict(f"integration is at revision {current.revision}, not {body.revision}")
    url = current.url if body.url is None else await check_target(request, body.url)
    updated = replace(
        current,
        url=url,
        headers=current.headers if body.headers is None else tuple(body.headers.items()),
        description=current.description if body.description is None else body.description,
        enabled=current.enabled if body.enabled is None else body.enabled,
        revision=current.revision + 1,
        updated_at=utcnow(),
        disabled_reason="",
    )
    check_replaced(await request.app[CONFIG].replace_integration(updated), "integration")
    request.app[CACHE].invalidate(entity)
    return web.json_response(integration_view(updated, utcnow()))


@routes.post(INTEGRATIONS_URL + "/{name}/signing-secrets")
async def rotate_secret(request: web.Request) -> web.Response:
    """A new signing secret; the previous ones keep signing until they expire."""
    entity = entity_param(request)
    require_role(request, entity, Role.ADMIN)
    current = await find_integration(request, entity)
    body = await read_json(request, SecretRotation)
    now = utcnow()
    expires = now + timedelta(seconds=body.previous_expire_in_s)
    kept = [
        replace(s, expires_at=min(s.expires_at or expires, expires))
        for s in current.secrets_at(now)
        if body.previous_expire_in_s > 0
    ]
    if len(kept) >= MAX_SIGNING_SECRETS:
        raise bad_request(f"at most {MAX_SIGNING_SECRETS} signing secrets may be active at once")
    secret = body.secret or generate_secret()
    updated = replace(
        current,
        signing_secrets=(*kept, _signing_secret(request, secret, now)),
        revision=current.revision + 1,
        updated_at=now,
    )
    check_replaced(await request.app[CONFIG].replace_integration(updated), "integration")
    request.app[CACHE].invalidate(entity)
    return web.json_response(
        integration_view(updated, now) | {"signing_secret": secret}, status=201
    )


@routes.delete(INTEGRATIONS_URL + "/{name}")
async def delete_integration(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.ADMIN)
    integration = await find_integration(request, entity)
    users = await request.app[CONFIG].automations_using(integration.id)
    if users:
        raise conflict(
            f"integration {integration.name!r} is used by automations: {', '.join(users)}",
            automations=users,
        )
    await request.app[CONFIG].delete_integration(integration.id)
    request.app[CACHE].invalidate(entity)
    return web.Response(status=204)


async def find_integration(request: web.Request, entity: str) -> Integration:
    ref = name_param(request)
    integration = await request.app[CONFIG].integration(entity, ref)
    if integration is None:
        raise not_found(f"integration {ref!r} not found in {entity!r}")
    return integration


def _signing_secret(request: web.Request, secret: str, now: datetime) -> SigningSecret:
    return SigningSecret(
        id=new_id(), ciphertext=encrypt(request, secret), hint=secret_hint(secret), created_at=now
    )
