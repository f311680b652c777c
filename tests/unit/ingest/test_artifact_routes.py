"""Ingest's artifact routes with fakes of its ports: what is published, and when nothing is."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cairn_ingest.entrypoints.http import artifacts
from cairn_ingest.entrypoints.http.app_keys import PEERS
from cairn_shared.auth.principal import Principal
from cairn_shared.auth.roles import Role
from cairn_shared.http.app import base_app
from cairn_shared.http.auth_cache import AUTH_CACHE, AuthCache
from cairn_shared.http.keys import PUBLISHER
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.manifests import canonical_bytes
from cairn_shared.settings import Settings
from cairn_shared.testing import FakeEventPublisher, FakeIdentityStore

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]
MEMBER = {"Authorization": "Bearer member-key"}
VIEWER = {"Authorization": "Bearer viewer-key"}
URL = "/v1/entities/team/projects/proj/artifacts"
FILE = "b" * 64


class FakePeers:
    """``ArtifactPeers``: the types manifest knows, the digests storage lacks."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}
        self.missing: set[str] = set()
        self.checked: list[str] = []

    async def artifact_type(
        self, _request: web.Request, _entity: str, _project: str, name: str
    ) -> str | None:
        return self.types.get(name)

    async def missing_blobs(
        self, _request: web.Request, _entity: str, digests: Sequence[str]
    ) -> list[str]:
        self.checked = list(digests)
        return sorted(self.missing & set(digests))


@pytest.fixture
def peers() -> FakePeers:
    return FakePeers()


@pytest.fixture
def published() -> FakeEventPublisher:
    return FakeEventPublisher()


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, peers: FakePeers, published: FakeEventPublisher
) -> Client:
    app = base_app(Settings(service="test"), routes=artifacts.routes)
    app[AUTH_CACHE] = AuthCache(
        FakeIdentityStore(
            {
                "member-key": Principal(user="mia", roles={"team": Role.MEMBER}),
                "viewer-key": Principal(user="vic", roles={"team": Role.VIEWER}),
            }
        )
    )
    app[PEERS] = peers
    app[PUBLISHER] = cast("KafkaEventPublisher", published)
    return await aiohttp_client(app)


def submission(**changes: Any) -> dict[str, Any]:
    raw = canonical_bytes(
        {"contents": {"data/train.csv": {"digest": FILE, "size": 10}}, "version": 1}
    )
    body = {
        "name": "mnist",
        "type": "dataset",
        "metadata": {"rows": 10, "a.b": {"$c": 1}},
        "aliases": ["latest", "best"],
        "run_id": "run1",
        "client_id": str(uuid.UUID(int=7)),
        "manifest_digest": hashlib.sha256(raw).hexdigest(),
        "manifest_json": raw.decode(),
    }
    return body | changes


async def test_a_valid_submission_is_published_keyed_by_its_sequence(
    client: Client, peers: FakePeers, published: FakeEventPublisher
) -> None:
    body = submission()

    response = await client.post(URL, json=body, headers=MEMBER)

    assert response.status == 202, await response.text()
    answer = await response.json()
    assert answer["sequence"] == "team/proj/mnist"
    [(envelope, key)] = published.published
    assert key == envelope.subject == "team/proj/mnist"
    assert envelope.id == answer["submission_id"]
    assert envelope.type == "artifact.logged"
    assert envelope.actor == "mia"
    assert envelope.data["aliases"] == ["best"]  # latest is automatic
    assert envelope.data["file_count"] == 1
    assert envelope.data["size"] == 10
    assert envelope.data["metadata"] == {"rows": 10, "a.b": {"$c": 1}}
    assert peers.checked == sorted([FILE, body["manifest_digest"]])


async def test_a_retried_submission_publishes_the_same_event_id(
    client: Client, published: FakeEventPublisher
) -> None:
    first = await (await client.post(URL, json=submission(), headers=MEMBER)).json()
    again = await (await client.post(URL, json=submission(), headers=MEMBER)).json()
    other = await (
        await client.post(URL, json=submission(client_id=str(uuid.uuid4())), headers=MEMBER)
    ).json()

    assert first["submission_id"] == again["submission_id"] != other["submission_id"]
    assert len(published.published) == 3


async def test_another_type_under_the_name_is_a_409(
    client: Client, peers: FakePeers, published: FakeEventPublisher
) -> None:
    peers.types["mnist"] = "model"

    response = await client.post(URL, json=submission(), headers=MEMBER)

    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "type_conflict"
    assert error["message"] == "artifact 'mnist' is a 'model', not a 'dataset'"
    assert published.published == []


async def test_missing_blobs_are_a_409_that_lists_them(
    client: Client, peers: FakePeers, published: FakeEventPublisher
) -> None:
    body = submission()
    peers.missing = {FILE, body["manifest_digest"]}

    response = await client.post(URL, json=body, headers=MEMBER)

    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "missing_blobs"
    assert error["details"]["missing"] == sorted(peers.missing)
    assert published.published == []


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"name": "no/slash"}, "bad_request"),
        ({"aliases": ["a:b"]}, "bad_request"),
        ({"metadata": {f"k{i}": i for i in range(101)}}, "bad_request"),
        ({"manifest_digest": "0" * 64}, "digest_mismatch"),
        ({"client_id": "not-a-uuid"}, "invalid_request"),
        ({"unknown": 1}, "invalid_request"),
    ],
)
async def test_bad_submissions_are_400_and_publish_nothing(
    client: Client, published: FakeEventPublisher, changes: dict[str, Any], code: str
) -> None:
    response = await client.post(URL, json=submission(**changes), headers=MEMBER)

    assert response.status == 400
    assert (await response.json())["error"]["code"] == code
    assert published.published == []


async def test_a_viewer_may_not_submit_but_may_declare_use(
    client: Client, published: FakeEventPublisher
) -> None:
    refused = await client.post(URL, json=submission(), headers=VIEWER)
    body = {"run_id": "run1", "name": "mnist", "version_index": 2}
    used = await client.post(URL + "/used", json=body, headers=VIEWER)
    again = await client.post(URL + "/used", json=body, headers=VIEWER)

    assert refused.status == 403
    assert used.status == again.status == 202
    assert (await used.json())["event_id"] == (await again.json())["event_id"]
    [(envelope, key), _] = published.published
    assert key == "team/proj/mnist"
    assert envelope.type == "artifact.used"
    assert envelope.data == {"sequence": "team/proj/mnist", "version_index": 2, "run_id": "run1"}


@pytest.mark.parametrize(
    "body",
    [
        {"run_id": "", "name": "mnist", "version_index": 0},
        {"run_id": "run1", "name": "a/b", "version_index": 0},
        {"run_id": "run1", "name": "mnist", "version_index": -1},
    ],
)
async def test_a_bad_usage_is_a_400(
    client: Client, published: FakeEventPublisher, body: dict[str, Any]
) -> None:
    response = await client.post(URL + "/used", json=body, headers=VIEWER)

    assert response.status == 400
    assert published.published == []
