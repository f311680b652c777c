"""The per-entity cache: a short TTL, one load at a time, invalidation that sticks."""

from __future__ import annotations

import asyncio

from cairn_automations.adapters.config_cache import ConfigCache
from cairn_automations.domain.records import EntityConfig


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, entity: str) -> EntityConfig:
        self.calls += 1
        version = self.calls
        if self.gate is not None:
            await self.gate.wait()
        return EntityConfig(entity=entity, secrets={"V": str(version)})


async def test_entries_live_for_the_ttl_then_reload_in_the_background() -> None:
    clock, load = Clock(), Loader()
    cache = ConfigCache(load, ttl_s=2.0, clock=clock)

    await cache.get("team")
    clock.now = 1.9
    await cache.get("team")
    assert load.calls == 1
    clock.now = 2.1
    stale = await cache.get("team")  # answered at once, while the reload runs
    assert stale.secrets["V"] == "1"
    await asyncio.sleep(0)
    assert load.calls == 2
    assert (await cache.get("team")).secrets["V"] == "2"


async def test_concurrent_callers_share_one_load() -> None:
    load = Loader()
    load.gate = asyncio.Event()
    cache = ConfigCache(load, ttl_s=2.0, clock=Clock())

    waiting = [asyncio.create_task(cache.get("team")) for _ in range(5)]
    await asyncio.sleep(0)
    load.gate.set()
    results = await asyncio.gather(*waiting)

    assert load.calls == 1
    assert {r.secrets["V"] for r in results} == {"1"}


async def test_an_invalidation_during_a_load_is_not_lost() -> None:
    load = Loader()
    load.gate = asyncio.Event()
    cache = ConfigCache(load, ttl_s=60.0, clock=Clock())

    first = asyncio.create_task(cache.get("team"))
    await asyncio.sleep(0)
    cache.invalidate("team")  # a write landed while the load read the old state
    load.gate.set()
    await first

    assert (await cache.get("team")).secrets["V"] == "2"
    assert load.calls == 2
