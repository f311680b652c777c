"""The identity store on the real MongoDB wire-protocol server."""

from __future__ import annotations

import asyncio

from cairn_shared.auth.identity_store import MongoIdentityStore
from cairn_shared.auth.roles import Role
from cairn_shared.mongo import Document
from cairn_shared.settings import Settings
from pymongo import AsyncMongoClient


async def test_every_replica_may_bootstrap_the_admin_key_at_once(
    mongo: AsyncMongoClient[Document], settings: Settings
) -> None:
    store = MongoIdentityStore(mongo[settings.database_name])
    await store.setup()

    await asyncio.gather(*(store.ensure_admin_key("cairn_root") for _ in range(5)))

    admin = await store.principal_for_key("cairn_root")
    assert admin is not None
    assert admin.is_admin
    assert admin.role_in("anyone") is Role.ADMIN
    db = mongo[settings.database_name]
    assert await db["api_keys"].count_documents({}) == 1
    assert await db["memberships"].count_documents({}) == 1


async def test_users_teams_and_roles(mongo: AsyncMongoClient[Document], settings: Settings) -> None:
    store = MongoIdentityStore(mongo[settings.database_name])
    await store.create_user("alice")
    await store.create_user("bob")
    key = await store.create_api_key("bob", "laptop")
    assert await store.create_team("vision", owner="alice")
    assert not await store.create_team("alice", owner="bob")  # taken by a user

    await store.set_role("vision", "bob", Role.MEMBER)

    bob = await store.principal_for_key(key)
    assert bob is not None
    assert bob.role_in("vision") is Role.MEMBER
    assert bob.role_in("bob") is Role.ADMIN
    assert bob.role_in("alice") is None
    assert await store.principal_for_key("cairn_unknown") is None
    assert await store.members("vision") == {"alice": Role.ADMIN, "bob": Role.MEMBER}
