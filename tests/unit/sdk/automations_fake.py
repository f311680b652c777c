"""A fake of our automations routes (docs/http-api.md, automations) on top of the registry fake:
automations, webhook integrations, secrets, test calls and deliveries, kept in memory."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.unit.sdk.fakes import error, ok
from tests.unit.sdk.registry_fake import FakeRegistry

A = r"/automations/v1/entities/([^/]+)"


@dataclass
class FakeAutomations(FakeRegistry):
    automations: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # newest first

    def _routes(self) -> list[tuple[str, str, Callable[..., httpx.Response]]]:
        return [
            ("GET", r"/automations/v1/automations", self._search),
            ("POST", A + r"/automations", self._create),
            ("GET", A + r"/automations/([^/]+)", self._get),
            ("PUT", A + r"/automations/([^/]+)", self._replace),
            ("DELETE", A + r"/automations/([^/]+)", self._delete),
            ("POST", A + r"/automations/([^/]+)/test", self._test),
            ("GET", A + r"/integrations", self._integrations),
            ("POST", A + r"/integrations", self._new_integration),
            ("DELETE", A + r"/integrations/([^/]+)", self._delete_integration),
            ("GET", A + r"/secrets", self._secrets),
            ("PUT", A + r"/secrets/([^/]+)", self._put_secret),
            ("GET", A + r"/deliveries", self._deliveries),
            ("GET", A + r"/deliveries/([^/]+)", self._delivery),
            ("POST", A + r"/deliveries/([^/]+)/redeliver", self._redeliver),
            *super()._routes(),
        ]

    def _find(
        self, table: dict[str, dict[str, Any]], entity: str, ref: str
    ) -> dict[str, Any] | None:
        for item in table.values():
            if item["entity"] == entity and ref in (item["id"], item["name"]):
                return item
        return None

    # -- automations -----------------------------------------------------------------------------

    def _search(self, body: Any, query: dict[str, str]) -> httpx.Response:
        found = [
            a
            for a in self.automations.values()
            if query.get("entity") in (None, a["entity"]) and query.get("name") in (None, a["name"])
        ]
        return ok({"automations": found})

    def _create(self, body: Any, query: dict[str, str], entity: str) -> httpx.Response:
        if self._find(self.automations, entity, body["name"]) is not None:
            return error(409, "conflict", f"automation {body['name']!r} exists in {entity!r}")
        integration = self._find(self.integrations, entity, body["action"]["integration"])
        if integration is None:
            return error(
                400, "bad_request", f"no webhook integration {body['action']['integration']!r}"
            )
        view = self._automation_view(str(uuid.uuid4()), entity, body, integration, revision=1)
        self.automations[view["id"]] = view
        return ok(view, 201)

    def _automation_view(
        self,
        aid: str,
        entity: str,
        body: dict[str, Any],
        integration: dict[str, Any],
        revision: int,
    ) -> dict[str, Any]:
        return {
            "id": aid,
            "entity": entity,
            "name": body["name"],
            "description": body.get("description", ""),
            "enabled": body.get("enabled", True),
            "event": {"scope": {"type": "entity"}, "alias_pattern": None, **body["event"]},
            "action": {
                "type": "webhook",
                "integration": integration["name"],
                "integration_id": integration["id"],
                "payload": body["action"].get("payload"),
            },
            "revision": revision,
            "created_by": self.user,
            "created_at": "2026-01-03T00:00:00+00:00",
            "updated_at": "2026-01-03T00:00:00+00:00",
        }

    def _get(self, body: Any, query: dict[str, str], entity: str, ref: str) -> httpx.Response:
        found = self._find(self.automations, entity, ref)
        return ok(found) if found else error(404, "not_found", f"automation {ref!r} not found")

    def _replace(self, body: Any, query: dict[str, str], entity: str, ref: str) -> httpx.Response:
        current = self._find(self.automations, entity, ref)
        if current is None:
            return error(404, "not_found", f"automation {ref!r} not found in {entity!r}")
        if body.get("revision") not in (None, current["revision"]):
            return error(409, "conflict", f"automation is at revision {current['revision']}")
        integration = self._find(self.integrations, entity, body["action"]["integration"])
        assert integration is not None
        view = self._automation_view(
            current["id"], entity, body, integration, current["revision"] + 1
        )
        self.automations[current["id"]] = view
        return ok(view)

    def _delete(self, body: Any, query: dict[str, str], entity: str, ref: str) -> httpx.Response:
        found = self._find(self.automations, entity, ref)
        if found is None:
            return error(404, "not_found", f"automation {ref!r} not found in {entity!r}")
        del self.automations[found["id"]]
        return httpx.Response(204)

    def _test(self, body: Any, query: dict[str, str], entity: str, ref: str) -> httpx.Response:
        found = self._find(self.automations, entity, ref)
        assert found is not None
        request = {
            "url": "https://ci.test/hook",
            "webhook_id": "test-1",
            "headers": {},
            "body": found["action"]["payload"],
        }
        failing = found["name"].startswith("failing")
        response = (
            None if failing else {"status": 200, "latency_ms": 3.5, "headers": {}, "body": "ok"}
        )
        return ok(
            {
                "ok": not failing,
                "error": "connection refused" if failing else None,
                "request": request,
                "response": response,
            }
        )

    # -- integrations and secrets -----------------------------------------------------------------

    def _integrations(self, body: Any, query: dict[str, str], entity: str) -> httpx.Response:
        return ok(
            {"integrations": [i for i in self.integrations.values() if i["entity"] == entity]}
        )

    def _new_integration(self, body: Any, query: dict[str, str], entity: str) -> httpx.Response:
        if self.role != "admin":
            return error(403, "forbidden", "this needs the admin role")
        view = {
            "id": str(uuid.uuid4()),
            "entity": entity,
            "name": body["name"],
            "type": "webhook",
            "url": body["url"],
            "headers": body.get("headers", {}),
            "description": body.get("description", ""),
            "enabled": True,
            "active": True,
            "disabled_reason": None,
            "signing_secrets": [{"id": "s1", "hint": "whsec_ab…", "active": True}],
            "revision": 1,
            "created_by": self.user,
            "created_at": "2026-01-03T00:00:00+00:00",
            "updated_at": "2026-01-03T00:00:00+00:00",
        }
        self.integrations[view["id"]] = view
        return ok({**view, "signing_secret": body.get("secret") or "whsec_generated"}, 201)

    def _delete_integration(
        self, body: Any, query: dict[str, str], entity: str, ref: str
    ) -> httpx.Response:
        found = self._find(self.integrations, entity, ref)
        assert found is not None
        del self.integrations[found["id"]]
        return httpx.Response(204)

    def _secrets(self, body: Any, query: dict[str, str], entity: str) -> httpx.Response:
        names = sorted(n for e, n in self.secrets if e == entity)
        return ok({"secrets": [{"name": n, "hint": "…", "created_by": self.user} for n in names]})

    def _put_secret(
        self, body: Any, query: dict[str, str], entity: str, name: str
    ) -> httpx.Response:
        created = (entity, name) not in self.secrets
        self.secrets[(entity, name)] = body["value"]
        return ok({"name": name, "hint": "…"}, 201 if created else 200)

    # -- deliveries ----------------------------------------------------------------------------

    def _deliveries(self, body: Any, query: dict[str, str], entity: str) -> httpx.Response:
        found = [
            d
            for d in self.deliveries
            if d["entity"] == entity
            and query.get("status") in (None, d["status"])
            and query.get("automation") in (None, d["automation"]["name"], d["automation"]["id"])
        ]
        start = int(query.get("after", 0))
        limit = int(query.get("limit", 50))
        page = found[start : start + limit]
        more = start + limit < len(found)
        return ok({"deliveries": page, "next": str(start + limit) if more else None})

    def _delivery(self, body: Any, query: dict[str, str], entity: str, did: str) -> httpx.Response:
        for d in self.deliveries:
            if d["id"] == did:
                attempt = {
                    "n": 1,
                    "round": 0,
                    "at": "2026-01-03T00:00:00+00:00",
                    "status": 500,
                    "latency_ms": 9,
                    "verdict": "retry",
                    "error": None,
                }
                return ok({**d, "attempt_log": [attempt]})
        return error(404, "not_found", f"delivery {did!r} not found")

    def _redeliver(self, body: Any, query: dict[str, str], entity: str, did: str) -> httpx.Response:
        return ok({"request_id": "r1", "delivery_id": did, "webhook_id": did}, 202)

    def add_delivery(
        self, entity: str, automation: str, status: str = "delivered"
    ) -> dict[str, Any]:
        delivery = {
            "id": str(uuid.uuid4()),
            "webhook_id": "",
            "entity": entity,
            "automation": {"id": self._automation_id(entity, automation), "name": automation},
            "event": {"id": "e1", "type": "model.alias.added", "subject": f"{entity}/model/X"},
            "status": status,
            "attempts": 1,
            "created_at": "2026-01-03T00:00:00+00:00",
            "last_status": 200 if status == "delivered" else 500,
            "last_error": None,
            "payload": {"v": 1},
        }
        self.deliveries.insert(0, delivery)
        return delivery

    def _automation_id(self, entity: str, name: str) -> str:
        found = self._find(self.automations, entity, name)
        return found["id"] if found else f"gone-{name}"
