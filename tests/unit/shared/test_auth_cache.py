"""The key → principal cache: one lookup per key at a time, nothing stale kept after clear."""

from __future__ import annotations

import asyncio

from cairn_shared.auth.principal import Principal
from cairn_shared.http.auth_cache import AuthCache
from cairn_shared.testing import FakeIdentityStore

ALICE = Principal(user="alice")


class GatedIdentityStore(FakeIdentityStore):
    """Answers only once ``gate`` is set, as a busy database would."""

    def __init__(self) -> None:
        super().__init__({"alice-key": ALICE})
        self.gate = asyncio.Event()

    async def principal_for_key(self, key: str) -> Principal | None:
        await self.gate.wait()
        return await super().principal_for_key(key)


async def test_concurrent_misses_share_one_lookup() -> None:
    store = GatedIdentityStore()
    cache = AuthCache(store)

    waiting = [asyncio.create_task(cache.principal("alice-key")) for _ in range(50)]
    await asyncio.sleep(0)
    store.gate.set()

    assert await asyncio.gather(*waiting) == [ALICE] * 50
    assert store.lookups == 1
    assert await cache.principal("alice-key") == ALICE
    assert store.lookups == 1  # cached


async def test_one_waiter_cancelled_does_not_cancel_the_others() -> None:
    store = GatedIdentityStore()
    cache = AuthCache(store)
    first = asyncio.create_task(cache.principal("alice-key"))
    second = asyncio.create_task(cache.principal("alice-key"))
    await asyncio.sleep(0)

    first.cancel()
    store.gate.set()

    assert await second == ALICE
    assert store.lookups == 1


async def test_a_lookup_begun_before_clear_is_not_cached() -> None:
    store = GatedIdentityStore()
    cache = AuthCache(store)
    before = asyncio.create_task(cache.principal("alice-key"))
    await asyncio.sleep(0)

    cache.clear()  # e.g. the key was revoked meanwhile
    store.gate.set()
    await before

    assert await cache.principal("alice-key") == ALICE
    assert store.lookups == 2  # looked up again, not served from the stale lookup
