"""The automations HTTP API on the real MongoDB wire-protocol server: automations, webhook
integrations, secrets, the SSRF guard at the edge, access rules and the "test" calls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cairn_shared.auth.identity_store import IDENTITY_DATABASE, MongoIdentityStore
from cairn_shared.auth.roles import Role
from cairn_shared.mongo import Document
from pymongo import AsyncMongoClient
from standardwebhooks import Webhook

from tests.integration.test_automations_harness import (
    PRODUCTION_FILTER,
    Receiver,
    Service,
    make_user,
    overrides,
    publisher,
    receiver,
    service,
)

__all__ = ["overrides", "publisher", "receiver", "service"]  # fixtures

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def automation(name: str = "notify", **changes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": "tell CI",
        "event": PRODUCTION_FILTER,
        "action": {"integration": "ci", "payload": {"text": "${alias} moved"}},
        **changes,
    }


async def test_automation_lifecycle(service: Service, receiver: Receiver) -> None:
    await service.ok(
        "POST", service.url("integrations"), {"name": "ci", "url": receiver.url()}, 201
    )

    created = await service.ok("POST", service.url("automations"), automation(), 201)
    assert created["action"] == {
        "type": "webhook",
        "integration": "ci",
        "integration_id": created["action"]["integration_id"],
        "payload": {"text": "${alias} moved"},
    }
    assert created["enabled"] is True
    assert created["revision"] == 1
    duplicate, _ = await service.call("POST", service.url("automations"), automation())
    assert duplicate == 409

    listed = await service.ok("GET", service.url("automations"))
    assert [a["name"] for a in listed["automations"]] == ["notify"]
    by_name = await service.ok("GET", f"/v1/automations?name=notify&entity={service.owner.name}")
    assert [a["id"] for a in by_name["automations"]] == [created["id"]]
    everywhere = await service.ok("GET", "/v1/automations?name=notify")
    assert [a["id"] for a in everywhere["automations"]] == [created["id"]]

    disabled = await service.ok("PATCH", service.url("automations/notify"), {"enabled": False})
    assert (disabled["enabled"], disabled["revision"]) == (False, 2)
    stale, _ = await service.call(
        "PATCH", service.url("automations/notify"), {"enabled": True, "revision": 1}
    )
    assert stale == 409

    # A client sends back what it read, changed: the read-only fields are ignored.
    read = await service.ok("GET", service.url(f"automations/{created['id']}"))
    read |= {"name": "notify-ci", "enabled": True, "description": "renamed"}
    replaced = await service.ok("PUT", service.url(f"automations/{created['id']}"), read)
    assert (replaced["name"], replaced["enabled"], replaced["revision"]) == ("notify-ci", True, 3)

    in_use, body = await service.call("DELETE", service.url("integrations/ci"))
    assert in_use == 409
    assert body["error"]["details"]["automations"] == ["notify-ci"]
    assert (await service.call("DELETE", service.url("automations/notify-ci")))[0] == 204
    assert (await service.call("GET", service.url("automations/notify-ci")))[0] == 404
    assert (await service.call("DELETE", service.url("integrations/ci")))[0] == 204


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event": {"types": ["run.started"]}}, "the request body is not valid"),
        ({"event": {"types": ["model.linked"], "alias_pattern": "(a+)+"}}, "not valid"),
        ({"event": {"types": []}}, "not valid"),
        ({"action": {"integration": "nope"}}, "no webhook integration 'nope'"),
        (
            {"action": {"integration": "ci", "payload": {"a": "${artifact_name}"}}},
            "unknown variable",
        ),
        ({"action": {"integration": "ci", "payload": {"a": "${MISSING}"}}}, "MISSING"),
        ({"name": "bad/name"}, "not valid"),
        ({"surprise": 1}, "not valid"),
    ],
)
async def test_bad_automations_are_clear_400s(
    service: Service, receiver: Receiver, change: dict[str, Any], message: str
) -> None:
    await service.ok(
        "POST", service.url("integrations"), {"name": "ci", "url": receiver.url()}, 201
    )

    status, body = await service.call("POST", service.url("automations"), automation(**change))

    assert status == 400, body
    assert message in json.dumps(body)


async def test_integrations_show_secrets_once_and_rotate(
    service: Service, receiver: Receiver
) -> None:
    created = await service.ok(
        "POST",
        service.url("integrations"),
        {"name": "ci", "url": receiver.url(), "secret": WHSEC, "headers": {"X-Env": "prod"}},
        201,
    )
    assert created["signing_secret"] == WHSEC
    listed = await service.ok("GET", service.url("integrations"))
    assert WHSEC not in json.dumps(listed)
    assert listed["integrations"][0]["signing_secrets"][0]["hint"] == "whsec_MfKQ…"
    assert listed["integrations"][0]["headers"] == {"X-Env": "prod"}

    rotated = await service.ok(
        "POST", service.url("integrations/ci/signing-secrets"), {"previous_expire_in_s": 3600}, 201
    )
    new_secret = rotated["signing_secret"]
    assert new_secret.startswith("whsec_")
    assert [s["active"] for s in rotated["signing_secrets"]] == [True, True]
    assert rotated["signing_secrets"][0]["expires_at"] is not None

    tested = await service.ok("POST", service.url("integrations/ci/test"), {})
    assert tested["ok"] is True
    [got] = receiver.received
    Webhook(WHSEC).verify(got.body, got.headers)  # both secrets sign during the rotation
    Webhook(new_secret).verify(got.body, got.headers)
    assert len(got.headers["webhook-signature"].split(" ")) == 2

    await service.ok(
        "POST", service.url("integrations/ci/signing-secrets"), {"previous_expire_in_s": 0}, 201
    )
    again = await service.ok("GET", service.url("integrations/ci"))
    assert [s["active"] for s in again["signing_secrets"]] == [True]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "url": "https://hooks.example.com/", "secret": "not-whsec"},
        {"name": "x", "url": "https://hooks.example.com/", "headers": {"Host": "evil"}},
        {"name": "x", "url": "https://hooks.example.com/", "headers": {"A": "${alias}"}},
        {"name": "x", "url": "https://hooks.example.com/", "headers": {"A": "a\nB: b"}},
        {"name": "x", "url": "ftp://hooks.example.com/"},
    ],
)
async def test_bad_integrations_are_400s(service: Service, body: dict[str, Any]) -> None:
    status, answer = await service.call("POST", service.url("integrations"), body)

    assert status == 400, answer
    assert "not-whsec" not in json.dumps(answer)  # not even a rejected secret is echoed


@pytest.mark.parametrize("overrides", [{"webhook_allow_networks": [], "webhook_allow_http": False}])
@pytest.mark.parametrize(
    "url",
    [
        "https://10.1.2.3/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "http://example.com/hook",
    ],
)
async def test_private_or_plain_http_targets_are_refused_by_default(
    service: Service, url: str
) -> None:
    status, body = await service.call(
        "POST", service.url("integrations"), {"name": "internal", "url": url}
    )

    assert status == 400
    assert body["error"]["code"] == "target_refused"


async def test_private_targets_pass_when_allowlisted(service: Service, receiver: Receiver) -> None:
    # The harness allowlists 127.0.0.0/8 and http, as an operator would.
    status, _ = await service.call(
        "POST", service.url("integrations"), {"name": "local", "url": receiver.url()}
    )
    refused, body = await service.call(
        "POST", service.url("integrations"), {"name": "lan", "url": "http://10.1.2.3/hook"}
    )

    assert status == 201
    assert refused == 400
    assert "CAIRN_WEBHOOK_ALLOW_NETWORKS" in body["error"]["message"]


async def test_secrets_are_admin_written_and_never_returned(
    service: Service, mongo: AsyncMongoClient[Document], unique: str
) -> None:
    identity = MongoIdentityStore(mongo[IDENTITY_DATABASE])
    member = await make_user(identity, f"au-member-{unique}")
    await identity.set_role(service.owner.name, member.name, Role.MEMBER)
    url = service.url("secrets/API_TOKEN")

    created = await service.ok("PUT", url, {"value": "a-very-secret-token-1234"}, 201)
    replaced = await service.ok("PUT", url, {"value": "another-secret-token-5678"}, 200)
    by_member, _ = await service.call("PUT", url, {"value": "x"}, user=member)
    bad_name, _ = await service.call("PUT", service.url("secrets/lower"), {"value": "x"})
    listed = await service.ok("GET", service.url("secrets"))

    assert created["hint"] == "…1234"
    assert replaced["hint"] == "…5678"
    assert by_member == 403
    assert bad_name == 400
    assert [s["name"] for s in listed["secrets"]] == ["API_TOKEN"]
    assert "secret-token" not in json.dumps(listed)
    stored = await mongo[service.settings.database_name]["secrets"].find_one({})
    assert stored is not None
    assert "secret-token" not in json.dumps(stored, default=str)  # encrypted at rest
    assert (await service.call("DELETE", url))[0] == 204
    assert (await service.call("DELETE", url))[0] == 404


async def test_members_write_automations_and_strangers_see_nothing(
    service: Service, receiver: Receiver, mongo: AsyncMongoClient[Document], unique: str
) -> None:
    identity = MongoIdentityStore(mongo[IDENTITY_DATABASE])
    member = await make_user(identity, f"au-m-{unique}")
    viewer = await make_user(identity, f"au-v-{unique}")
    stranger = await make_user(identity, f"au-s-{unique}")
    await identity.set_role(service.owner.name, member.name, Role.MEMBER)
    await identity.set_role(service.owner.name, viewer.name, Role.VIEWER)
    await service.ok(
        "POST", service.url("integrations"), {"name": "ci", "url": receiver.url()}, 201
    )
    url = service.url("automations")

    assert (await service.call("POST", url, automation(), user=member))[0] == 201
    assert (await service.call("POST", url, automation("v"), user=viewer))[0] == 403
    assert (await service.call("GET", url, user=viewer))[0] == 200
    assert (await service.call("GET", url, user=stranger))[0] == 404
    integration = {"name": "m", "url": receiver.url()}
    assert (await service.call("POST", service.url("integrations"), integration, user=member))[
        0
    ] == 403
    nothing = await service.call("GET", "/v1/automations?name=notify", user=stranger)
    assert nothing == (200, {"automations": []})


async def test_an_automation_test_call_sends_an_example_and_shows_the_answer(
    service: Service, receiver: Receiver
) -> None:
    await service.ok("PUT", service.url("secrets/TOKEN"), {"value": "s3cr3t-value-0000"}, 201)
    created = await service.ok(
        "POST",
        service.url("integrations"),
        {"name": "ci", "url": receiver.url(), "headers": {"Authorization": "Bearer ${TOKEN}"}},
        201,
    )
    payload = {"text": "${artifact_collection_name} ${alias}", "token": "${TOKEN}"}
    body = automation(action={"integration": "ci", "payload": payload})
    await service.ok("POST", service.url("automations"), body, 201)

    result = await service.ok("POST", service.url("automations/notify/test"))

    assert result["ok"] is True
    assert result["response"]["status"] == 200
    assert result["response"]["body"] == "answered 200"
    assert result["request"]["body"] == {
        "text": "Quickstart Model Registry production",
        "token": "********",
    }
    assert result["request"]["headers"]["Authorization"] == "********"
    [got] = receiver.received
    assert Webhook(created["signing_secret"]).verify(got.body, got.headers)["token"] == (
        "s3cr3t-value-0000"
    )
    assert got.headers["webhook-id"].startswith("test-")
