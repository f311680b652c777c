"""Deliveries: payload bodies, document round trips, redelivery rounds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cairn_automations.domain.deliveries import Delivery, Status, delivery_id
from cairn_automations.domain.templates import MissingSecretError
from cairn_shared.events.envelope import Cause, Envelope
from cairn_shared.events.registry import ModelAliasAdded

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ENVELOPE = Envelope.wrap(
    ModelAliasAdded.example(),
    id="evt-1",
    source="/test",
    subject="team/model/x",
    cause=Cause(actor="alice"),
    entity="team",
)


def delivery(template: object | None = None) -> Delivery:
    return Delivery(
        id=delivery_id("evt-1", "auto-1"),
        entity="team",
        automation_id="auto-1",
        automation_name="notify",
        integration_id="int-1",
        event_id="evt-1",
        event_type="model.alias.added",
        subject="team/model/x",
        source="cairn.registry/2",
        event_json=ENVELOPE.model_dump_json(),
        template_json=None if template is None else json.dumps(template),
        variables={"alias": "production", "artifact_metadata": {"a.b": 1}},
        schedule=(0, 5, 300),
        created_at=NOW,
        next_attempt_at=NOW,
        updated_at=NOW,
    )


def test_the_id_derives_from_the_event_and_the_automation() -> None:
    assert delivery_id("evt-1", "auto-1") == delivery_id("evt-1", "auto-1")
    assert delivery_id("evt-1", "auto-1") != delivery_id("evt-1", "auto-2")
    assert delivery_id("evt-1", "auto-1") != delivery_id("evt-2", "auto-1")


def test_the_default_payload_is_the_cloudevent_itself() -> None:
    d = delivery()

    assert json.loads(d.body({}))["id"] == "evt-1"
    assert json.loads(d.body({}))["type"] == "model.alias.added"
    assert d.content_type == "application/cloudevents+json"


def test_a_template_is_rendered_with_secrets_at_each_attempt() -> None:
    d = delivery({"alias": "${alias}", "token": "${TOKEN}", "m": "${artifact_metadata.a.b}"})

    assert json.loads(d.body({"TOKEN": "t0k"})) == {"alias": "production", "token": "t0k", "m": 1}
    assert d.content_type == "application/json"
    try:
        d.body({})
    except MissingSecretError:
        pass
    else:
        raise AssertionError("a missing secret must fail the attempt")


def test_secrets_are_never_part_of_the_stored_document() -> None:
    d = delivery({"token": "${TOKEN}"})
    doc = d.to_document()

    assert "t0k" not in json.dumps(doc, default=str)
    # Metadata keys with dots stay data, never field names.
    assert isinstance(doc["variables_json"], str)
    assert Delivery.from_document(doc) == d


def test_a_redelivery_is_a_new_round_with_the_same_id() -> None:
    dead = Delivery.from_document(
        {**delivery().to_document(), "status": "dead", "attempts": 3, "dead_reason": "all failed"}
    )
    later = NOW + timedelta(days=1)

    again = dead.redelivered(now=later, schedule=[0, 1])

    assert again.id == dead.id
    assert again.status is Status.PENDING
    assert (again.round, again.round_base, again.attempts_in_round) == (1, 3, 0)
    assert again.schedule == (0, 1)
    assert again.next_attempt_at == later
    assert again.dead_reason == ""
