"""MongoDB access through PyMongo's async API.

Code here must stay correct on FerretDB 1.x as on MongoDB: no multi-document transactions,
change streams or TTL indexes, and no document with two concurrent writers. Uniqueness is
enforced by unique indexes on insert, never by read-then-write.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from cairn_shared.settings import Settings

Document = dict[str, Any]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]
DUPLICATE_KEY = 11000


def create_client(settings: Settings) -> AsyncMongoClient[Document]:
    """A client that fails fast: readiness and handlers need to learn of an outage in seconds."""
    return AsyncMongoClient(
        settings.mongo_url.get_secret_value(),
        serverSelectionTimeoutMS=settings.mongo_timeout_ms,
        connectTimeoutMS=settings.mongo_timeout_ms,
        tz_aware=True,
        appname=f"cairn-{settings.service}",
    )


async def ping(client: AsyncMongoClient[Document]) -> None:
    await client.admin.command("ping")


async def insert_once(collection: Collection, document: Mapping[str, Any]) -> bool:
    """Insert ``document`` unless its ``_id`` (or another unique key) exists; True if inserted.

    The way a redelivered event re-finds its own write: the duplicate key is the proof.
    """
    try:
        await collection.insert_one(dict(document))
    except DuplicateKeyError:
        return False
    return True


# Ids per ``$in`` lookup of ``find_by_ids``; the lookups of one call run concurrently. The local
# stack's FerretDB is patched to answer an ``_id`` ``$in`` of up to 1,000 ids from its index
# (deploy/local/ferretdb/patches); MongoDB always does.
IDS_PER_LOOKUP = 250


async def find_by_ids(
    collection: Collection, ids: Iterable[Any], projection: Mapping[str, Any] | None = None
) -> dict[Any, Document]:
    """The documents among ``ids`` that exist, by ``_id``: a round trip per 250 ids at most."""
    wanted = list(dict.fromkeys(ids))
    chunks = [wanted[i : i + IDS_PER_LOOKUP] for i in range(0, len(wanted), IDS_PER_LOOKUP)]
    found = await asyncio.gather(
        *(collection.find({"_id": {"$in": chunk}}, projection).to_list(None) for chunk in chunks)
    )
    return {doc["_id"]: doc for docs in found for doc in docs}


async def insert_many_once(
    collection: Collection, documents: Sequence[Mapping[str, Any]]
) -> set[Any]:
    """``insert_once`` for many documents in one round trip (unordered): the ``_id``s that
    existed already. Any write error but a duplicate key is raised."""
    if not documents:
        return set()
    docs = [dict(d) for d in documents]
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        return {docs[error["index"]]["_id"] for error in errors}
    return set()


async def upsert_by_id(collection: Collection, doc_id: str, document: Mapping[str, Any]) -> None:
    """Replace or insert the document ``doc_id``. Two upserts of a new ``_id`` at once can both
    find nothing and both insert (FerretDB applies an upsert as read-then-write); the loser's
    duplicate key means the document now exists, so its replace is simply tried again."""
    try:
        await collection.replace_one({"_id": doc_id}, dict(document), upsert=True)
    except DuplicateKeyError:
        await collection.replace_one({"_id": doc_id}, dict(document), upsert=True)


async def ensure_indexes(collection: Collection, indexes: Iterable[IndexModel]) -> None:
    """Create ``indexes`` if missing, one command each: FerretDB 1.24 drops the connection
    (a server-side panic) when one createIndexes names several indexes that already exist."""
    for model in indexes:
        await collection.create_indexes([model])


_SCALARS = (str, int, float, bool, type(None))


def encode_mapping(values: Mapping[str, Any]) -> list[Document]:
    """A user dictionary (config, metadata, summary) as ``[{"k": key, "v": value}]``.

    User keys may contain ``.`` or start with ``$``, which must never become field names; this
    shape keeps them data. Scalars stay queryable (``{"k": "lr", "v": {"$gt": 0.1}}``); nested
    values are kept as JSON text under ``"j"``, so no user key inside them is a field name either.
    """
    return [
        {"k": key, "v": value} if isinstance(value, _SCALARS) else {"k": key, "j": _json(value)}
        for key, value in values.items()
    ]


def decode_mapping(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {item["k"]: item["v"] if "v" in item else json.loads(item["j"]) for item in items}


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
