"""Automations: create, list, read, replace, update (enable and disable), delete.

Members of an entity write its automations; anyone who may see the entity reads them. Every
write is an insert or a whole-document replace guarded by the revision it read.
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import bad_request, conflict, not_found
from cairn_shared.http.keys import principal
from cairn_shared.http.requests import entity_param, read_json
from cairn_shared.ids import new_id
from cairn_shared.names import check_entity_name

from cairn_automations.domain.model import (
    AutomationPatch,
    AutomationReplace,
    AutomationSpec,
    WebhookAction,
    check_object_name,
)
from cairn_automations.domain.records import Automation, Integration
from cairn_automations.domain.templates import TemplateError, references
from cairn_automations.entrypoints.http.app_keys import CACHE, CONFIG
from cairn_automations.entrypoints.http.common import (
    ENTITY_URL,
    check_replaced,
    name_param,
    utcnow,
)
from cairn_automations.entrypoints.http.views import automation_view

routes = web.RouteTableDef()
AUTOMATIONS_URL = ENTITY_URL + "/automations"


@routes.get("/v1/automations")
async def search_automations(request: web.Request) -> web.Response:
    """Automations of every entity the caller may see (``api.automations()``), or of
    ``?entity=``; ``?name=`` narrows to one name (``api.automation(name=...)``)."""
    caller = principal(request)
    entity, name = request.query.get("entity"), request.query.get("name")
    if entity is not None:
        try:
            check_entity_name(entity)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        require_role(request, entity, Role.RESTRICTED_VIEWER)
        entities: list[str] | None = [entity]
    else:
        entities = None if caller.is_admin else sorted(caller.roles)
    if name is not None:
        try:
            check_object_name(name)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
    found = await request.app[CONFIG].automations(entities, name=name)
    return web.json_response({"automations": await _views(request, found)})


@routes.get(AUTOMATIONS_URL)
async def list_automations(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    found = await request.app[CONFIG].automations([entity])
    return web.json_response({"automations": await _views(request, found)})


@routes.post(AUTOMATIONS_URL)
async def create_automation(request: web.Request) -> web.Response:
    entity = entity_param(request)
    caller = require_role(request, entity, Role.MEMBER)
    spec = await read_json(request, AutomationSpec)
    integration = await _checked_action(request, entity, spec.action)
    now = utcnow()
    automation = Automation(
        id=new_id(),
        entity=entity,
        name=spec.name,
        description=spec.description,
        enabled=spec.enabled,
        event=spec.event,
        integration_id=integration.id,
        payload=spec.action.payload,
        revision=1,
        created_by=caller.user,
        created_at=now,
        updated_at=now,
    )
    if not await request.app[CONFIG].insert_automation(automation):
        raise conflict(f"automation {spec.name!r} exists in {entity!r}")
    request.app[CACHE].invalidate(entity)
    return web.json_response(
        automation_view(automation, {integration.id: integration.name}), status=201
    )


@routes.get(AUTOMATIONS_URL + "/{name}")
async def get_automation(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    automation = await find_automation(request, entity)
    return web.json_response((await _views(request, [automation]))[0])


@routes.put(AUTOMATIONS_URL + "/{name}")
async def replace_automation(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.MEMBER)
    current = await find_automation(request, entity)
    spec = await read_json(request, AutomationReplace)
    _check_revision(current, spec.revision)
    integration = await _checked_action(request, entity, spec.action)
    updated = replace(
        current,
        name=spec.name,
        description=spec.description,
        enabled=spec.enabled,
        event=spec.event,
        integration_id=integration.id,
        payload=spec.action.payload,
        revision=current.revision + 1,
        updated_at=utcnow(),
    )
    return await _store(request, updated, integration)


@routes.patch(AUTOMATIONS_URL + "/{name}")
async def update_automation(request: web.Request) -> web.Response:
    """A partial update, such as ``{"enabled": false}``; stored as a whole-document replace."""
    entity = entity_param(request)
    require_role(request, entity, Role.MEMBER)
    current = await find_automation(request, entity)
    patch = await read_json(request, AutomationPatch)
    _check_revision(current, patch.revision)
    if patch.action is not None:
        integration = await _checked_action(request, entity, patch.action)
    else:
        found = await request.app[CONFIG].integration(entity, current.integration_id)
        if found is None:
            raise conflict("the automation's integration was deleted: send a new action")
        integration = found
    updated = replace(
        current,
        name=current.name if patch.name is None else patch.name,
        description=current.description if patch.description is None else patch.description,
        enabled=current.enabled if patch.enabled is None else patch.enabled,
        event=current.event if patch.event is None else patch.event,
        integration_id=integration.id,
        payload=current.payload if patch.action is None else patch.action.payload,
        revision=current.revision + 1,
        updated_at=utcnow(),
    )
    return await _store(request, updated, integration)


@routes.delete(AUTOMATIONS_URL + "/{name}")
async def delete_automation(request: web.Request) -> web.Response:
    """Pending deliveries of a deleted automation stop at their next attempt."""
    entity = entity_param(request)
    require_role(request, entity, Role.MEMBER)
    automation = await find_automation(request, entity)
    await request.app[CONFIG].delete_automation(automation.id)
    request.app[CACHE].invalidate(entity)
    return web.Response(status=204)


async def find_automation(request: web.Request, entity: str) -> Automation:
    ref = name_param(request)
    automation = await request.app[CONFIG].automation(entity, ref)
    if automation is None:
        raise not_found(f"automation {ref!r} not found in {entity!r}")
    return automation


def _check_revision(current: Automation, revision: int | None) -> None:
    if revision is not None and revision != current.revision:
        raise conflict(f"automation is at revision {current.revision}, not {revision}")


async def _store(
    request: web.Request, updated: Automation, integration: Integration
) -> web.Response:
    check_replaced(await request.app[CONFIG].replace_automation(updated), "automation")
    request.app[CACHE].invalidate(updated.entity)
    return web.json_response(automation_view(updated, {integration.id: integration.name}))


async def _checked_action(request: web.Request, entity: str, action: WebhookAction) -> Integration:
    """The action's integration; the payload's variables and secrets must all exist."""
    config = request.app[CONFIG]
    integration = await config.integration(entity, action.integration)
    if integration is None:
        raise bad_request(
            f"no webhook integration {action.integration!r} in {entity!r}: create it first",
            field="action.integration",
        )
    if action.payload is not None:
        try:
            refs = references(action.payload)
        except TemplateError as exc:
            raise bad_request(f"action.payload: {exc}", field="action.payload") from None
        stored = {doc["name"] for doc in await config.secrets(entity)}
        missing = sorted(refs.secrets - stored)
        if missing:
            raise bad_request(
                f"action.payload uses secrets that {entity!r} does not have: " + ", ".join(missing),
                field="action.payload",
                missing=missing,
            )
    return integration


async def _views(request: web.Request, automations: list[Automation]) -> list[dict[str, object]]:
    config = request.app[CONFIG]
    names: dict[str, str] = {}
    for entity in sorted({a.entity for a in automations}):
        names |= {i.id: i.name for i in await config.integrations(entity)}
    return [automation_view(a, names) for a in automations]
