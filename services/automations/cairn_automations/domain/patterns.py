"""Alias patterns: regular expressions that users write (``^production$``) and we run on every
alias event, so they are checked at the edge for validity and for catastrophic backtracking."""

from __future__ import annotations

import re

MAX_PATTERN_LENGTH = 256
_QUANTIFIERS = frozenset("*+{")


def check_alias_pattern(pattern: str) -> str:
    """``pattern`` if it compiles and cannot backtrack exponentially; ``ValueError`` otherwise.

    Python's ``re`` has no time limit, so a pattern such as ``(a+)+$`` could stall the consumer
    on a crafted alias. We refuse a repeated group that itself contains a repetition, the shape
    behind nearly every such pattern; aliases are short, so what remains runs in microseconds.
    """
    if not pattern:
        raise ValueError("alias_pattern is empty: leave it out to match every alias")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"alias_pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(
            f"alias_pattern {pattern!r} is not a valid regular expression: {exc}"
        ) from None
    if _has_nested_repetition(pattern):
        raise ValueError(
            f"alias_pattern {pattern!r} repeats a group that repeats itself (like '(a+)+'), "
            "which can take exponential time; rewrite it without the nested repetition"
        )
    return pattern


def alias_matches(pattern: str | None, alias: str) -> bool:
    """Search semantics, as W&B's ``matches_regex``: anchor with ``^...$`` for a whole alias."""
    return pattern is None or re.search(pattern, alias) is not None


def _has_nested_repetition(pattern: str) -> bool:
    # One flag per open group: does the group contain a repetition?
    stack: list[bool] = [False]
    i, n = 0, len(pattern)
    closed_with_repeat = False  # the group that just closed contained a repetition
    while i < n:
        char = pattern[i]
        if char == "\\":
            i += 2
            closed_with_repeat = False
            continue
        if char == "[":
            i = _skip_class(pattern, i)
            closed_with_repeat = False
            continue
        if char == "(":
            stack.append(False)
        elif char == ")" and len(stack) > 1:
            inner = stack.pop()
            closed_with_repeat = inner
            stack[-1] = stack[-1] or inner
            i += 1
            continue
        elif char in _QUANTIFIERS:
            if closed_with_repeat and not _is_bounded_single(pattern, i):
                return True
            stack[-1] = True
        closed_with_repeat = False
        i += 1
    return False


def _skip_class(pattern: str, start: int) -> int:
    """The index after the character class that opens at ``start``."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a literal ']' first in the class
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def _is_bounded_single(pattern: str, i: int) -> bool:
    """``{1}`` or ``{0,1}`` after a group repeats it at most once: harmless."""
    if pattern[i] != "{":
        return False
    end = pattern.find("}", i)
    return end != -1 and pattern[i + 1 : end].replace(" ", "") in {"0", "1", "0,1", "1,1"}
