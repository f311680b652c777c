"""The common HTTP skeleton: authentication, access, JSON errors, request ids, limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cairn_shared.auth.principal import Principal
from cairn_shared.auth.roles import Role
from cairn_shared.http.access import require_role
from cairn_shared.http.app import base_app
from cairn_shared.http.auth_cache import AUTH_CACHE, AuthCache
from cairn_shared.http.requests import entity_param, read_json
from cairn_shared.settings import Settings
from cairn_shared.testing import FakeIdentityStore
from pydantic import BaseModel

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]
ALICE = {"Authorization": "Bearer alice-key"}
routes = web.RouteTableDef()


class Body(BaseModel):
    name: str


@routes.post("/v1/entities/{entity}/things")
async def create_thing(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.MEMBER)
    body = await read_json(request, Body)
    return web.json_response({"entity": entity, "name": body.name}, status=201)


@routes.get("/v1/boom")
async def boom(_request: web.Request) -> web.Response:
    raise RuntimeError("secret internals")


@routes.get("/v1/gone")
async def gone(_request: web.Request) -> web.Response:
    raise ConnectionResetError("Connection lost")  # what reading a body raises after a reset


@pytest.fixture
def identity() -> FakeIdentityStore:
    return FakeIdentityStore(
        {
            "alice-key": Principal(user="alice", roles={"alice": Role.ADMIN, "team": Role.VIEWER}),
        }
    )


@pytest.fixture
async def client(aiohttp_client: ClientFactory, identity: FakeIdentityStore) -> Client:
    app = base_app(Settings(service="test", max_body_bytes=2048), routes=routes)
    app[AUTH_CACHE] = AuthCache(identity)
    return await aiohttp_client(app)


async def test_health_and_metrics_need_no_key(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    metrics = await client.get("/metrics")
    assert metrics.status == 200
    assert "cairn_http_requests" in await metrics.text()


@pytest.mark.parametrize("header", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "x"}])
async def test_a_missing_or_wrong_key_is_401(client: Client, header: dict[str, str]) -> None:
    response = await client.post("/v1/entities/alice/things", json={"name": "x"}, headers=header)

    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


async def test_another_entity_is_404_and_a_lesser_role_is_403(
    client: Client,
) -> None:
    other = await client.post("/v1/entities/bob/things", json={"name": "x"}, headers=ALICE)
    viewer = await client.post("/v1/entities/team/things", json={"name": "x"}, headers=ALICE)
    own = await client.post("/v1/entities/alice/things", json={"name": "x"}, headers=ALICE)

    assert other.status == 404
    assert viewer.status == 403
    assert "member" in (await viewer.json())["error"]["message"]
    assert own.status == 201


async def test_bad_input_is_a_json_400_with_the_field(
    client: Client,
) -> None:
    bad_body = await client.post("/v1/entities/alice/things", json={"nom": 1}, headers=ALICE)
    bad_name = await client.post("/v1/entities/Alice!/things", json={"name": "x"}, headers=ALICE)
    not_json = await client.post("/v1/entities/alice/things", data=b"name=x", headers=ALICE)

    assert bad_body.status == 400
    assert (await bad_body.json())["error"]["details"]["errors"][0]["field"] == "name"
    assert bad_name.status == 400
    assert not_json.status == 415


async def test_bodies_over_the_limit_are_413(
    client: Client,
) -> None:
    response = await client.post(
        "/v1/entities/alice/things", json={"name": "x" * 4096}, headers=ALICE
    )

    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"


async def test_unexpected_errors_are_500_without_internals_and_with_the_request_id(
    client: Client,
) -> None:
    response = await client.get("/v1/boom", headers={**ALICE, "X-Request-Id": "req-42"})

    body = await response.json()
    assert response.status == 500
    assert "secret" not in body["error"]["message"]
    assert body["error"]["request_id"] == "req-42"


async def test_a_client_that_went_away_is_not_a_server_error(client: Client) -> None:
    response = await client.get("/v1/gone", headers=ALICE)

    assert response.status == 499
    assert (await response.json())["error"]["code"] == "client_gone"


async def test_unknown_routes_are_json_404(client: Client) -> None:
    response = await client.get("/nowhere", headers=ALICE)

    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    assert response.headers["X-Request-Id"]


async def test_keys_are_cached_so_auth_costs_no_round_trip(
    client: Client, identity: FakeIdentityStore
) -> None:
    for _ in range(5):
        await client.post("/v1/entities/alice/things", json={"name": "x"}, headers=ALICE)

    assert identity.lookups == 1
