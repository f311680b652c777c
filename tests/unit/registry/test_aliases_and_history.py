"""Alias moves and the "who held it at T" query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cairn_registry.domain.aliases import (
    AliasMove,
    aliases_by_version,
    apply_moves,
    link_moves,
    moves_to,
    protected_moves,
    requested_aliases,
    unlink_moves,
)
from cairn_registry.domain.history import (
    ALIAS_ADDED,
    ALIAS_REMOVED,
    LINKED,
    Entry,
    holder_at,
    next_time,
    parse_time,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_move_is_one_step_and_a_no_op_is_none() -> None:
    current = {"latest": 1, "production": 0}
    assert moves_to(current, {"production": 1}) == [AliasMove("production", 0, 1)]
    assert moves_to(current, {"production": 0}) == []
    assert moves_to(current, {"production": None}) == [AliasMove("production", 0, None)]
    assert moves_to(current, {"staging": None}) == []  # nobody held it
    assert moves_to(current, {"staging": 1}) == [AliasMove("staging", None, 1)]


def test_every_alias_has_one_holder_after_any_moves() -> None:
    current = {"latest": 2, "production": 0, "staging": 1}
    after = apply_moves(current, moves_to(current, {"production": 2, "staging": None}))
    assert after == {"latest": 2, "production": 2}
    assert aliases_by_version(after) == {2: ["latest", "production"]}


def test_a_link_brings_latest_and_the_requested_aliases() -> None:
    current = {"latest": 1, "staging": 0}
    assert link_moves(current, 2, ["staging", "best"], newest=True) == [
        AliasMove("latest", 1, 2),
        AliasMove("staging", 0, 2),
        AliasMove("best", None, 2),
    ]
    # Re-linking a version linked already: latest stays where it is.
    assert link_moves(current, 0, ["best"], newest=False) == [AliasMove("best", None, 0)]
    assert link_moves({}, 0, [], newest=True) == [AliasMove("latest", None, 0)]


def test_unlinking_drops_the_versions_aliases_and_latest_falls_back() -> None:
    current = {"latest": 2, "production": 2, "staging": 1}
    assert unlink_moves(current, 2, newest_remaining=1) == [
        AliasMove("latest", 2, 1),
        AliasMove("production", 2, None),
    ]
    assert unlink_moves({"latest": 0}, 0, newest_remaining=None) == [AliasMove("latest", 0, None)]
    assert unlink_moves(current, 0, newest_remaining=2) == []


def test_requested_aliases_are_checked_and_latest_is_automatic() -> None:
    assert requested_aliases(["staging", "latest", "staging", "best"]) == ["staging", "best"]
    for bad in ("v3", "a/b", "a:b", ""):
        with pytest.raises(ValueError, match="invalid alias"):
            requested_aliases([bad])
    with pytest.raises(ValueError, match="at most"):
        requested_aliases([f"a{i}" for i in range(101)])


def test_protected_moves() -> None:
    moves = [AliasMove("latest", 0, 1), AliasMove("production", None, 1)]
    assert protected_moves(moves, ["production"]) == ["production"]
    assert protected_moves(moves, ["champion"]) == []


def entry(
    seq: int, minutes: int, action: str, index: int | None, alias: str = "production"
) -> Entry:
    return Entry(seq, T0 + timedelta(minutes=minutes), action, index, alias)


HISTORY = [
    entry(1, 0, LINKED, 0, alias=""),
    entry(2, 1, ALIAS_ADDED, 0),
    entry(3, 5, ALIAS_REMOVED, 0),  # a move v0 → v1: removed and added at one instant
    entry(4, 5, ALIAS_ADDED, 1),
    entry(5, 9, ALIAS_ADDED, 0, alias="staging"),
    entry(6, 10, ALIAS_REMOVED, 1),
]


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(-1, None), (0, None), (1, 0), (4, 0), (5, 1), (9, 1), (10, None), (60, None)],
)
def test_who_held_an_alias_at_a_time(minutes: int, expected: int | None) -> None:
    assert holder_at(HISTORY, "production", T0 + timedelta(minutes=minutes)) == expected


def test_holder_at_does_not_depend_on_the_order_it_is_given() -> None:
    assert holder_at(reversed(HISTORY), "production", T0 + timedelta(minutes=5)) == 1
    assert holder_at(HISTORY, "staging", T0 + timedelta(minutes=9)) == 0
    assert holder_at(HISTORY, "champion", T0 + timedelta(minutes=9)) is None


def test_entry_times_never_go_back_and_are_milliseconds() -> None:
    later = T0 + timedelta(seconds=1, microseconds=123_456)
    assert next_time(later, T0) == T0 + timedelta(seconds=1, microseconds=123_000)
    stored = next_time(later, T0)  # as read back from BSON
    assert next_time(T0, stored) == stored  # a clock behind the last entry waits for it
    assert next_time(T0, None) == T0


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00 00:00",
        "2026-01-01",
    ],
)
def test_parse_time(text: str) -> None:
    assert parse_time(text) == T0


def test_parse_time_rejects_junk() -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("yesterday")
