"""Fakes of Cairn's own ports, for fast unit tests. Never of Kafka, MongoDB or S3 themselves."""

from __future__ import annotations

from collections.abc import Sequence

from cairn_shared.auth.keys import hash_key
from cairn_shared.auth.principal import Principal
from cairn_shared.events.envelope import Envelope


class FakeIdentityStore:
    """``IdentityStore`` over a dict of key → principal."""

    def __init__(self, principals: dict[str, Principal] | None = None) -> None:
        self._by_hash = {hash_key(k): p for k, p in (principals or {}).items()}
        self.lookups = 0

    async def principal_for_key(self, key: str) -> Principal | None:
        self.lookups += 1
        return self._by_hash.get(hash_key(key))


class FakeEventPublisher:
    """``EventPublisher`` that records what was published, in order."""

    def __init__(self) -> None:
        self.published: list[tuple[Envelope, str]] = []

    async def publish(self, envelope: Envelope, *, key: str) -> None:
        self.published.append((envelope, key))

    async def publish_many(self, items: Sequence[tuple[Envelope, str]]) -> None:
        self.published.extend(items)

    def types(self) -> list[str]:
        return [envelope.type for envelope, _ in self.published]
