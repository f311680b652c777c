"""A short-lived cache of key → principal, so authentication costs no database round trip."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiohttp import web

from cairn_shared.auth.identity_store import IdentityStore
from cairn_shared.auth.keys import hash_key
from cairn_shared.auth.principal import Principal


class AuthCache:
    """Caches hits and misses for ``ttl_s``: a revoked key or a new role applies within it
    everywhere, and at once in the process that made the change (see ``clear``).

    One lookup per key at a time: when an entry expires under load, the hundreds of requests
    then in flight with that key wait for the same lookup instead of each making its own.
    """

    def __init__(
        self, store: IdentityStore, *, ttl_s: float = 5.0, max_entries: int = 10_000
    ) -> None:
        self._store = store
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._lookups: dict[str, asyncio.Future[Principal | None]] = {}
        self._generation = 0  # moves on ``clear``: a lookup begun before must not be cached

    async def principal(self, key: str) -> Principal | None:
        digest = hash_key(key)
        cached = self._entries.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        lookup = self._lookups.get(digest)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(key, digest, self._generation))
            self._lookups[digest] = lookup
            lookup.add_done_callback(self._forget_lookup(digest))
        # Shielded: one waiter giving up (its client went away) must not cancel the others'.
        return await asyncio.shield(lookup)

    async def _look_up(self, key: str, digest: str, generation: int) -> Principal | None:
        principal = await self._store.principal_for_key(key)
        if generation == self._generation:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self._ttl, principal)
        return principal

    def _forget_lookup(self, digest: str) -> Callable[[asyncio.Future[Principal | None]], None]:
        def forget(done: asyncio.Future[Principal | None]) -> None:
            if self._lookups.get(digest) is done:  # not a newer one begun after ``clear``
                del self._lookups[digest]

        return forget

    def clear(self) -> None:
        """Forget everything: called after an identity change made in this process."""
        self._generation += 1
        self._entries.clear()
        self._lookups.clear()


AUTH_CACHE = web.AppKey("auth_cache", AuthCache)
