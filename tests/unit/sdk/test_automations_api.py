"""``cairn.automations`` and the API's automation methods, against a fake automations service."""

from __future__ import annotations

from pathlib import Path

import pytest

import cairn
from cairn.automations import (
    ArtifactEvent,
    Automation,
    OnAddArtifactAlias,
    OnCreateArtifact,
    OnLinkArtifact,
    OnRemoveArtifactAlias,
    SavedWebhookAction,
    SendWebhook,
)
from cairn.automations.filters import alias_pattern
from cairn.errors import CommError, NotFoundError
from tests.unit.sdk.automations_fake import FakeAutomations
from tests.unit.sdk.fakes import FileServer
from tests.unit.sdk.registry_fake import install


@pytest.fixture
def svc(files: FileServer, monkeypatch: pytest.MonkeyPatch) -> FakeAutomations:
    api = FakeAutomations(files)
    install(api, monkeypatch)
    return api


@pytest.fixture
def registered(svc: FakeAutomations, tmp_path: Path) -> None:
    """A registered model "Classifier" and a project artifact "net" in project "train"."""
    path = tmp_path / "w.bin"
    path.write_text("w")
    with cairn.init(project="train") as run:
        run.link_model(str(path), "Classifier", name="net")


def test_filters_become_one_alias_pattern() -> None:
    alias = ArtifactEvent.alias
    assert alias_pattern(alias.eq("prod.v1")) == r"^prod\.v1$"
    assert alias_pattern(alias.in_(["a", "b+"])) == r"^(?:a|b\+)$"
    assert alias_pattern(alias.matches_regex("^prod-.*")) == "^prod-.*"
    assert alias_pattern(alias.contains("rc")) == "rc"
    assert alias_pattern(alias.eq("a") | alias.eq("b")) == "(?:^a$)|(?:^b$)"
    assert alias_pattern(None) is None
    # W&B's dict forms, including the {"$or": [{"$and": [...]}]} it saves.
    assert alias_pattern({"alias": "prod"}) == "^prod$"
    assert alias_pattern({"$or": [{"$and": [{"alias": {"$regex": "^p"}}]}]}) == "^p"
    assert alias_pattern({"$or": [{"$and": []}]}) is None
    with pytest.raises(ValueError, match="one alias pattern"):
        alias.eq("a") & alias.eq("b")
    with pytest.raises(ValueError, match="unsupported filter field"):
        alias_pattern({"tag": "x"})
    with pytest.raises(ValueError, match="unsupported alias condition"):
        alias_pattern({"alias": {"$ne": "x"}})
    with pytest.raises(ValueError, match="invalid alias regex"):
        alias.matches_regex("(")


@pytest.mark.usefixtures("registered")
def test_events_map_to_the_service_types_of_their_scope(svc: FakeAutomations) -> None:
    api = cairn.Api()
    model = api.artifact_collection(type_name="model", name="model-registry/Classifier")
    net = api.artifact_collection(type_name="model", name="train/net")
    on_model = OnAddArtifactAlias(scope=model, filter=ArtifactEvent.alias.eq("production"))
    assert on_model.to_dict() == {
        "types": ["model.alias.added"],
        "scope": {"type": "registered_model", "registry": "model", "collection": "Classifier"},
        "alias_pattern": "^production$",
    }
    assert OnAddArtifactAlias(scope=net).to_dict()["scope"] == {
        "type": "artifact_collection",
        "project": "train",
        "collection": "net",
    }
    assert OnAddArtifactAlias().to_dict()["types"] == ["artifact.alias.added", "model.alias.added"]
    assert OnRemoveArtifactAlias(scope=model).to_dict()["types"] == ["model.alias.removed"]
    project = api.project("train")
    assert OnCreateArtifact(scope=project).to_dict()["scope"] == {
        "type": "project",
        "project": "train",
    }
    registry = api.project("wandb-registry-model")
    assert OnLinkArtifact(scope=registry).to_dict()["scope"] == {
        "type": "registry",
        "registry": "model",
    }
    assert OnLinkArtifact(scope=api.registry("model")).to_dict()["types"] == ["model.linked"]
    with pytest.raises(ValueError, match="links happen in registries"):
        OnLinkArtifact(scope=project)
    with pytest.raises(ValueError, match="versions are created in projects"):
        OnCreateArtifact(scope=model)
    with pytest.raises(TypeError, match="not str"):
        OnCreateArtifact(scope="train")  # type: ignore[arg-type]


@pytest.mark.usefixtures("registered")
def test_create_list_update_and_delete_an_automation(svc: FakeAutomations) -> None:
    api = cairn.Api()
    hook = api.create_webhook_integration(name="ci", url="https://ci.test/hook", secret="whsec_x")
    assert hook.signing_secret == "whsec_x"
    assert [i.url_endpoint for i in api.webhook_integrations()] == ["https://ci.test/hook"]
    model = api.artifact_collection(type_name="model", name="model-registry/Classifier")
    event = OnAddArtifactAlias(scope=model, filter=ArtifactEvent.alias.eq("production"))
    action = SendWebhook.from_integration(hook, payload='{"v": "${artifact_version_string}"}')

    saved = api.create_automation(event >> action, name="deploy", description="ship it")

    (body,) = svc.calls("POST", r"/automations/v1/entities/alice/automations$")
    assert body == {
        "name": "deploy",
        "description": "ship it",
        "enabled": True,
        "event": event.to_dict(),
        "action": {
            "type": "webhook",
            "integration": "ci",
            "payload": {"v": "${artifact_version_string}"},
        },
    }
    assert isinstance(saved, Automation)
    assert isinstance(saved.action, SavedWebhookAction)
    assert (saved.name, saved.entity, saved.action.integration) == ("deploy", "alice", "ci")
    assert saved.event.filter is not None
    assert saved.scope.describe() == "model-registry/Classifier"
    with pytest.raises(ValueError, match="exists"):
        api.create_automation(event >> action, name="deploy")
    assert api.create_automation(event >> action, name="deploy", fetch_existing=True).id == saved.id
    assert [a.name for a in api.automations(entity="alice")] == ["deploy"]
    assert api.automation("deploy").description == "ship it"
    with pytest.raises(ValueError, match="No automations"):
        api.automation("nope")

    saved.enabled = False
    updated = api.update_automation(saved, description="paused")
    (put,) = svc.calls("PUT", rf"/automations/{saved.id}$")
    assert (put["enabled"], put["description"], put["revision"]) == (False, "paused", 1)
    assert updated.revision == 2
    with pytest.raises(CommError, match="revision"):
        api.update_automation(saved)  # read at revision 1: someone changed it since

    api.delete_automation(updated)
    assert list(api.automations(entity="alice")) == []
    with pytest.raises(NotFoundError):
        api.update_automation(updated)
    recreated = api.update_automation(updated, create_missing=True)
    assert recreated.name == "deploy"
    api.delete_automation("deploy")
    assert svc.automations == {}


def test_an_automation_needs_a_name_an_event_and_an_action(svc: FakeAutomations) -> None:
    api = cairn.Api()
    hook = api.create_webhook_integration(name="ci", url="https://ci.test/hook")
    new = OnCreateArtifact(scope=api.project("train")) >> SendWebhook.from_integration(hook)
    with pytest.raises(ValueError, match="needs a name"):
        api.create_automation(new)
    new.event = None
    with pytest.raises(ValueError, match="an event and an action"):
        api.create_automation(new, name="x")


def test_secrets_tests_and_deliveries(svc: FakeAutomations) -> None:
    api = cairn.Api()
    assert api.create_secret(name="CI_TOKEN", value="s3cret")["name"] == "CI_TOKEN"
    assert svc.secrets == {("alice", "CI_TOKEN"): "s3cret"}
    assert [s["name"] for s in api.secrets()] == ["CI_TOKEN"]
    hook = api.create_webhook_integration(
        name="ci", url="https://ci.test/hook", headers={"Authorization": "Bearer ${CI_TOKEN}"}
    )
    assert svc.calls("POST", r"/integrations$")[0]["headers"] == {
        "Authorization": "Bearer ${CI_TOKEN}"
    }
    saved = api.create_automation(
        OnCreateArtifact() >> SendWebhook.from_integration(hook), name="any"
    )
    result = api.test_automation(saved)
    assert result["ok"] is True
    assert result["response"]["status"] == 200
    for _ in range(60):
        svc.add_delivery("alice", "any")
    svc.add_delivery("alice", "other", status="dead")
    assert len(list(api.deliveries())) == 61
    assert len(list(api.deliveries(automation=saved))) == 60
    (dead,) = api.deliveries(status="dead")
    assert api.delivery(dead["id"])["attempt_log"][0]["verdict"] == "retry"
    assert api.redeliver(dead["id"])["webhook_id"] == dead["id"]
    api.delete_automation(saved)
    api.delete_webhook_integration(hook)
    assert svc.integrations == {}
