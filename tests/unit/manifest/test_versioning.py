"""The versioning rules of a sequence: indexes, alias moves, retries, refs."""

from __future__ import annotations

import pytest
from cairn_manifest.domain.versioning import (
    AliasHolder,
    AliasMove,
    aliases_after,
    next_index,
    parse_ref,
    plan_alias_moves,
    type_conflict,
    wanted_aliases,
)

E1, E2 = "event-1", "event-2"


def apply(
    holders: dict[str, AliasHolder], moves: list[AliasMove], event_id: str
) -> dict[str, AliasHolder]:
    """What the writer stores for ``moves`` (the fake of one alias document per alias)."""
    after = dict(holders)
    for move in moves:
        if not move.applied:
            after[move.alias] = AliasHolder(move.target, event_id, move.previous)
    return after


def test_indexes_start_at_zero_and_have_no_gaps() -> None:
    assert next_index(None) == 0
    assert next_index(0) == 1
    assert next_index(41) == 42


def test_latest_moves_only_to_a_new_version_and_requests_are_deduplicated() -> None:
    assert wanted_aliases(["best", "best", "latest", "prod"], created=True) == [
        "latest",
        "best",
        "prod",
    ]
    assert wanted_aliases(["latest", "best"], created=False) == ["best"]
    assert wanted_aliases([], created=False) == []


def test_a_new_alias_is_added_and_a_held_one_moves_from_its_holder() -> None:
    holders = {"latest": AliasHolder(1, E1, 0), "best": AliasHolder(0, E1, None)}

    moves = plan_alias_moves(holders, ["latest", "best", "prod"], target=2, event_id=E2)

    assert moves == [
        AliasMove("latest", previous=1, target=2, applied=False),
        AliasMove("best", previous=0, target=2, applied=False),
        AliasMove("prod", previous=None, target=2, applied=False),
    ]
    assert aliases_after(holders, moves, 2) == ["best", "latest", "prod"]


def test_an_alias_already_on_the_target_does_not_move() -> None:
    holders = {"best": AliasHolder(3, E1, None), "latest": AliasHolder(3, E1, 2)}

    moves = plan_alias_moves(holders, ["best"], target=3, event_id=E2)

    assert moves == []
    assert aliases_after(holders, moves, 3) == ["best", "latest"]


def test_a_retry_re_finds_its_own_moves_and_reports_them_again() -> None:
    before = {"latest": AliasHolder(4, E1, 3), "best": AliasHolder(1, E1, None)}
    first = plan_alias_moves(before, ["latest", "best"], target=5, event_id=E2)
    interrupted = apply(before, first, E2)  # written, but the events never went out

    retry = plan_alias_moves(interrupted, ["latest", "best"], target=5, event_id=E2)

    assert retry == [
        AliasMove("latest", previous=4, target=5, applied=True),
        AliasMove("best", previous=1, target=5, applied=True),
    ]
    assert aliases_after(interrupted, retry, 5) == aliases_after(before, first, 5)
    # Same moves, so the same removed and added events, whichever attempt publishes them.
    assert [(m.alias, m.previous, m.target) for m in retry] == [
        (m.alias, m.previous, m.target) for m in first
    ]


def test_another_event_moving_the_alias_back_is_a_new_move() -> None:
    holders = {"best": AliasHolder(5, E1, 1)}

    assert plan_alias_moves(holders, ["best"], target=1, event_id=E2) == [
        AliasMove("best", previous=5, target=1, applied=False)
    ]


def test_a_type_conflict_explains_itself() -> None:
    assert type_conflict("x", "dataset", "dataset") is None
    assert type_conflict("x", "dataset", "model") == "artifact 'x' is a 'dataset', not a 'model'"


def test_a_ref_is_a_version_index_or_an_alias() -> None:
    assert parse_ref("v0") == 0
    assert parse_ref("v12") == 12
    assert parse_ref("latest") == "latest"
    assert parse_ref("best-2") == "best-2"


@pytest.mark.parametrize("ref", ["", "a/b", "a:b", "x" * 129])
def test_an_invalid_ref_is_refused(ref: str) -> None:
    with pytest.raises(ValueError, match="invalid alias"):
        parse_ref(ref)
