"""Triggers of the consumed events, and matching them against event filters."""

from __future__ import annotations

from typing import Any

import pytest
from cairn_automations.domain.matching import matches
from cairn_automations.domain.model import EventFilter
from cairn_automations.domain.triggers import Trigger, trigger_of, variables
from cairn_shared.events.artifacts import (
    ArtifactAliasAdded,
    ArtifactAliasRemoved,
    ArtifactCommitted,
    ArtifactUsed,
)
from cairn_shared.events.envelope import Cause, Envelope, EventData
from cairn_shared.events.registry import ModelAliasAdded, ModelAliasRemoved, ModelLinked


def envelope(data: EventData, entity: str = "team") -> Envelope:
    return Envelope.wrap(
        data, id="evt-1", source="/test", subject="s", cause=Cause(actor="alice"), entity=entity
    )


def trigger(data: EventData) -> Trigger:
    found = trigger_of(envelope(data), data)
    assert found is not None
    return found


def event_filter(**fields: Any) -> EventFilter:
    return EventFilter.model_validate(fields)


MODEL_ALIAS = ModelAliasAdded.example()  # team/model/Quickstart Model Registry, production
ARTIFACT_ALIAS = ArtifactAliasAdded.example()  # team/proj/mnist, production


def test_an_artifact_alias_event_becomes_a_trigger() -> None:
    t = trigger(ARTIFACT_ALIAS)

    assert (t.entity, t.project, t.collection, t.registry) == ("team", "proj", "mnist", None)
    assert (t.alias, t.aliases, t.version_index) == ("production", ("production",), 3)
    assert t.version_string == "team/proj/mnist:v3"
    assert t.version_key == "team/proj/mnist:3"


def test_a_registry_event_names_the_registry_project_and_the_source_version() -> None:
    t = trigger(MODEL_ALIAS)

    assert t.project_name == "model-registry"
    assert t.version_string == "team/model-registry/Quickstart Model Registry:v1"
    assert t.version_key == "team/Models_Quickstart/model_3f2a9c1d:4"
    assert t.source_version == "team/Models_Quickstart/model_3f2a9c1d:v4"
    other = MODEL_ALIAS.model_copy(update={"registry": "prod", "collection_id": "team/prod/x"})
    assert trigger(other).project_name == "wandb-registry-prod"


def test_events_that_automations_ignore_have_no_trigger() -> None:
    data = ArtifactUsed.example()
    assert trigger_of(envelope(data), data) is None


@pytest.mark.parametrize(
    ("data", "types"),
    [
        (ARTIFACT_ALIAS, ["artifact.alias.added"]),
        (ArtifactAliasRemoved.example(), ["artifact.alias.removed"]),
        (ArtifactCommitted.example(), ["artifact.committed"]),
        (ModelLinked.example(), ["model.linked"]),
        (MODEL_ALIAS, ["model.alias.added", "model.linked"]),
        (ModelAliasRemoved.example(), ["model.alias.removed"]),
    ],
)
def test_each_event_type_matches_its_filter(data: EventData, types: list[str]) -> None:
    assert matches(event_filter(types=types), trigger(data))
    others = [t for t in ("artifact.alias.added", "model.alias.removed") if t not in types]
    assert not matches(event_filter(types=others[:1]), trigger(data))


def test_alias_patterns_match_the_alias_of_alias_events() -> None:
    production = event_filter(types=["model.alias.added"], alias_pattern="^production$")
    staging = MODEL_ALIAS.model_copy(update={"alias": "staging"})

    assert matches(production, trigger(MODEL_ALIAS))
    assert not matches(production, trigger(staging))
    prefixed = MODEL_ALIAS.model_copy(update={"alias": "production-old"})
    assert not matches(production, trigger(prefixed))


def test_alias_patterns_match_any_alias_of_commits_and_links() -> None:
    linked = ModelLinked.example()  # aliases latest, staging
    assert matches(event_filter(types=["model.linked"], alias_pattern="^staging$"), trigger(linked))
    assert not matches(
        event_filter(types=["model.linked"], alias_pattern="^production$"), trigger(linked)
    )


def test_a_commit_that_created_nothing_does_not_match() -> None:
    same = ArtifactCommitted.example().model_copy(update={"created": False})
    assert not matches(event_filter(types=["artifact.committed"]), trigger(same))


@pytest.mark.parametrize(
    ("scope", "artifact", "model"),
    [
        ({"type": "entity"}, True, True),
        ({"type": "project", "project": "proj"}, True, False),
        ({"type": "project", "project": "other"}, False, False),
        ({"type": "artifact_collection", "project": "proj", "collection": "mnist"}, True, False),
        ({"type": "artifact_collection", "project": "proj", "collection": "cifar"}, False, False),
        ({"type": "registry", "registry": "model"}, False, True),
        ({"type": "registry", "registry": "dataset"}, False, False),
        (
            {
                "type": "registered_model",
                "registry": "model",
                "collection": "Quickstart Model Registry",
            },
            False,
            True,
        ),
        ({"type": "registered_model", "collection": "Other"}, False, False),
    ],
)
def test_scopes(scope: dict[str, str], artifact: bool, model: bool) -> None:
    types = ["artifact.alias.added", "model.alias.added"]
    f = event_filter(types=types, scope=scope)

    assert matches(f, trigger(ARTIFACT_ALIAS)) is artifact
    assert matches(f, trigger(MODEL_ALIAS)) is model


def test_filters_validate_their_fields() -> None:
    with pytest.raises(ValueError, match="types"):
        event_filter(types=[])
    with pytest.raises(ValueError, match=r"Input should be"):
        event_filter(types=["run.started"])
    with pytest.raises(ValueError, match="exponential"):
        event_filter(types=["model.alias.added"], alias_pattern="(a+)+")
    with pytest.raises(ValueError, match="invalid project name"):
        event_filter(types=["model.linked"], scope={"type": "project", "project": "a/b"})
    assert event_filter(types=["model.linked", "model.linked"]).types == ["model.linked"]


def test_variables_of_an_alias_event() -> None:
    data = MODEL_ALIAS
    values = variables(trigger(data), envelope(data), {"accuracy": 0.9})

    assert values["event_type"] == "model.alias.added"
    assert values["event_author"] == "alice"
    assert values["entity_name"] == "team"
    assert values["project_name"] == "model-registry"
    assert values["artifact_collection_name"] == "Quickstart Model Registry"
    assert values["artifact_version"] == "v1"
    assert values["artifact_version_string"] == "team/model-registry/Quickstart Model Registry:v1"
    assert values["alias"] == "production"
    assert values["artifact_metadata"] == {"accuracy": 0.9}


def test_variables_of_a_commit_carry_its_metadata_and_no_alias() -> None:
    data = ArtifactCommitted.example()
    t = trigger(data)
    values = variables(t, envelope(data), t.metadata)

    assert values["alias"] is None
    assert values["aliases"] == ["latest", "best"]
    assert values["artifact_metadata"] == {"rows": 60000}
    assert values["artifact_version_string"] == "team/proj/mnist:v3"
