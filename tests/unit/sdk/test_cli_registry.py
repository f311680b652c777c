"""``cairn registry`` and ``cairn automation`` through the fake API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cairn
from cairn.cli import main
from tests.unit.sdk.automations_fake import FakeAutomations
from tests.unit.sdk.fakes import FileServer
from tests.unit.sdk.registry_fake import install


@pytest.fixture
def svc(files: FileServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeAutomations:
    api = FakeAutomations(files)
    install(api, monkeypatch)
    with cairn.init(project="train") as run:
        for n in range(2):
            path = tmp_path / "w.bin"
            path.write_text(f"weights {n}")
            run.link_model(str(path), "Classifier", name="net", aliases=["staging"] if n else [])
    return api


def cli(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "args",
    [
        ["registry"],
        ["registry", "ls"],
        ["registry", "registries"],
        ["registry", "show"],
        ["registry", "alias"],
        ["registry", "alias", "add"],
        ["registry", "alias", "rm"],
        ["registry", "history"],
        ["automation"],
        ["automation", "create"],
        ["automation", "ls"],
        ["automation", "rm"],
        ["automation", "test"],
        ["automation", "deliveries"],
        ["automation", "redeliver"],
        ["automation", "integration", "add"],
        ["automation", "integration", "ls"],
        ["automation", "integration", "rm"],
        ["automation", "secret", "set"],
        ["automation", "secret", "ls"],
        ["automation", "secret", "rm"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    code, output = cli(*args, "--help")
    assert code == 0
    assert "Usage:" in output


@pytest.mark.usefixtures("svc")
def test_registry_ls_show_and_registries() -> None:
    code, output = cli("registry", "ls")
    assert code == 0, output
    assert "Classifier" in output
    assert "latest:v1, staging:v1" in output
    code, output = cli("registry", "show", "model-registry/Classifier")
    assert code == 0, output
    assert "alice/model-registry/Classifier" in output
    assert "alice/train/net:v0" in output
    code, output = cli("registry", "registries")
    assert "wandb-registry-dataset" in output
    code, output = cli("registry", "show", "Classifier:v1")
    assert code == 2
    assert "without ':alias'" in output


def test_registry_alias_add_rm_and_history(svc: FakeAutomations) -> None:
    code, output = cli("registry", "alias", "add", "Classifier", "v0", "candidate")
    assert code == 0, output
    assert "'candidate' is on v0" in output
    code, output = cli("registry", "alias", "rm", "Classifier", "candidate")
    assert code == 0, output
    code, output = cli("registry", "history", "Classifier")
    assert code == 0, output
    assert "alias_added" in output
    assert "alias_removed" in output
    code, output = cli(
        "registry", "history", "Classifier", "--alias", "staging", "--at", "2026-06-01T00:00:00Z"
    )
    assert "v1 held 'staging'" in output
    code, output = cli("registry", "history", "Classifier", "--at", "2026-06-01")
    assert code == 2
    assert "give --alias too" in output
    svc.role = "member"
    code, output = cli("registry", "alias", "add", "Classifier", "v0", "production")
    assert code == 1
    assert "only an admin may move the protected alias" in output
    assert "an admin of the entity must do this" in output
    code, output = cli("registry", "show", "Nope")
    assert code == 1
    assert "no collection" in output


def test_automation_setup_create_test_and_remove(svc: FakeAutomations, tmp_path: Path) -> None:
    code, output = cli("automation", "secret", "set", "CI_TOKEN", input="s3cret\n")
    assert code == 0, output
    assert svc.secrets == {("alice", "CI_TOKEN"): "s3cret"}
    code, output = cli(
        "automation",
        "integration",
        "add",
        "ci",
        "https://ci.test/hook",
        "--header",
        "Authorization=Bearer ${CI_TOKEN}",
    )
    assert code == 0, output
    assert "whsec_generated" in output
    payload = tmp_path / "payload.json"
    payload.write_text('{"v": "${artifact_version_string}"}')
    code, output = cli(
        "automation",
        "create",
        "deploy",
        "--on",
        "alias-added",
        "-m",
        "Classifier",
        "--alias",
        "production",
        "-i",
        "ci",
        "--payload",
        f"@{payload}",
    )
    assert code == 0, output
    assert "model.alias.added matching ^production$ in model-registry/Classifier -> ci" in output
    (body,) = svc.calls("POST", r"/automations$")
    assert body["event"]["scope"] == {
        "type": "registered_model",
        "registry": "model",
        "collection": "Classifier",
    }
    assert body["action"]["payload"] == {"v": "${artifact_version_string}"}
    code, output = cli("automation", "create", "x", "--on", "linked", "-p", "train", "-i", "ci")
    assert code == 1
    assert "links happen in registries" in output
    code, output = cli(
        "automation", "create", "x", "--on", "created", "-p", "a", "-r", "b", "-i", "ci"
    )
    assert code == 2
    code, output = cli("automation", "ls")
    assert "deploy" in output
    assert "^production$" in output
    code, output = cli("automation", "test", "deploy")
    assert code == 0, output
    assert "HTTP 200" in output
    code, output = cli("automation", "integration", "ls")
    assert "https://ci.test/hook" in output
    code, output = cli("automation", "rm", "deploy")
    assert code == 0, output
    code, output = cli("automation", "rm", "deploy")
    assert code == 1
    assert "not found" in output


def test_a_failing_test_call_exits_1(svc: FakeAutomations) -> None:
    cli("automation", "integration", "add", "ci", "https://ci.test/hook")
    cli("automation", "create", "failing", "--on", "created", "-i", "ci")
    code, output = cli("automation", "test", "failing")
    assert code == 1
    assert "connection refused" in output


def test_deliveries_and_redeliver(svc: FakeAutomations) -> None:
    cli("automation", "integration", "add", "ci", "https://ci.test/hook")
    cli("automation", "create", "any", "--on", "created", "-i", "ci")
    for _ in range(3):
        svc.add_delivery("alice", "any")
    dead = svc.add_delivery("alice", "any", status="dead")
    code, output = cli("automation", "deliveries", "any", "-n", "2")
    assert code == 0, output
    assert len(output.strip().splitlines()) == 3  # header and two rows
    code, output = cli("automation", "deliveries", "--id", dead["id"])
    assert "retry" in output
    assert json.dumps({"v": 1}) in output
    code, output = cli("automation", "redeliver", dead["id"])
    assert code == 0, output
    assert f"webhook-id {dead['id']}" in output
