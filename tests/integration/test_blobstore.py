"""The S3 ``BlobStore`` adapter on the real S3 server, including presigned URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from cairn_shared.blobstore import S3BlobStore
from cairn_shared.settings import Settings


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[S3BlobStore]:
    store = S3BlobStore(settings)
    await store.ensure_bucket()
    yield store
    await store.close()


async def test_put_stat_get_delete(store: S3BlobStore, unique: str) -> None:
    key = f"it/{unique}/blob"

    info = await store.put_bytes(key, b"hello")

    assert info.size == 5
    stat = await store.stat(key)
    assert stat is not None
    assert stat.size == 5
    assert await store.get_bytes(key) == b"hello"
    await store.delete(key)
    assert await store.stat(key) is None


async def test_presigned_urls_move_bytes_without_the_service(
    store: S3BlobStore, unique: str
) -> None:
    key = f"it/{unique}/presigned"
    put_url = await store.presigned_put(key, timedelta(minutes=5))
    get_url = await store.presigned_get(key, timedelta(minutes=5))

    async with httpx.AsyncClient() as http:
        put = await http.put(put_url, content=b"x" * 1000)
        got = await http.get(get_url)

    assert put.status_code == 200
    assert got.content == b"x" * 1000
    await store.delete(key)
