"""Outages of S3, MongoDB or Kafka reach the client as a 503 it may retry, never a 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiokafka.errors import KafkaTimeoutError
from cairn_shared.auth.principal import Principal
from cairn_shared.http.app import base_app
from cairn_shared.http.auth_cache import AUTH_CACHE, AuthCache
from cairn_shared.settings import Settings
from cairn_shared.testing import FakeIdentityStore
from cairn_storage.entrypoints.http.errors import dependency_errors
from minio.error import S3Error
from pymongo.errors import ServerSelectionTimeoutError
from urllib3.exceptions import MaxRetryError

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]

OUTAGES: dict[str, Exception] = {
    "s3-error": S3Error(None, "InternalError", "boom", "r", "h", None),  # type: ignore[arg-type]
    "s3-down": MaxRetryError(None, "/", "refused"),  # type: ignore[arg-type]
    "mongo": ServerSelectionTimeoutError("no servers"),
    "kafka": KafkaTimeoutError(),
}
routes = web.RouteTableDef()


@routes.get("/v1/fail/{what}")
async def fail(request: web.Request) -> web.Response:
    raise OUTAGES[request.match_info["what"]]


@pytest.fixture
async def client(aiohttp_client: ClientFactory) -> Client:
    app = base_app(Settings(service="test"), routes=routes)
    app.middlewares.append(dependency_errors)
    app[AUTH_CACHE] = AuthCache(FakeIdentityStore({"key": Principal(user="alice")}))
    return await aiohttp_client(app)


@pytest.mark.parametrize("what", sorted(OUTAGES))
async def test_an_outage_is_a_503(client: Client, what: str) -> None:
    response = await client.get(f"/v1/fail/{what}", headers={"Authorization": "Bearer key"})

    assert response.status == 503
    assert (await response.json())["error"]["code"] == "unavailable"
