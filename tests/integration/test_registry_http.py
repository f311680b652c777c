"""The registry's HTTP API with its consumer running in the app, on the real broker and database:
concurrent alias moves, roles and protected aliases, search, history, registries, bad input."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cairn_registry.bootstrap import create_app
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.mongo import Database, Document
from cairn_shared.settings import Settings
from pymongo import AsyncMongoClient

from tests.integration.test_registry_consumer import (
    COLLECTION,
    Team,
    alias_change,
    alias_holders,
    committed,
    link,
    linked_versions,
    make_team,
    publish,
    registry_events,
    result_of,
)

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]


@pytest.fixture
async def team(mongo: AsyncMongoClient[Document], unique: str) -> Team:
    return await make_team(mongo, unique)


@pytest.fixture
async def publisher(topics: Settings) -> AsyncIterator[KafkaEventPublisher]:
    publisher = KafkaEventPublisher(topics)
    await publisher.start()
    yield publisher
    await publisher.stop()


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, topics: Settings, mongo: AsyncMongoClient[Document]
) -> Client:
    return await aiohttp_client(create_app(topics))


@pytest.fixture
def db(mongo: AsyncMongoClient[Document], settings: Settings) -> Database:
    return mongo[settings.database_name]


def url(team: Team, collection: str = COLLECTION, registry: str = "model") -> str:
    return f"/v1/entities/{team.entity}/registries/{registry}/collections/{quote(collection)}"


async def body(response: Any) -> Any:
    return await response.json()


async def command_outcome(client: Client, team: Team, answer: Any) -> dict[str, Any]:
    """The result of the command an answer names, polled as a client would after a 202."""
    found: dict[str, Any] = await answer.json()
    async with asyncio.timeout(60):
        while found["status"] == "pending":
            await asyncio.sleep(0.2)
            status = await client.get(
                f"/v1/entities/{team.entity}/commands/{found['command_id']}",
                headers=team.viewer.headers,
            )
            found = await status.json()
    return found


async def test_twenty_concurrent_alias_moves_end_with_one_holder(
    client: Client, publisher: KafkaEventPublisher, db: Database, team: Team, settings: Settings
) -> None:
    await linked_versions(publisher, db, team.entity, 5, actor=team.member.name)
    targets = [i % 5 for i in range(20)]
    random.shuffle(targets)

    answers = await asyncio.gather(
        *(
            client.put(
                f"{url(team)}/aliases/production",
                json={"version": f"v{t}"},
                headers=team.admin.headers,
            )
            for t in targets
        )
    )

    # Applied one at a time by the collection's owner; on a busy database server some may
    # outlast the 10 s wait: a 202 names the command, which the client then polls.
    for answer in answers:
        assert answer.status in (200, 202), await answer.text()
        assert (await command_outcome(client, team, answer))["status"] == "done"
    holders = await alias_holders(db, "production")
    assert len(holders) == 1
    holder = f"v{holders[0]}"
    collection = await body(await client.get(url(team), headers=team.viewer.headers))
    assert collection["aliases"]["production"] == holder
    history = await body(
        await client.get(
            f"{url(team)}/history?alias=production&limit=500", headers=team.viewer.headers
        )
    )
    last = history["entries"][-1]
    assert (last["action"], last["version"], last["actor"]) == (
        "alias_added",
        holder,
        team.admin.name,
    )
    now = quote((datetime.now().astimezone() + timedelta(seconds=1)).isoformat())
    held = await body(
        await client.get(
            f"{url(team)}/history?alias=production&at={now}", headers=team.viewer.headers
        )
    )
    assert held["version"] == holder
    moves = [
        e.type
        for e in await registry_events(settings)
        if e.type.startswith("model.alias.") and e.data.get("alias") == "production"
    ]
    # Every add but the first is paired with the removal from the previous holder.
    assert moves.count("model.alias.added") == moves.count("model.alias.removed") + 1


async def test_a_member_cannot_move_production_and_nothing_changes(
    client: Client, publisher: KafkaEventPublisher, db: Database, team: Team
) -> None:
    await linked_versions(publisher, db, team.entity, 2, actor=team.member.name)
    put = await client.put(
        f"{url(team)}/aliases/production", json={"version": "v0"}, headers=team.admin.headers
    )
    assert put.status == 200
    before = [await db[c].count_documents({}) for c in ("links", "history")]

    moved = await client.put(
        f"{url(team)}/aliases/production", json={"version": "v1"}, headers=team.member.headers
    )
    removed = await client.delete(f"{url(team)}/aliases/production", headers=team.member.headers)
    unlinked = await client.delete(f"{url(team)}/versions/v0", headers=team.member.headers)

    for answer in (moved, removed, unlinked):
        assert answer.status == 403
        assert (await answer.json())["error"]["code"] == "alias_protected"
    assert [await db[c].count_documents({}) for c in ("links", "history")] == before
    production = await body(
        await client.get(f"{url(team)}/versions/production", headers=team.member.headers)
    )
    assert production["version"] == "v0"
    # The consumer refuses too, should a command bypass the HTTP edge.
    bypass = alias_change(team.entity, "production", 1, admin=False, actor=team.member.name)
    await publish(publisher, bypass)
    assert (await result_of(db, bypass.id))["code"] == "alias_protected"
    assert await alias_holders(db, "production") == [0]
    # Ordinary aliases are a member's business.
    staging = await client.put(
        f"{url(team)}/aliases/staging", json={"version": "v1"}, headers=team.member.headers
    )
    assert (staging.status, (await staging.json())["version"]) == (200, "v1")
    unlink = await client.delete(f"{url(team)}/versions/v1", headers=team.member.headers)
    assert unlink.status == 200
    left = await body(await client.get(url(team), headers=team.member.headers))
    assert left["aliases"] == {"latest": "v0", "production": "v0"}
    assert left["version_count"] == 1


async def test_a_viewer_reads_but_cannot_change(
    client: Client, publisher: KafkaEventPublisher, db: Database, team: Team
) -> None:
    await linked_versions(publisher, db, team.entity, 2, actor=team.member.name)
    history = await db["history"].count_documents({})

    for who in (team.viewer, team.restricted):
        for path in ("", "/versions", "/versions/latest", "/versions/v0", "/history"):
            answer = await client.get(url(team) + path, headers=who.headers)
            assert answer.status == 200, (who.name, path, await answer.text())
    changes = [
        client.put(
            f"{url(team)}/aliases/staging", json={"version": "v0"}, headers=team.viewer.headers
        ),
        client.delete(f"{url(team)}/versions/v0", headers=team.viewer.headers),
        client.patch(url(team), json={"tags": ["x"]}, headers=team.viewer.headers),
    ]
    for answer in await asyncio.gather(*changes):
        assert answer.status == 403
    outsider = await client.get(url(team), headers=team.outsider.headers)
    assert outsider.status == 404
    assert await db["history"].count_documents({}) == history


async def test_search_collections_and_versions(
    client: Client, publisher: KafkaEventPublisher, db: Database, team: Team
) -> None:
    await linked_versions(publisher, db, team.entity, 3, actor=team.member.name)
    other = link(team.entity, index=0, collection="Other Model")
    await publish(publisher, other)
    await result_of(db, other.id)
    patched = await client.patch(
        url(team),
        json={"description": "digits", "tags": ["vision", "prod"]},
        headers=team.member.headers,
    )
    assert patched.status == 200, await patched.text()
    base = f"/v1/entities/{team.entity}/registries/model/collections"

    async def names(query: dict[str, str]) -> tuple[list[str], str | None]:
        answer = await client.get(base, params=query, headers=team.viewer.headers)
        assert answer.status == 200, await answer.text()
        found = await answer.json()
        return [c["name"] for c in found["collections"]], found["next"]

    assert await names({"filter": json.dumps({"tags": "vision"})}) == ([COLLECTION], None)
    assert await names({"filter": json.dumps({"name": {"$regex": "^other", "$options": "i"}})}) == (
        ["Other Model"],
        None,
    )
    assert await names({"filter": json.dumps({"$nor": [{"tags": "vision"}]})}) == (
        ["Other Model"],
        None,
    )
    first, cursor = await names({"limit": "1"})
    assert (first, cursor) == (["Other Model"], "Other Model")
    assert await names({"limit": "1", "after": cursor or ""}) == ([COLLECTION], COLLECTION)

    async def versions(spec: dict[str, Any]) -> list[str]:
        answer = await client.get(
            f"{url(team)}/versions",
            params={"filter": json.dumps(spec)},
            headers=team.viewer.headers,
        )
        assert answer.status == 200, await answer.text()
        return [v["version"] for v in (await answer.json())["versions"]]

    assert await versions({"metadata.acc": {"$gte": 0.91}}) == ["v2", "v1"]
    assert await versions({"metadata.val.loss": {"$lt": 0.5}}) == ["v2"]
    assert await versions({"alias": "latest"}) == ["v2"]
    assert await versions({"$or": [{"alias": "latest"}, {"version": "v0"}]}) == ["v2", "v0"]
    bad = await client.get(
        f"{url(team)}/versions",
        params={"filter": '{"alias": {"$near": 1}}'},
        headers=team.viewer.headers,
    )
    assert (bad.status, (await bad.json())["error"]["code"]) == (400, "invalid_filter")
    history = await body(await client.get(f"{url(team)}/history", headers=team.viewer.headers))
    update = history["entries"][-1]
    assert (update["action"], update["actor"]) == ("collection_updated", team.member.name)
    assert update["details"] == {"description": "digits", "tags": ["vision", "prod"]}


async def test_history_says_who_held_an_alias_at_a_time(
    client: Client, publisher: KafkaEventPublisher, db: Database, team: Team
) -> None:
    await linked_versions(publisher, db, team.entity, 2, actor=team.member.name)
    for change in ({"version": "v0"}, {"version": "v1"}, None):
        if change is None:
            answer = await client.delete(
                f"{url(team)}/aliases/staging", headers=team.member.headers
            )
        else:
            answer = await client.put(
                f"{url(team)}/aliases/staging", json=change, headers=team.member.headers
            )
        assert answer.status == 200, await answer.text()
    entries = (
        await body(
            await client.get(f"{url(team)}/history?alias=staging", headers=team.viewer.headers)
        )
    )["entries"]
    added_v0, removed_v0, added_v1, removed_v1 = (datetime.fromisoformat(e["at"]) for e in entries)
    assert removed_v0 == added_v1  # one move, one instant

    async def held(at: datetime) -> str | None:
        answer = await client.get(
            f"{url(team)}/history",
            params={"alias": "staging", "at": at.isoformat()},
            headers=team.viewer.headers,
        )
        assert answer.status == 200, await answer.text()
        return (await answer.json())["version"]  # type: ignore[no-any-return]

    ms = timedelta(milliseconds=1)
    assert await held(added_v0 - ms) is None
    assert await held(added_v0) == "v0"
    assert await held(added_v1 - ms) == "v0"
    assert await held(added_v1) == "v1"
    assert await held(removed_v1) is None
    junk = await client.get(
        f"{url(team)}/history",
        params={"alias": "staging", "at": "noon"},
        headers=team.viewer.headers,
    )
    assert junk.status == 400


async def test_registries_are_an_admins_settings(
    client: Client, publisher: KafkaEventPublisher, db: Database, team: Team
) -> None:
    base = f"/v1/entities/{team.entity}/registries"
    new = {
        "name": "llm",
        "artifact_types": ["*model*", "checkpoint"],
        "protected_aliases": ["champion"],
    }
    assert (await client.post(base, json=new, headers=team.member.headers)).status == 403
    created = await client.post(base, json=new, headers=team.admin.headers)
    assert created.status == 201, await created.text()
    assert (await client.post(base, json=new, headers=team.admin.headers)).status == 409
    model = {"name": "model", "artifact_types": ["*"]}
    assert (await client.post(base, json=model, headers=team.admin.headers)).status == 409
    bad = {"name": "x", "artifact_types": ["a/b"]}
    assert (await client.post(base, json=bad, headers=team.admin.headers)).status == 400
    listed = await body(await client.get(base, headers=team.restricted.headers))
    assert [r["name"] for r in listed["registries"]] == ["dataset", "llm", "model"]

    await publish(publisher, committed(team.entity, 0, artifact_type="checkpoint", name="ckpt"))
    request = link(team.entity, index=0, name="ckpt", collection="judge", registry="llm")
    await publish(publisher, request)
    assert (await result_of(db, request.id))["status"] == "done"
    judge = url(team, "judge", registry="llm")
    champion = await client.put(
        f"{judge}/aliases/champion", json={"version": "v0"}, headers=team.member.headers
    )
    assert champion.status == 403
    production = await client.put(
        f"{judge}/aliases/production", json={"version": "v0"}, headers=team.member.headers
    )
    assert production.status == 200  # not protected in this registry

    unprotect = await client.patch(
        f"{base}/llm", json={"protected_aliases": []}, headers=team.admin.headers
    )
    assert (unprotect.status, (await unprotect.json())["revision"]) == (200, 1)
    champion = await client.put(
        f"{judge}/aliases/champion", json={"version": "v0"}, headers=team.member.headers
    )
    assert champion.status == 200


async def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    client: Client, publisher: KafkaEventPublisher, db: Database, team: Team
) -> None:
    await linked_versions(publisher, db, team.entity, 1, actor=team.member.name)
    history = await db["history"].count_documents({})
    aliases = f"{url(team)}/aliases"
    h = team.admin.headers
    cases = [
        (client.put(f"{aliases}/staging", data="v0", headers=h), 415),
        (client.put(f"{aliases}/staging", json={"version": "0"}, headers=h), 400),
        (client.put(f"{aliases}/staging", json={"version": "v0", "x": 1}, headers=h), 400),
        (client.put(f"{aliases}/v3", json={"version": "v0"}, headers=h), 400),
        (client.put(f"{aliases}/latest", json={"version": "v0"}, headers=h), 400),
        (client.put(f"{aliases}/staging", json={"version": "v9"}, headers=h), 404),
        (client.delete(f"{aliases}/staging", headers=h), 404),
        (client.delete(f"{url(team)}/versions/latest", headers=h), 400),
        (client.put(f"{url(team, 'nope')}/aliases/a", json={"version": "v0"}, headers=h), 404),
        (client.get(url(team, "a:b"), headers=h), 400),
        (client.get(url(team, registry="nope"), headers=h), 404),
        (client.get(f"/v1/entities/{team.entity}/registries/nope", headers=h), 404),
        (client.get(f"{url(team)}/versions?limit=abc", headers=h), 400),
        (client.get(f"{url(team)}/versions?after=latest", headers=h), 400),
        (client.get(f"{url(team)}/versions?filter=%7B", headers=h), 400),
        (client.get(f"{url(team)}/history?at=2026-01-01", headers=h), 400),
        (client.patch(url(team), json={"tags": [""]}, headers=h), 400),
        (client.patch(url(team), json={"tags": "x"}, headers=h), 400),
    ]
    for request, status in cases:
        answer = await request
        assert answer.status == status, (answer.url, await answer.text())
        assert "error" in await answer.json()
    assert await db["history"].count_documents({}) == history
