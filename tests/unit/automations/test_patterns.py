"""Alias patterns: valid regular expressions without catastrophic backtracking."""

from __future__ import annotations

import pytest
from cairn_automations.domain.patterns import alias_matches, check_alias_pattern


@pytest.mark.parametrize(
    "pattern",
    [
        "^production$",
        "^prod",
        "staging|production",
        "^v[0-9]+-rc$",
        r"^(release|hotfix)-\d+$",
        "^(a|b)*$",
        r"[(+*]",  # quantifier characters inside a class are literals
        r"^\(x+\)+$",  # escaped parentheses are literals
        "^(ab){1}$",
        "(?:pre)?prod",
    ],
)
def test_ordinary_patterns_are_accepted(pattern: str) -> None:
    assert check_alias_pattern(pattern) == pattern


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+$", "(a*)*", "^(\\w+\\s?)*$", "((ab)+)+", "(x+){2,}", "(?:a|aa+)+b", "([a-z]+)*$"],
)
def test_nested_repetition_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="exponential"):
        check_alias_pattern(pattern)


@pytest.mark.parametrize(("pattern", "message"), [("(", "not a valid"), ("", "empty")])
def test_invalid_or_empty_patterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_alias_pattern(pattern)


def test_a_pattern_too_long_is_refused() -> None:
    with pytest.raises(ValueError, match="longer"):
        check_alias_pattern("a" * 257)


def test_matching_searches_like_wandb_matches_regex() -> None:
    assert alias_matches("^production$", "production")
    assert not alias_matches("^production$", "production-old")
    assert alias_matches("prod", "preprod")
    assert alias_matches(None, "anything")
