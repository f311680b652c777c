"""Our MongoDB helpers on the real wire-protocol server."""

from __future__ import annotations

import asyncio

from cairn_shared.mongo import (
    Document,
    decode_mapping,
    encode_mapping,
    ensure_indexes,
    find_by_ids,
    insert_many_once,
    insert_once,
)
from cairn_shared.settings import Settings
from pymongo import ASCENDING, AsyncMongoClient, IndexModel, ReplaceOne


async def test_ensuring_several_indexes_twice_is_harmless(
    mongo: AsyncMongoClient[Document], settings: Settings
) -> None:
    collection = mongo[settings.database_name]["things"]
    indexes = [IndexModel([("a", ASCENDING)]), IndexModel([("b", ASCENDING)], unique=True)]

    await ensure_indexes(collection, indexes)
    await ensure_indexes(collection, indexes)  # FerretDB 1.24 used to drop the connection here

    names = {index["name"] async for index in await collection.list_indexes()}
    assert {"a_1", "b_1"} <= names


async def test_insert_once_reports_the_duplicate(
    mongo: AsyncMongoClient[Document], settings: Settings
) -> None:
    collection = mongo[settings.database_name]["once"]

    assert await insert_once(collection, {"_id": "x"})
    assert not await insert_once(collection, {"_id": "x"})
    assert await collection.count_documents({}) == 1


async def test_insert_many_once_names_what_existed_and_inserts_the_rest(
    mongo: AsyncMongoClient[Document], settings: Settings
) -> None:
    collection = mongo[settings.database_name]["many_once"]
    await collection.insert_one({"_id": "b", "v": "first"})

    existed = await insert_many_once(collection, [{"_id": k, "v": "second"} for k in "abc"])

    assert existed == {"b"}
    found = {d["_id"]: d["v"] async for d in collection.find({})}
    assert found == {"a": "second", "b": "first", "c": "second"}
    assert await insert_many_once(collection, []) == set()


async def test_a_bulk_write_of_hundreds_of_replacements_completes(
    mongo: AsyncMongoClient[Document], settings: Settings
) -> None:
    """The history writer replaces one summary per run it touched in a single bulk write.
    FerretDB 1.24 held a SQLite connection per matched statement until the command ended and
    hung for good at about 100 (deploy/local/ferretdb/patches)."""
    collection = mongo[settings.database_name]["replaced"]
    await collection.insert_many([{"_id": n, "v": 0} for n in range(300)])

    result = await asyncio.wait_for(
        collection.bulk_write(
            [ReplaceOne({"_id": n}, {"v": 1}, upsert=True) for n in range(300)], ordered=False
        ),
        timeout=30,
    )

    assert result.matched_count == 300
    assert await collection.count_documents({"v": 1}) == 300


async def test_find_by_ids_finds_the_existing_ones_among_many(
    mongo: AsyncMongoClient[Document], settings: Settings
) -> None:
    collection = mongo[settings.database_name]["by_ids"]
    await collection.insert_many([{"_id": f"doc-{n}", "n": n, "pad": "x"} for n in range(600)])
    wanted = [f"doc-{n}" for n in range(0, 1200, 2)]  # 600 ids, half of them absent

    found = await find_by_ids(collection, [*wanted, "doc-0"], {"n": 1})

    assert found == {f"doc-{n}": {"_id": f"doc-{n}", "n": n} for n in range(0, 600, 2)}
    assert await find_by_ids(collection, []) == {}


async def test_user_dictionaries_keep_dotted_and_dollar_keys_as_data(
    mongo: AsyncMongoClient[Document], settings: Settings
) -> None:
    collection = mongo[settings.database_name]["configs"]
    config = {"optimizer.lr": 0.1, "$weird": True, "nested": {"a.b": 1}}

    await collection.insert_one({"_id": "run", "config": encode_mapping(config)})
    # FerretDB 1.24 matches through arrays by path ("config.k") but has no $elemMatch on
    # fields: queries narrow by key in the database and test the value after decoding.
    found = await collection.find_one({"config.k": "optimizer.lr"})

    assert found is not None
    assert decode_mapping(found["config"]) == config
