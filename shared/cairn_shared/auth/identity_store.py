"""The identity store in MongoDB (database ``cairn_identity``).

Every service reads it to authenticate callers; only ingest's identity routes and the
bootstrap of the first admin key write it, and every write is an insert or a whole-document
replace by an admin, so no document has two concurrent writers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from pymongo import ASCENDING, IndexModel

from cairn_shared.auth.keys import generate_key, hash_key
from cairn_shared.auth.principal import Principal
from cairn_shared.auth.roles import Role
from cairn_shared.mongo import Database, ensure_indexes, insert_once

IDENTITY_DATABASE = "cairn_identity"
ADMIN_USER = "admin"


class IdentityStore(Protocol):
    async def principal_for_key(self, key: str) -> Principal | None: ...


class MongoIdentityStore:
    def __init__(self, db: Database) -> None:
        self._users = db["users"]
        self._entities = db["entities"]
        self._memberships = db["memberships"]
        self._keys = db["api_keys"]
        self._projects = db["projects"]

    async def setup(self) -> None:
        await ensure_indexes(
            self._memberships,
            [IndexModel([("user", ASCENDING)]), IndexModel([("entity", ASCENDING)])],
        )
        await ensure_indexes(self._keys, [IndexModel([("user", ASCENDING)])])

    async def principal_for_key(self, key: str) -> Principal | None:
        record = await self._keys.find_one({"_id": hash_key(key)})
        if record is None or record.get("revoked_at") is not None:
            return None
        user = await self._users.find_one({"_id": record["user"]})
        if user is None:
            return None
        roles = {
            m["entity"]: Role(m["role"])
            async for m in self._memberships.find({"user": user["_id"]})
        }
        return Principal(user=user["_id"], is_admin=bool(user.get("is_admin")), roles=roles)

    async def ensure_admin_key(self, key: str) -> None:
        """The first admin key, from the environment; idempotent, so every replica may run it."""
        await self.create_user(ADMIN_USER, is_admin=True)
        await insert_once(self._keys, _key_document(key, ADMIN_USER, "bootstrap"))

    async def create_user(self, name: str, *, is_admin: bool = False) -> bool:
        """A user and its own entity, of which it is admin. False if the user existed."""
        created = await insert_once(
            self._users, {"_id": name, "is_admin": is_admin, "created_at": _now()}
        )
        await insert_once(self._entities, {"_id": name, "kind": "user", "created_at": _now()})
        # An insert, not an upsert: every replica bootstraps the admin at once on a fresh stack.
        await insert_once(self._memberships, _membership(name, name, Role.ADMIN))
        return created

    async def create_team(self, name: str, *, owner: str) -> bool:
        created = await insert_once(
            self._entities, {"_id": name, "kind": "team", "created_at": _now()}
        )
        if created:
            await self._set_role(name, owner, Role.ADMIN)
        return created

    async def entity_exists(self, name: str) -> bool:
        return await self._entities.count_documents({"_id": name}, limit=1) > 0

    async def user_exists(self, name: str) -> bool:
        return await self._users.count_documents({"_id": name}, limit=1) > 0

    async def set_role(self, entity: str, user: str, role: Role) -> None:
        await self._set_role(entity, user, role)

    async def members(self, entity: str) -> dict[str, Role]:
        return {
            m["user"]: Role(m["role"]) async for m in self._memberships.find({"entity": entity})
        }

    async def create_api_key(self, user: str, name: str) -> str:
        """A new key for ``user``; the only time the key itself is known."""
        key = generate_key()
        await self._keys.insert_one(_key_document(key, user, name))
        return key

    async def create_project(self, entity: str, name: str, *, created_by: str) -> bool:
        return await insert_once(
            self._projects,
            {
                "_id": f"{entity}/{name}",
                "entity": entity,
                "name": name,
                "created_by": created_by,
                "created_at": _now(),
            },
        )

    async def projects(self, entity: str) -> list[str]:
        return [p["name"] async for p in self._projects.find({"entity": entity}).sort("name")]

    async def _set_role(self, entity: str, user: str, role: Role) -> None:
        membership = _membership(entity, user, role)
        await self._memberships.replace_one({"_id": membership["_id"]}, membership, upsert=True)


def _membership(entity: str, user: str, role: Role) -> dict[str, object]:
    return {"_id": f"{entity}/{user}", "entity": entity, "user": user, "role": int(role)}


def _key_document(key: str, user: str, name: str) -> dict[str, object]:
    return {
        "_id": hash_key(key),
        "user": user,
        "name": name,
        "hint": key[:10] + "…",
        "created_at": _now(),
        "revoked_at": None,
    }


def _now() -> datetime:
    return datetime.now(UTC)
