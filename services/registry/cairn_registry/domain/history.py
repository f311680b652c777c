"""The action history of a collection: append-only entries, totally ordered by ``seq``.

``seq`` is allocated by the collection's single writer (last + 1, guarded by a unique index);
``at`` alone cannot order the entries of one command (an alias move writes "removed" and
"added" at the same instant).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

LINKED = "linked"
UNLINKED = "unlinked"
ALIAS_ADDED = "alias_added"
ALIAS_REMOVED = "alias_removed"
COLLECTION_UPDATED = "collection_updated"
ACTIONS = (LINKED, UNLINKED, ALIAS_ADDED, ALIAS_REMOVED, COLLECTION_UPDATED)


@dataclass(frozen=True)
class Entry:
    seq: int
    at: datetime
    action: str
    link_index: int | None = None
    alias: str = ""


def holder_at(entries: Iterable[Entry], alias: str, at: datetime) -> int | None:
    """Which version held ``alias`` at ``at``: the last change of it up to then decides.

    An alias nobody had touched by then, or that had last been removed, was held by nobody.
    """
    last: Entry | None = None
    for entry in entries:
        if entry.alias != alias or entry.action not in (ALIAS_ADDED, ALIAS_REMOVED):
            continue
        if entry.at <= at and (last is None or entry.seq > last.seq):
            last = entry
    if last is None or last.action == ALIAS_REMOVED:
        return None
    return last.link_index


def next_time(now: datetime, last: datetime | None) -> datetime:
    """The time of the next entry: never before the previous one, so "held at T" answers agree
    with the order of ``seq`` even if a new partition owner's clock is behind. Milliseconds, as
    BSON stores them, so what is read back equals what was planned."""
    candidate = now if last is None or now >= last else last
    candidate = candidate.astimezone(UTC)
    return candidate.replace(microsecond=candidate.microsecond // 1000 * 1000)


def parse_time(value: str) -> datetime:
    """An ISO 8601 time from a query string; a naive one is UTC. Raises ValueError.

    A ``+`` left unencoded in a query string arrives as a space: it is put back.
    """
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "+"))
        except ValueError:
            raise ValueError(
                f"invalid time {value!r}: use ISO 8601, e.g. 2026-01-31T12:00:00Z"
            ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
