"""Webhook delivery on the real stack: an alias event becomes exactly one signed POST, retries
keep the webhook-id, the schedule survives a restart, dead letters can be redelivered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from cairn_shared.events.artifacts import ArtifactAliasAdded, ArtifactCommitted
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.mongo import Document
from pymongo import AsyncMongoClient
from standardwebhooks import Webhook

from tests.integration.test_automations_harness import (
    PRODUCTION_FILTER,
    Receiver,
    Service,
    alias_event,
    overrides,
    publisher,
    receiver,
    service,
    setup_webhook,
    wrap,
)

__all__ = ["overrides", "publisher", "receiver", "service"]  # fixtures


async def wait_until(check: Any, timeout_s: float = 30) -> Any:
    async with asyncio.timeout(timeout_s):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.1)


async def delivery_when(svc: Service, status: str) -> dict[str, Any]:
    """The entity's only delivery, with its attempt log, once it has ``status``."""

    async def check() -> dict[str, Any] | None:
        listed = await svc.ok("GET", svc.url(f"deliveries?status={status}"))
        if not listed["deliveries"]:
            return None
        one = listed["deliveries"][0]["id"]
        found: dict[str, Any] = await svc.ok("GET", svc.url(f"deliveries/{one}"))
        return found

    found: dict[str, Any] = await wait_until(check)
    return found


async def test_an_alias_move_sends_one_signed_post_and_other_aliases_nothing(
    service: Service, receiver: Receiver, publisher: KafkaEventPublisher
) -> None:
    secret = await setup_webhook(service, receiver, event=PRODUCTION_FILTER)
    entity = service.owner.name

    staging = alias_event(entity, "staging")
    production = alias_event(entity, "production")
    await publisher.publish(staging, key=staging.subject)
    await publisher.publish(production, key=production.subject)

    [got] = await receiver.wait_for(1)
    await asyncio.sleep(1.0)  # time for a wrong second delivery to show up
    assert len(receiver.received) == 1
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["id"] == production.id  # the default payload is the CloudEvent itself
    assert payload["data"]["alias"] == "production"
    assert got.headers["Content-Type"] == "application/cloudevents+json"
    delivery = await delivery_when(service, "delivered")
    assert delivery["webhook_id"] == got.headers["webhook-id"]
    assert [a["status"] for a in delivery["attempt_log"]] == [200]
    assert delivery["attempt_log"][0]["response_excerpt"] == "answered 200"


@pytest.mark.parametrize(
    "case",
    [
        (200, 0.0, "delivered", False),  # answered at once: stored once, as delivered
        (503, 0.0, "pending", True),  # answered at once, to be retried: stored with its entry
        (200, 0.3, "delivered", False),  # answered late: stored pending first, then updated
    ],
)
async def test_a_first_attempt_is_stored_with_its_delivery_as_it_ended(
    service: Service,
    receiver: Receiver,
    publisher: KafkaEventPublisher,
    mongo: AsyncMongoClient[Document],
    case: tuple[int, float, str, bool],
) -> None:
    answer, delay_s, status, scheduled = case
    await setup_webhook(service, receiver, event=PRODUCTION_FILTER)
    receiver.script, receiver.delay_s = [answer], delay_s
    receiver.then = 503  # a retry must not end the pending case before it is looked at
    event = alias_event(service.owner.name)

    await publisher.publish(event, key=event.subject)

    delivery = await delivery_when(service, status)
    assert [(a["n"], a["status"]) for a in delivery["attempt_log"]][:1] == [(1, answer)]
    db = mongo[service.settings.database_name]
    entry = await db["schedule"].find_one({"_id": delivery["id"]})
    assert (entry is not None) == scheduled


async def test_a_redelivered_event_is_not_sent_twice(
    service: Service, receiver: Receiver, publisher: KafkaEventPublisher
) -> None:
    await setup_webhook(service, receiver, event=PRODUCTION_FILTER)
    event = alias_event(service.owner.name)

    await publisher.publish_many([(event, event.subject), (event, event.subject)])

    await receiver.wait_for(1)
    await asyncio.sleep(1.0)
    assert len(receiver.received) == 1


async def test_an_event_redelivered_after_its_delivery_ended_is_not_sent_again(
    service: Service, receiver: Receiver, publisher: KafkaEventPublisher
) -> None:
    await setup_webhook(service, receiver, event=PRODUCTION_FILTER)
    event = alias_event(service.owner.name)
    await publisher.publish(event, key=event.subject)
    await delivery_when(service, "delivered")

    await publisher.publish(event, key=event.subject)

    await asyncio.sleep(1.5)
    assert len(receiver.received) == 1
    delivery = await delivery_when(service, "delivered")
    assert [a["n"] for a in delivery["attempt_log"]] == [1]


async def test_a_failing_receiver_gets_retries_with_the_same_webhook_id(
    service: Service, receiver: Receiver, publisher: KafkaEventPublisher
) -> None:
    secret = await setup_webhook(service, receiver, event=PRODUCTION_FILTER)
    receiver.script = [500, 503, 429]
    event = alias_event(service.owner.name)

    await publisher.publish(event, key=event.subject)

    received = await receiver.wait_for(4)
    assert len({r.headers["webhook-id"] for r in received}) == 1
    for request in received:  # each attempt is signed afresh
        Webhook(secret).verify(request.body, request.headers)
    delivery = await delivery_when(service, "delivered")
    log = delivery["attempt_log"]
    assert [a["n"] for a in log] == [1, 2, 3, 4]
    assert [a["status"] for a in log] == [500, 503, 429, 200]
    assert [a["verdict"] for a in log] == ["retry", "retry", "retry", "delivered"]
    assert all(a["latency_ms"] is not None for a in log)
    assert delivery["attempts"] == 4


@pytest.mark.parametrize("overrides", [{"webhook_retry_schedule_s": [0, 2, 2, 2, 2]}])
async def test_pending_retries_resume_after_a_restart(
    service: Service, receiver: Receiver, publisher: KafkaEventPublisher
) -> None:
    await setup_webhook(service, receiver, event=PRODUCTION_FILTER)
    receiver.script = [500, 500, 500]
    event = alias_event(service.owner.name)
    await publisher.publish(event, key=event.subject)
    await receiver.wait_for(1)
    await asyncio.sleep(0.3)  # the first attempt is logged

    await service.stop()  # between attempts: the next one is 2 s away
    assert len(receiver.received) == 1
    await service.start()

    received = await receiver.wait_for(4, timeout_s=60)
    assert len({r.headers["webhook-id"] for r in received}) == 1
    delivery = await delivery_when(service, "delivered")
    assert [a["status"] for a in delivery["attempt_log"]] == [500, 500, 500, 200]


@pytest.mark.parametrize("overrides", [{"webhook_retry_schedule_s": [0, 0.1]}])
async def test_a_dead_delivery_is_redelivered_with_the_same_webhook_id(
    service: Service, receiver: Receiver, publisher: KafkaEventPublisher
) -> None:
    await setup_webhook(service, receiver, event=PRODUCTION_FILTER)
    receiver.script = [500, 500]
    event = alias_event(service.owner.name)
    await publisher.publish(event, key=event.subject)

    dead = await delivery_when(service, "dead")
    assert dead["dead_reason"] == "all 2 attempts failed"
    status, _ = await service.call("POST", service.url(f"deliveries/{dead['id']}/redeliver"), {})
    assert status == 202

    received = await receiver.wait_for(3)
    assert received[2].headers["webhook-id"] == dead["webhook_id"]
    delivered = await delivery_when(service, "delivered")
    assert [(a["round"], a["status"]) for a in delivered["attempt_log"]] == [
        (0, 500),
        (0, 500),
        (1, 200),
    ]
    again, _ = await service.call("POST", service.url(f"deliveries/{dead['id']}/redeliver"), {})
    assert again == 202  # a delivered one may be sent again too


async def test_410_disables_the_integration(
    service: Service, receiver: Receiver, publisher: KafkaEventPublisher
) -> None:
    await setup_webhook(service, receiver, event=PRODUCTION_FILTER)
    receiver.script = [410]
    first, second = alias_event(service.owner.name), alias_event(service.owner.name)

    await publisher.publish(first, key=first.subject)
    dead = await delivery_when(service, "dead")
    assert dead["dead_reason"] == "the receiver answered 410 Gone"
    integration = await service.ok("GET", service.url("integrations/notify-hook"))
    assert integration["active"] is False
    assert "410" in integration["disabled_reason"]

    await publisher.publish(second, key=second.subject)
    await asyncio.sleep(1.5)
    assert len(receiver.received) == 1  # nothing more goes to a disabled integration
    listed = await service.ok("GET", service.url("deliveries?status=dead"))
    reasons = sorted(d["dead_reason"] for d in listed["deliveries"])
    assert reasons == ["integration_disabled", "the receiver answered 410 Gone"]

    enabled = await service.ok("PATCH", service.url("integrations/notify-hook"), {"enabled": True})
    assert enabled["active"] is True


async def test_a_template_renders_event_variables_metadata_and_secrets(
    service: Service, receiver: Receiver, publisher: KafkaEventPublisher
) -> None:
    entity = service.owner.name
    await service.ok("PUT", service.url("secrets/API_TOKEN"), {"value": "t0ken-value"}, 201)
    await service.ok("PUT", service.url("secrets/ROUTING"), {"value": "route-42"}, 201)
    payload = {
        "event": "${event_type}",
        "version": "${artifact_version_string}",
        "who": "${event_author}",
        "alias": "${alias}",
        "rows": "${artifact_metadata.rows}",
        "routing": "${ROUTING}",
    }
    event = {"types": ["artifact.alias.added"], "scope": {"type": "project", "project": "proj"}}
    secret = await setup_webhook(
        service,
        receiver,
        event=event,
        payload=payload,
        headers={"Authorization": "Bearer ${API_TOKEN}"},
    )
    key = f"{entity}/proj/mnist"
    committed = ArtifactCommitted.example().model_copy(update={"sequence": key, "aliases": []})
    alias = ArtifactAliasAdded.example().model_copy(update={"sequence": key})
    await publisher.publish_many(
        [(wrap(committed, entity, key=key), key), (wrap(alias, entity, key=key), key)]
    )

    [got] = await receiver.wait_for(1)
    assert got.headers["Authorization"] == "Bearer t0ken-value"
    assert got.headers["Content-Type"] == "application/json"
    assert Webhook(secret).verify(got.body, got.headers) == {
        "event": "artifact.alias.added",
        "version": f"{entity}/proj/mnist:v3",
        "who": entity,
        "alias": "production",
        "rows": 60000,
        "routing": "route-42",
    }
    delivery = await delivery_when(service, "delivered")
    assert delivery["payload"]["routing"] == "********"  # the API never shows a secret
    assert "t0ken-value" not in json.dumps(delivery)


async def test_the_delivery_log_pages_newest_first(
    service: Service, receiver: Receiver, publisher: KafkaEventPublisher
) -> None:
    await setup_webhook(service, receiver, event=PRODUCTION_FILTER)
    events = [alias_event(service.owner.name) for _ in range(3)]
    await publisher.publish_many([(e, e.subject) for e in events])
    await receiver.wait_for(3)

    async def all_stored() -> bool:
        listed = await service.ok("GET", service.url("deliveries?status=delivered"))
        return len(listed["deliveries"]) == 3

    await wait_until(all_stored)
    first = await service.ok("GET", service.url("deliveries?limit=2&automation=notify"))
    second = await service.ok("GET", service.url(f"deliveries?limit=2&after={first['next']}"))

    pages = [d["event"]["id"] for d in first["deliveries"] + second["deliveries"]]
    assert sorted(pages) == sorted(e.id for e in events)
    assert second["next"] is None
    bad, _ = await service.call("GET", service.url("deliveries?after=garbage!"))
    assert bad == 400
