"""Ingest's link route: what a valid request publishes; a bad one publishes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cairn_ingest.entrypoints.http import links
from cairn_shared.auth.principal import Principal
from cairn_shared.auth.roles import Role
from cairn_shared.events.registry import ModelLinkRequested
from cairn_shared.events.schema_registry import SCHEMAS
from cairn_shared.http.app import base_app
from cairn_shared.http.auth_cache import AUTH_CACHE, AuthCache
from cairn_shared.http.keys import PUBLISHER
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.settings import Settings
from cairn_shared.testing import FakeEventPublisher, FakeIdentityStore

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]
ADMIN = {"Authorization": "Bearer admin-key"}
MEMBER = {"Authorization": "Bearer member-key"}
VIEWER = {"Authorization": "Bearer viewer-key"}
URL = "/v1/entities/team/links"


@pytest.fixture
def published() -> FakeEventPublisher:
    return FakeEventPublisher()


@pytest.fixture
async def client(aiohttp_client: ClientFactory, published: FakeEventPublisher) -> Client:
    app = base_app(Settings(service="test"), routes=links.routes)
    app[AUTH_CACHE] = AuthCache(
        FakeIdentityStore(
            {
                "admin-key": Principal(user="ada", roles={"team": Role.ADMIN}),
                "member-key": Principal(user="mia", roles={"team": Role.MEMBER}),
                "viewer-key": Principal(user="vic", roles={"team": Role.VIEWER}),
            }
        )
    )
    app[PUBLISHER] = cast("KafkaEventPublisher", published)
    return await aiohttp_client(app)


def link(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "target": "model-registry/Quickstart Model Registry",
        "source": "team/proj/model_abc",
        "source_submission_id": "sub-1",
        "aliases": ["staging", "latest"],
        "run_id": "abc",
        "client_id": str(uuid.uuid4()),
    }
    body.update(changes)
    return body


async def test_a_link_is_a_command_keyed_by_the_registered_model(
    client: Client, published: FakeEventPublisher
) -> None:
    response = await client.post(URL, json=link(), headers=MEMBER)

    assert response.status == 202, await response.text()
    [(envelope, key)] = published.published
    command = SCHEMAS.decode(envelope)
    assert isinstance(command, ModelLinkRequested)
    assert key == "team/model/Quickstart Model Registry" == command.collection_id
    assert command.aliases == ["staging"]  # latest is automatic
    assert not command.requested_by_admin
    assert envelope.actor == "mia"


async def test_the_newer_registry_paths_and_an_admin_flag(
    client: Client, published: FakeEventPublisher
) -> None:
    body = link(target="wandb-registry-model/churn", source_version_index=3)
    del body["source_submission_id"]

    response = await client.post(URL, json=body, headers=ADMIN)

    assert response.status == 202
    command = SCHEMAS.decode(published.published[0][0])
    assert isinstance(command, ModelLinkRequested)
    assert (command.registry, command.collection, command.source_version_index) == (
        "model",
        "churn",
        3,
    )
    assert command.requested_by_admin


async def test_a_retried_link_is_the_same_command(
    client: Client, published: FakeEventPublisher
) -> None:
    body = link()
    await client.post(URL, json=body, headers=MEMBER)
    await client.post(URL, json=body, headers=MEMBER)

    assert published.published[0][0].id == published.published[1][0].id


@pytest.mark.parametrize(
    "changes",
    [
        {"target": "my_entity/my_project/my_reg_model"},  # a path, not a registry
        {"target": "model-registry/a:b"},
        {"target": "other/model-registry/x"},  # another entity's registry
        {"source": "other/proj/model_abc"},
        {"source": "proj/model_abc"},
        {"source": "team/proj/bad name!"},
        {"aliases": ["prod/1"]},
        {"source_version_index": 2},  # both ways of naming the version
    ],
)
async def test_bad_links_are_400_and_publish_nothing(
    client: Client, published: FakeEventPublisher, changes: dict[str, Any]
) -> None:
    response = await client.post(URL, json=link(**changes), headers=MEMBER)

    assert response.status == 400, await response.text()
    assert published.published == []


async def test_a_viewer_cannot_link(client: Client, published: FakeEventPublisher) -> None:
    response = await client.post(URL, json=link(), headers=VIEWER)

    assert response.status == 403
    assert published.published == []
