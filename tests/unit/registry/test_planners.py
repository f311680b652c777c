"""The planners: a command and a collection's state in, a plan or a rejection out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cairn_registry.domain.commands import (
    SourceVersion,
    plan_alias,
    plan_link,
    plan_unlink,
    plan_update,
)
from cairn_registry.domain.plans import (
    CollectionState,
    Command,
    LinkRef,
    Plan,
    RejectedError,
    head_active,
    head_aliases,
)
from cairn_registry.domain.registries import RegistrySettings, default_registry
from cairn_shared.events.envelope import Cause
from cairn_shared.events.registry import (
    ModelAliasChangeRequested,
    ModelCollectionUpdateRequested,
    ModelLinkRequested,
    ModelUnlinkRequested,
)

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
CID = "team/model/Classifier"
NAMES = {"collection_id": CID, "registry": "model", "collection": "Classifier"}


def registry() -> RegistrySettings:
    settings = default_registry("team", "model", at=NOW)
    assert settings is not None
    return settings


def command(*, admin: bool = False, run_id: str = "") -> Command:
    return Command(
        id="cmd-1", cause=Cause("alice"), now=NOW, requested_by_admin=admin, run_id=run_id
    )


def version(index: int = 0, artifact_type: str = "model") -> SourceVersion:
    return SourceVersion(
        sequence="team/proj/net",
        version_index=index,
        version_id=f"vid-{index}",
        artifact_type=artifact_type,
        manifest_digest="0" * 64,
        size=10,
        metadata=[{"k": "acc", "v": 0.9}],
    )


def state(**kwargs: object) -> CollectionState:
    base: dict[str, object] = {
        "collection_id": CID,
        "entity": "team",
        "registry": "model",
        "collection": "Classifier",
    }
    return CollectionState(**{**base, **kwargs})  # type: ignore[arg-type]


def link_request(*aliases: str) -> ModelLinkRequested:
    return ModelLinkRequested(
        **NAMES, source_sequence="team/proj/net", source_version_index=0, aliases=list(aliases)
    )


def types(plan: Plan) -> list[str]:
    return [envelope.type for envelope, _ in plan.envelopes()]


def test_the_first_link_creates_the_collection_and_brings_latest() -> None:
    plan = plan_link(
        state(),
        registry(),
        link_request("staging"),
        version=version(),
        existing=None,
        command=command(run_id="r1"),
    )
    assert plan.link_index == 0
    assert plan.create_collection is not None
    assert plan.insert_link is not None
    assert plan.insert_link["_id"] == f"{CID}:v0"
    assert plan.insert_link["run_id"] == "r1"
    assert types(plan) == ["model.linked", "model.alias.added", "model.alias.added"]
    linked, _ = plan.envelopes()[0]
    assert linked.data["aliases"] == ["latest", "staging"]
    assert linked.actor == "alice"
    assert [h["seq"] for h in plan.history] == [1, 2, 3]
    assert {h["actor"] for h in plan.history} == {"alice"}


def test_a_later_link_takes_the_next_index_and_moves_latest() -> None:
    current = state(
        exists=True,
        version_count=2,
        aliases={"latest": 3},
        links={3: LinkRef(3, "team/proj/net", 3)},
        max_link_index=4,  # v4 was unlinked: its index is not reused
        last_seq=9,
    )
    plan = plan_link(
        current, registry(), link_request(), version=version(5), existing=None, command=command()
    )
    assert plan.link_index == 5
    assert plan.create_collection is None
    assert plan.collection_set["version_count"] == 3
    assert types(plan) == ["model.linked", "model.alias.removed", "model.alias.added"]
    assert [h["seq"] for h in plan.history] == [10, 11, 12]


def test_relinking_a_linked_version_only_applies_aliases() -> None:
    current = state(exists=True, aliases={"latest": 0}, links={0: LinkRef(0, "team/proj/net", 0)})
    plan = plan_link(
        current,
        registry(),
        link_request("best"),
        version=version(0),
        existing=0,
        command=command(),
    )
    assert plan.insert_link is None
    assert plan.link_index == 0
    assert types(plan) == ["model.alias.added"]


def test_a_type_the_registry_does_not_accept_is_rejected() -> None:
    with pytest.raises(RejectedError) as info:
        plan_link(
            state(),
            registry(),
            link_request(),
            version=version(artifact_type="dataset"),
            existing=None,
            command=command(),
        )
    assert info.value.code == "type_not_accepted"
    for accepted in ("model", "my-model", "model_checkpoint"):
        assert registry().accepts(accepted)
    assert not registry().accepts("Model")


def test_protected_aliases_need_an_admins_request() -> None:
    current = state(
        exists=True,
        aliases={"latest": 1, "production": 0},
        links={0: LinkRef(0, "s", 0), 1: LinkRef(1, "s", 1)},
    )
    move = ModelAliasChangeRequested(**NAMES, alias="production", link_index=1)
    with pytest.raises(RejectedError) as info:
        plan_alias(current, registry(), move, command())
    assert info.value.code == "alias_protected"

    plan = plan_alias(current, registry(), move, command(admin=True))
    assert types(plan) == ["model.alias.removed", "model.alias.added"]
    assert [(h["action"], h["version"]) for h in plan.history] == [
        ("alias_removed", "v0"),
        ("alias_added", "v1"),
    ]
    # Unlinking the production version removes production: an admin's job too.
    with pytest.raises(RejectedError):
        plan_unlink(current, registry(), ModelUnlinkRequested(**NAMES, link_index=0), command())


def test_alias_changes_name_an_active_version_and_never_latest() -> None:
    current = state(exists=True, aliases={"latest": 0}, links={0: LinkRef(0, "s", 0)})
    missing = ModelAliasChangeRequested(**NAMES, alias="staging", link_index=7)
    with pytest.raises(RejectedError, match="no v7"):
        plan_alias(current, registry(), missing, command())
    latest = ModelAliasChangeRequested(**NAMES, alias="latest", link_index=0)
    with pytest.raises(RejectedError, match="moves by itself"):
        plan_alias(current, registry(), latest, command())
    with pytest.raises(RejectedError) as info:
        plan_alias(state(), registry(), missing, command())
    assert info.value.code == "collection_not_found"
    noop = plan_alias(
        current,
        registry(),
        ModelAliasChangeRequested(**NAMES, alias="staging", link_index=None),
        command(),
    )
    assert noop.events == []
    assert noop.history == []


def test_unlink_moves_latest_back() -> None:
    current = state(
        exists=True,
        version_count=2,
        aliases={"latest": 1, "staging": 1},
        links={0: LinkRef(0, "s", 0), 1: LinkRef(1, "s", 1)},
        active={0: "vid-0", 1: "vid-1"},
        max_link_index=1,
        last_seq=4,
    )
    plan = plan_unlink(current, registry(), ModelUnlinkRequested(**NAMES, link_index=1), command())
    assert plan.unlink_index == 1
    assert plan.collection_set["version_count"] == 1
    assert types(plan) == [
        "model.unlinked",
        "model.alias.removed",
        "model.alias.added",
        "model.alias.removed",
    ]
    assert head_aliases(plan.head) == {"latest": 0}
    assert head_active(plan.head) == {0: "vid-0"}
    assert plan.head["max_link_index"] == 1  # an unlinked index is never reused
    assert plan.head["last_seq"] == 4 + len(plan.history)


def test_a_link_records_the_collection_state_after_it() -> None:
    current = state(
        exists=True,
        version_count=1,
        aliases={"latest": 0, "prod.v1": 0},  # a dot stays a value, never a field name
        links={0: LinkRef(0, "team/proj/net", 0)},
        active={0: "vid-0"},
        max_link_index=0,
        last_seq=2,
    )
    plan = plan_link(
        current,
        registry(),
        link_request("staging"),
        version=version(1),
        existing=None,
        command=command(),
    )
    assert head_aliases(plan.head) == {"latest": 1, "prod.v1": 0, "staging": 1}
    assert head_active(plan.head) == {0: "vid-0", 1: "vid-1"}
    assert plan.head["max_link_index"] == 1
    assert plan.head["last_seq"] == plan.history[-1]["seq"]
    assert plan.head["last_at"] == plan.at
    assert Plan.from_document(plan.to_document()).head == plan.head


def test_a_version_linked_already_is_found_by_its_source_id() -> None:
    current = state(exists=True, active={0: "vid-0", 3: "vid-7"})
    assert current.active_link_of("vid-7") == 3
    assert current.active_link_of("vid-9") is None
    assert current.newest_active == (3, 0)


def test_collection_updates_are_checked() -> None:
    current = state(exists=True)
    plan = plan_update(
        current,
        ModelCollectionUpdateRequested(**NAMES, tags=["a", "b", "a"]),
        command(),
    )
    assert plan.collection_set["tags"] == ["a", "b"]
    assert "description" not in plan.collection_set
    with pytest.raises(RejectedError, match="invalid tag"):
        plan_update(current, ModelCollectionUpdateRequested(**NAMES, tags=[" x"]), command())


def test_a_plan_survives_its_document_form() -> None:
    plan = plan_link(
        state(), registry(), link_request("a"), version=version(), existing=None, command=command()
    )
    again = Plan.from_document(plan.to_document())
    assert again == plan
    assert [e.id for e, _ in again.envelopes()] == [e.id for e, _ in plan.envelopes()]
