"""The "test" calls: send an example payload, signed as a real delivery, and show the answer.

Nothing is stored. The request is shown with every secret masked.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import bad_request
from cairn_shared.http.requests import entity_param, read_json
from cairn_shared.ids import new_id
from pydantic import BaseModel, ConfigDict, JsonValue

from cairn_automations.adapters.secret_box import SecretUnreadableError
from cairn_automations.delivery.requests import (
    EntitySecrets,
    MaskedSecrets,
    prepare_request,
    shown_headers,
)
from cairn_automations.domain.deliveries import (
    CLOUDEVENT_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    dumps,
)
from cairn_automations.domain.examples import example_event
from cairn_automations.domain.model import EventType, Scope
from cairn_automations.domain.records import Integration
from cairn_automations.domain.templates import MissingSecretError, TemplateError, references, render
from cairn_automations.domain.triggers import trigger_of, variables
from cairn_automations.entrypoints.http.app_keys import BOX, CACHE, SENDER
from cairn_automations.entrypoints.http.automations import AUTOMATIONS_URL, find_automation
from cairn_automations.entrypoints.http.common import utcnow
from cairn_automations.entrypoints.http.integrations import INTEGRATIONS_URL, find_integration

routes = web.RouteTableDef()


class TestCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: EventType | None = None
    payload: JsonValue | None = None  # integrations only: a template to try


@routes.post(AUTOMATIONS_URL + "/{name}/test")
async def test_automation(request: web.Request) -> web.Response:
    entity = entity_param(request)
    caller = require_role(request, entity, Role.MEMBER)
    automation = await find_automation(request, entity)
    body = await _optional_body(request)
    if body.payload is not None:
        raise bad_request("payload: an automation is tested with its own payload template")
    config = await request.app[CACHE].get(entity)
    integration = config.integrations.get(automation.integration_id)
    if integration is None:
        raise bad_request("the automation's integration was deleted")
    event_type = body.event_type or automation.event.types[0]
    result = await _call(
        request,
        integration,
        template=automation.payload,
        event_type=event_type,
        scope=automation.event.scope,
        actor=caller.user,
    )
    return web.json_response(result)


@routes.post(INTEGRATIONS_URL + "/{name}/test")
async def test_integration(request: web.Request) -> web.Response:
    entity = entity_param(request)
    caller = require_role(request, entity, Role.MEMBER)
    integration = await find_integration(request, entity)
    body = await _optional_body(request)
    if body.payload is not None:
        try:
            references(body.payload)
        except TemplateError as exc:
            raise bad_request(f"payload: {exc}") from None
    event_type = body.event_type or "model.alias.added"
    result = await _call(
        request,
        integration,
        template=body.payload,
        event_type=event_type,
        scope=None,
        actor=caller.user,
    )
    return web.json_response(result)


async def _optional_body(request: web.Request) -> TestCall:
    if not request.can_read_body:
        return TestCall()
    return await read_json(request, TestCall)


async def _call(
    request: web.Request,
    integration: Integration,
    *,
    template: JsonValue | None,
    event_type: str,
    scope: Scope | None,
    actor: str,
) -> dict[str, Any]:
    msg_id = f"test-{new_id()}"
    envelope, data = example_event(
        event_type, entity=integration.entity, actor=actor, event_id=new_id(), scope=scope
    )
    trigger = trigger_of(envelope, data)
    values = {} if trigger is None else variables(trigger, envelope, trigger.metadata or {})
    config = await request.app[CACHE].get(integration.entity)
    secrets = EntitySecrets(config.secrets, request.app[BOX])
    if template is None:
        body, shown, content_type = envelope.model_dump_json(), None, CLOUDEVENT_CONTENT_TYPE
    else:
        content_type = JSON_CONTENT_TYPE
        try:
            body = dumps(render(template, values, secrets))
        except (MissingSecretError, SecretUnreadableError) as exc:
            return {"ok": False, "error": f"not sent: {exc}", "request": None, "response": None}
        shown = render(template, values, MaskedSecrets())
    try:
        prepared = prepare_request(
            integration,
            msg_id=msg_id,
            body=body,
            content_type=content_type,
            now=utcnow(),
            secrets=secrets,
            box=request.app[BOX],
        )
    except (MissingSecretError, SecretUnreadableError, ValueError) as exc:
        return {"ok": False, "error": f"not sent: {exc}", "request": None, "response": None}
    response = await request.app[SENDER].send(
        prepared.url, prepared.headers, prepared.body.encode()
    )
    ok = response.status is not None and 200 <= response.status < 300
    return {
        "ok": ok,
        "error": response.error or None,
        "request": {
            "url": prepared.url,
            "webhook_id": msg_id,
            "headers": shown_headers(integration, prepared.headers),
            "body": json.loads(body) if shown is None else shown,
        },
        "response": None
        if response.status is None
        else {
            "status": response.status,
            "latency_ms": response.latency_ms,
            "headers": dict(response.headers),
            "body": response.excerpt,
        },
    }
