"""An entity's automations, integrations and secrets, cached for a short time.

The consumer matches every event against the cache, so the hot path costs no query: an expired
entry is still answered while a reload runs in the background (stale while revalidate); only an
entity seen for the first time, or just invalidated, waits for its load. Changes made through
this replica's HTTP routes invalidate at once; another replica's changes are seen within about
``CAIRN_AUTOMATIONS_CACHE_TTL_S`` (2 s by default) plus one reload.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from cairn_automations.domain.records import EntityConfig

log = structlog.get_logger(__name__)
Loader = Callable[[str], Awaitable[EntityConfig]]


class ConfigCache:
    def __init__(
        self, load: Loader, *, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, EntityConfig]] = {}
        self._loading: dict[str, asyncio.Task[EntityConfig]] = {}
        self._generation: dict[str, int] = {}

    async def get(self, entity: str) -> EntityConfig:
        entry = self._entries.get(entity)
        if entry is not None and self._clock() - entry[0] < self._ttl_s:
            return entry[1]
        task = self._loading.get(entity)
        if task is None:  # one load per entity at a time, shared by every caller
            generation = self._generation.get(entity, 0)
            task = asyncio.create_task(self._refresh(entity, self._clock(), generation))
            task.add_done_callback(_log_failure)
            self._loading[entity] = task
        if entry is not None:
            return entry[1]  # stale, for at most one reload
        return await asyncio.shield(task)

    def invalidate(self, entity: str) -> None:
        """Forget the entity; a load already running may answer its callers but is not kept."""
        self._entries.pop(entity, None)
        self._loading.pop(entity, None)
        self._generation[entity] = self._generation.get(entity, 0) + 1

    async def _refresh(self, entity: str, started: float, generation: int) -> EntityConfig:
        try:
            config = await self._load(entity)
        finally:
            if self._loading.get(entity) is asyncio.current_task():
                del self._loading[entity]
        if self._generation.get(entity, 0) == generation:
            self._entries[entity] = (started, config)
        return config


def _log_failure(task: asyncio.Task[EntityConfig]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("config.reload_failed", error=repr(task.exception()))
