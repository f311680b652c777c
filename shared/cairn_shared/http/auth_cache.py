"""A short-lived cache of key → principal, so authentication costs no database round trip."""

from __future__ import annotations

import time

from aiohttp import web

from cairn_shared.auth.identity_store import IdentityStore
from cairn_shared.auth.keys import hash_key
from cairn_shared.auth.principal import Principal


class AuthCache:
    """Caches hits and misses for ``ttl_s``: a revoked key or a new role applies within it
    everywhere, and at once in the process that made the change (see ``clear``)."""

    def __init__(
        self, store: IdentityStore, *, ttl_s: float = 5.0, max_entries: int = 10_000
    ) -> None:
        self._store = store
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    async def principal(self, key: str) -> Principal | None:
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._entries.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await self._store.principal_for_key(key)
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[digest] = (now + self._ttl, principal)
        return principal

    def clear(self) -> None:
        """Forget everything: called after an identity change made in this process."""
        self._entries.clear()


AUTH_CACHE = web.AppKey("auth_cache", AuthCache)
