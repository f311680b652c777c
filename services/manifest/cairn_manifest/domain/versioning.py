"""Versioning rules of an artifact sequence, free of I/O so they are unit-tested directly.

The consumer that owns a sequence's partition is its one writer, so "the next index" is simply
the newest plus one. What needs care is a retry of an event whose first attempt wrote part of
its effect: every alias records the event that moved it and the version it took it from, so a
retry re-finds its own moves and announces them again instead of losing them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cairn_shared.names import VERSION_REF, check_alias

LATEST = "latest"


@dataclass(frozen=True)
class AliasHolder:
    """Which version holds an alias, and which event put it there (from which version)."""

    version_index: int
    event_id: str
    previous: int | None


@dataclass(frozen=True)
class AliasMove:
    alias: str
    previous: int | None  # the version that loses the alias, if any
    target: int
    applied: bool  # an earlier attempt of the same event wrote it already


def next_index(newest: int | None) -> int:
    """Versions are numbered 0, 1, 2... without gaps."""
    return 0 if newest is None else newest + 1


def wanted_aliases(requested: Iterable[str], *, created: bool) -> list[str]:
    """``latest`` moves only to a new version; the requested aliases apply either way."""
    wanted = [LATEST] if created else []
    for alias in requested:
        if alias not in wanted and alias != LATEST:
            wanted.append(alias)
    return wanted


def plan_alias_moves(
    holders: Mapping[str, AliasHolder], wanted: Sequence[str], target: int, event_id: str
) -> list[AliasMove]:
    """The moves that make every alias in ``wanted`` point at ``target``.

    An alias that ``event_id`` moved already (an earlier, interrupted attempt) is reported with
    ``applied=True`` and its original previous holder, so its events are emitted all the same.
    """
    moves: list[AliasMove] = []
    for alias in wanted:
        holder = holders.get(alias)
        if holder is not None and holder.event_id == event_id:
            moves.append(AliasMove(alias, holder.previous, holder.version_index, applied=True))
        elif holder is None or holder.version_index != target:
            previous = holder.version_index if holder is not None else None
            moves.append(AliasMove(alias, previous, target, applied=False))
    return moves


def aliases_after(
    holders: Mapping[str, AliasHolder], moves: Iterable[AliasMove], target: int
) -> list[str]:
    """The aliases ``target`` holds once ``moves`` are applied (moves only ever go to it)."""
    held = {alias for alias, holder in holders.items() if holder.version_index == target}
    return sorted(held | {move.alias for move in moves})


def type_conflict(name: str, existing: str, wanted: str) -> str | None:
    """Why a submission is refused, if the sequence holds another type (the SDK shows it)."""
    if existing == wanted:
        return None
    return f"artifact {name!r} is a {existing!r}, not a {wanted!r}"


def parse_ref(ref: str) -> int | str:
    """``vN`` is a version index; anything else must be a valid alias."""
    if match := VERSION_REF.fullmatch(ref):
        return int(match.group(1))
    return check_alias(ref)


def version_label(index: int) -> str:
    return f"v{index}"
