"""Aliases of a collection: each names exactly one linked version, and moving one is one step.

The current state is a mapping ``alias -> link_index``, kept in the collection's document, so
"exactly one holder" holds by construction and a move is one write. Every function here
computes moves; applying them is the repository's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cairn_shared.names import check_alias

from cairn_registry.domain.registries import LATEST

MAX_ALIASES = 100


@dataclass(frozen=True)
class AliasMove:
    """``alias`` leaves ``from_index`` (None: nobody held it) for ``to_index`` (None: removed)."""

    alias: str
    from_index: int | None
    to_index: int | None


def requested_aliases(aliases: Iterable[str]) -> list[str]:
    """The aliases a link asks for: checked, de-duplicated, in order, without the automatic
    ``latest``. Raises ValueError for an invalid one."""
    wanted: list[str] = []
    for alias in aliases:
        check_alias(alias)
        if alias != LATEST and alias not in wanted:
            wanted.append(alias)
    if len(wanted) > MAX_ALIASES:
        raise ValueError(f"at most {MAX_ALIASES} aliases per link")
    return wanted


def moves_to(current: Mapping[str, int], wanted: Mapping[str, int | None]) -> list[AliasMove]:
    """The moves that make ``current`` agree with ``wanted``, in ``wanted``'s order; an alias
    already where it should be is no move at all."""
    moves: list[AliasMove] = []
    for alias, target in wanted.items():
        holder = current.get(alias)
        if holder != target:
            moves.append(AliasMove(alias, holder, target))
    return moves


def link_moves(
    current: Mapping[str, int], link_index: int, aliases: Sequence[str], *, newest: bool
) -> list[AliasMove]:
    """A link brings ``latest`` (when it is the newest version) and the requested aliases."""
    wanted: dict[str, int | None] = {LATEST: link_index} if newest else {}
    wanted.update(dict.fromkeys(aliases, link_index))
    return moves_to(current, wanted)


def unlink_moves(
    current: Mapping[str, int], link_index: int, newest_remaining: int | None
) -> list[AliasMove]:
    """Unlinking drops the version's aliases; ``latest`` falls back to the newest version left."""
    wanted: dict[str, int | None] = {}
    for alias, holder in sorted(current.items()):
        if holder == link_index:
            wanted[alias] = newest_remaining if alias == LATEST else None
    return moves_to(current, wanted)


def apply_moves(current: Mapping[str, int], moves: Iterable[AliasMove]) -> dict[str, int]:
    """The aliases after ``moves``."""
    after = dict(current)
    for move in moves:
        if move.to_index is None:
            after.pop(move.alias, None)
        else:
            after[move.alias] = move.to_index
    return after


def aliases_by_version(current: Mapping[str, int]) -> dict[int, list[str]]:
    """Each linked version's aliases, ``latest`` first, then by name."""
    by_version: dict[int, list[str]] = {}
    for alias, index in current.items():
        by_version.setdefault(index, []).append(alias)
    for aliases in by_version.values():
        aliases.sort(key=lambda a: (a != LATEST, a))
    return by_version


def protected_moves(moves: Iterable[AliasMove], protected: Iterable[str]) -> list[str]:
    """The protected aliases that ``moves`` would add, move or remove."""
    guarded = set(protected)
    return sorted({m.alias for m in moves if m.alias in guarded})
