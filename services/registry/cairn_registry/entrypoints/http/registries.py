"""Registries: list and read (restricted viewer), create and change settings (admin)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import ApiError, bad_request, conflict
from cairn_shared.http.requests import entity_param, read_json
from cairn_shared.registry_paths import check_registry_name
from pydantic import BaseModel, ConfigDict

from cairn_registry.domain.registries import (
    DEFAULT_PROTECTED,
    RegistrySettings,
    check_description,
    check_patterns,
    check_protected,
)
from cairn_registry.entrypoints.http.app_keys import REGISTRIES
from cairn_registry.entrypoints.http.common import (
    ENTITY_URL,
    REGISTRY_URL,
    registry_or_404,
    registry_param,
)
from cairn_registry.entrypoints.http.views import registry_view

routes = web.RouteTableDef()
# Two admins changing one registry at once: the loser re-reads and re-applies its change.
SAVE_ATTEMPTS = 5


class NewRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    artifact_types: list[str]
    description: str = ""
    protected_aliases: list[str] = list(DEFAULT_PROTECTED)


class RegistryChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    protected_aliases: list[str] | None = None
    artifact_types: list[str] | None = None


@routes.get(ENTITY_URL + "/registries")
async def list_registries(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    registries = await request.app[REGISTRIES].all(entity)
    return web.json_response({"registries": [registry_view(r) for r in registries]})


@routes.post(ENTITY_URL + "/registries")
async def create_registry(request: web.Request) -> web.Response:
    entity = entity_param(request)
    caller = require_role(request, entity, Role.ADMIN)
    body = await read_json(request, NewRegistry)
    try:
        now = datetime.now(UTC)
        settings = RegistrySettings(
            entity=entity,
            name=check_registry_name(body.name),
            artifact_types=check_patterns(body.artifact_types),
            protected_aliases=check_protected(body.protected_aliases),
            description=check_description(body.description),
            created_at=now,
            created_by=caller.user,
            updated_at=now,
            updated_by=caller.user,
        )
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    store = request.app[REGISTRIES]
    # get() first: it creates a default registry (model, dataset) that was never used yet.
    if await store.get(entity, settings.name) is not None or not await store.save(settings):
        raise conflict(f"entity {entity!r} already has a registry {settings.name!r}")
    return web.json_response(registry_view(settings), status=201)


@routes.get(REGISTRY_URL)
async def get_registry(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    name = registry_param(request)
    return web.json_response(registry_view(await registry_or_404(request, entity, name)))


@routes.patch(REGISTRY_URL)
async def change_registry(request: web.Request) -> web.Response:
    entity = entity_param(request)
    caller = require_role(request, entity, Role.ADMIN)
    body = await read_json(request, RegistryChange)
    try:
        description = None if body.description is None else check_description(body.description)
        types = None if body.artifact_types is None else check_patterns(body.artifact_types)
        protected = (
            None if body.protected_aliases is None else check_protected(body.protected_aliases)
        )
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    name = registry_param(request)
    store = request.app[REGISTRIES]
    for _ in range(SAVE_ATTEMPTS):
        current = await registry_or_404(request, entity, name)
        changed = current.patched(
            description=description,
            artifact_types=types,
            protected_aliases=protected,
            at=datetime.now(UTC),
            by=caller.user,
        )
        if await store.save(changed):
            return web.json_response(registry_view(changed))
    raise ApiError(409, "conflict", "the registry keeps changing; try again")
