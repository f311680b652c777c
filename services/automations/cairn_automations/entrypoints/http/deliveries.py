"""The delivery log: deliveries with their attempts, and redelivery.

A redelivery is a request that the delivery's owner (the member that owns its partition)
applies, so the delivery keeps one writer; it starts a new round of the retry schedule with the
same ``webhook-id``.
"""

from __future__ import annotations

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import bad_request, conflict, not_found
from cairn_shared.http.requests import entity_param
from cairn_shared.ids import new_id

from cairn_automations.domain.deliveries import Delivery, Status
from cairn_automations.entrypoints.http.app_keys import CONFIG, DELIVERIES, SCHEDULER
from cairn_automations.entrypoints.http.common import (
    ENTITY_URL,
    decode_cursor,
    encode_cursor,
    page_limit,
    utcnow,
)
from cairn_automations.entrypoints.http.views import attempt_view, delivery_view

routes = web.RouteTableDef()
DELIVERIES_URL = ENTITY_URL + "/deliveries"
STATUSES = frozenset(s.value for s in Status)


@routes.get(DELIVERIES_URL)
async def list_deliveries(request: web.Request) -> web.Response:
    """Newest first: ``?automation=`` (id or name), ``?status=``, ``?limit=``, ``?after=``."""
    entity = entity_param(request)
    require_role(request, entity, Role.MEMBER)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise bad_request(f"status must be one of {', '.join(sorted(STATUSES))}")
    automation_id = None
    ref = request.query.get("automation")
    if ref is not None:
        automation = await request.app[CONFIG].automation(entity, ref)
        if automation is None:
            raise not_found(f"automation {ref!r} not found in {entity!r}")
        automation_id = automation.id
    limit = page_limit(request)
    page = await request.app[DELIVERIES].page(
        entity,
        automation_id=automation_id,
        status=status,
        limit=limit,
        before=decode_cursor(request.query.get("after")),
    )
    last = page[-1] if len(page) == limit else None
    return web.json_response(
        {
            "deliveries": [delivery_view(d) for d in page],
            "next": None if last is None else encode_cursor(last.created_at, last.id),
        }
    )


@routes.get(DELIVERIES_URL + "/{delivery}")
async def get_delivery(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.MEMBER)
    delivery = await _find(request, entity)
    attempts = await request.app[DELIVERIES].attempts(delivery.id)
    view = delivery_view(delivery) | {"attempt_log": [attempt_view(a) for a in attempts]}
    return web.json_response(view)


@routes.post(DELIVERIES_URL + "/{delivery}/redeliver")
async def redeliver(request: web.Request) -> web.Response:
    entity = entity_param(request)
    caller = require_role(request, entity, Role.MEMBER)
    delivery = await _find(request, entity)
    if delivery.status is Status.PENDING:
        raise conflict("the delivery is still pending: it will be attempted on its schedule")
    request_id = new_id()
    await request.app[DELIVERIES].request_redelivery(
        {
            "_id": request_id,
            "delivery_id": delivery.id,
            "source": delivery.source,
            "entity": entity,
            "requested_by": caller.user,
            "requested_at": utcnow(),
        }
    )
    request.app[SCHEDULER].poke()  # at once if this replica owns it, else at the owner's scan
    return web.json_response(
        {"request_id": request_id, "delivery_id": delivery.id, "webhook_id": delivery.id},
        status=202,
    )


async def _find(request: web.Request, entity: str) -> Delivery:
    delivery_id = request.match_info["delivery"]
    delivery = await request.app[DELIVERIES].get(delivery_id)
    if delivery is None or delivery.entity != entity:
        raise not_found(f"delivery {delivery_id!r} not found in {entity!r}")
    return delivery
