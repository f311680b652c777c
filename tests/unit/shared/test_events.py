from __future__ import annotations

from typing import Any, ClassVar, Self

import pytest
from cairn_shared.events.envelope import Cause, Envelope, EventData
from cairn_shared.events.runs import RunStarted
from cairn_shared.events.schema_registry import SCHEMAS, SchemaRegistry, UnknownEventError
from cairn_shared.events.topics import Topic, topic_for, topic_name


def wrap(data: EventData, **overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "id": "e-1",
        "source": "/test",
        "subject": "team/proj/run1",
        "cause": Cause(actor="alice", requestid="r-1"),
        "entity": "team",
        "project": "proj",
    }
    fields.update(overrides)
    return Envelope.wrap(data, **fields)


def test_envelope_carries_cloudevents_attributes_and_extensions() -> None:
    envelope = wrap(RunStarted.example())

    raw = envelope.model_dump(mode="json")

    assert raw["specversion"] == "1.0"
    assert raw["type"] == "run.started"
    assert raw["dataschema"] == "urn:cairn:event:run.started:v1"
    assert (raw["actor"], raw["entity"], raw["project"], raw["requestid"]) == (
        "alice",
        "team",
        "proj",
        "r-1",
    )
    assert raw["time"].endswith("Z")


def test_envelope_round_trips_and_ignores_unknown_fields() -> None:
    envelope = wrap(RunStarted.example())
    raw = envelope.to_bytes().replace(b'"specversion"', b'"futurefield":1,"specversion"')

    decoded = Envelope.from_bytes(raw)

    assert decoded == envelope
    assert SCHEMAS.decode(decoded) == RunStarted.example()


def test_every_registered_schema_has_a_valid_example() -> None:
    for event_type in SCHEMAS.types():
        schema = SCHEMAS.schema(event_type)
        example = schema.example()
        assert SCHEMAS.decode(wrap(example)) == example
        assert topic_for(event_type) in Topic


class GreetedV2(EventData):
    type: ClassVar[str] = "run.greeted"
    schema_version: ClassVar[int] = 2
    full_name: str

    @classmethod
    def example(cls) -> Self:
        return cls(full_name="Ada Lovelace")


def test_old_versions_are_upcast_to_the_latest_schema() -> None:
    registry = SchemaRegistry([GreetedV2])
    registry.register_upcaster(
        "run.greeted", 1, lambda d: {"full_name": f"{d['first']} {d['last']}"}
    )
    old = Envelope(
        id="e",
        source="/t",
        type="run.greeted",
        subject="s",
        actor="a",
        entity="e",
        dataschema="urn:cairn:event:run.greeted:v1",
        data={"first": "Ada", "last": "Lovelace"},
    )

    assert registry.decode(old) == GreetedV2.example()


def test_unknown_event_types_are_reported() -> None:
    envelope = Envelope(
        id="e",
        source="/t",
        type="nothing.happened",
        subject="s",
        actor="a",
        entity="e",
        dataschema="urn:cairn:event:nothing.happened:v1",
        data={},
    )
    with pytest.raises(UnknownEventError):
        SCHEMAS.decode(envelope)


def test_registering_an_older_version_twice_is_refused() -> None:
    registry = SchemaRegistry([GreetedV2])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(GreetedV2)


@pytest.mark.parametrize(
    ("event_type", "topic"),
    [
        ("run.started", Topic.RUNS),
        ("run.history", Topic.RUN_HISTORY),
        ("artifact.logged", Topic.ARTIFACTS),
        ("model.alias.added", Topic.REGISTRY),
        ("blob.stored", Topic.BLOBS),
    ],
)
def test_each_event_type_has_one_topic(event_type: str, topic: Topic) -> None:
    assert topic_for(event_type) is topic


def test_topic_prefix_keeps_tests_apart() -> None:
    assert topic_name(Topic.RUNS, "t42.") == "t42.cairn.runs"
    with pytest.raises(ValueError, match="no topic"):
        topic_for("weather.changed")
