"""The automations service's routes (``docs/http-api.md``, section automations)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from cairn.http import segment
from cairn.session import Session

ROOT = "/automations/v1"


def entity_url(entity: str) -> str:
    return f"{ROOT}/entities/{segment(entity)}"


def _query(**params: Any) -> str:
    kept = {k: v for k, v in params.items() if v is not None}
    return f"?{urlencode(kept)}" if kept else ""


# -- automations -------------------------------------------------------------------------------


def search_automations(
    session: Session, entity: str | None = None, name: str | None = None
) -> list[dict[str, Any]]:
    """Of every entity the caller may see, or of ``entity``; optionally of one name."""
    answer = session.api.get(f"{ROOT}/automations" + _query(entity=entity, name=name))
    return list(answer["automations"])


def create_automation(session: Session, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    return dict(session.api.post(f"{entity_url(entity)}/automations", body))


def automation_url(entity: str, ref: str) -> str:
    return f"{entity_url(entity)}/automations/{segment(ref)}"


def get_automation(session: Session, entity: str, ref: str) -> dict[str, Any]:
    return dict(session.api.get(automation_url(entity, ref)))


def replace_automation(
    session: Session, entity: str, ref: str, body: dict[str, Any]
) -> dict[str, Any]:
    return dict(session.api.request("PUT", automation_url(entity, ref), json=body))


def patch_automation(
    session: Session, entity: str, ref: str, body: dict[str, Any]
) -> dict[str, Any]:
    return dict(session.api.request("PATCH", automation_url(entity, ref), json=body))


def delete_automation(session: Session, entity: str, ref: str) -> None:
    session.api.request("DELETE", automation_url(entity, ref))


def send_test(
    session: Session, entity: str, ref: str, event_type: str | None = None
) -> dict[str, Any]:
    body = {} if event_type is None else {"event_type": event_type}
    return dict(session.api.post(f"{automation_url(entity, ref)}/test", body))


# -- integrations and secrets -------------------------------------------------------------------


def list_integrations(session: Session, entity: str) -> list[dict[str, Any]]:
    return list(session.api.get(f"{entity_url(entity)}/integrations")["integrations"])


def integration_url(entity: str, ref: str) -> str:
    return f"{entity_url(entity)}/integrations/{segment(ref)}"


def get_integration(session: Session, entity: str, ref: str) -> dict[str, Any]:
    return dict(session.api.get(integration_url(entity, ref)))


def create_integration(session: Session, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    return dict(session.api.post(f"{entity_url(entity)}/integrations", body))


def delete_integration(session: Session, entity: str, ref: str) -> None:
    session.api.request("DELETE", integration_url(entity, ref))


def send_integration_test(
    session: Session, entity: str, ref: str, body: dict[str, Any]
) -> dict[str, Any]:
    return dict(session.api.post(f"{integration_url(entity, ref)}/test", body))


def list_secrets(session: Session, entity: str) -> list[dict[str, Any]]:
    return list(session.api.get(f"{entity_url(entity)}/secrets")["secrets"])


def put_secret(session: Session, entity: str, name: str, value: str) -> dict[str, Any]:
    url = f"{entity_url(entity)}/secrets/{segment(name)}"
    return dict(session.api.request("PUT", url, json={"value": value}))


def delete_secret(session: Session, entity: str, name: str) -> None:
    session.api.request("DELETE", f"{entity_url(entity)}/secrets/{segment(name)}")


# -- deliveries ----------------------------------------------------------------------------------


def iter_deliveries(
    session: Session,
    entity: str,
    *,
    automation: str | None = None,
    status: str | None = None,
    page: int = 50,
) -> Iterator[dict[str, Any]]:
    """Newest first, following the pages."""
    after: str | None = None
    while True:
        query = _query(automation=automation, status=status, limit=page, after=after)
        answer = session.api.get(f"{entity_url(entity)}/deliveries{query}")
        yield from answer.get("deliveries", [])
        after = answer.get("next")
        if not after:
            return


def get_delivery(session: Session, entity: str, delivery_id: str) -> dict[str, Any]:
    return dict(session.api.get(f"{entity_url(entity)}/deliveries/{segment(delivery_id)}"))


def redeliver(session: Session, entity: str, delivery_id: str) -> dict[str, Any]:
    url = f"{entity_url(entity)}/deliveries/{segment(delivery_id)}/redeliver"
    return dict(session.api.post(url, {}))
