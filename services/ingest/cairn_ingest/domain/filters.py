"""W&B-style run filters: a MongoDB-like JSON query evaluated on runs in Python.

``api.runs("entity/project", filters={"config.lr": {"$gt": 0.01}, "state": "finished"})``.
Fields: ``state``, ``name`` (also ``display_name``), ``id``, ``job_type``, ``created_at`` (ISO
text compares as a time), ``config.<key>`` and ``summary.<key>`` (also W&B's
``summary_metrics.<key>``); everything after the first dot is the key, dots included.
Operators: ``$eq $ne $gt $gte $lt $lte $in $nin $exists $regex $not $and $or $nor``.

FerretDB cannot evaluate user keys stored as data (no ``$elemMatch`` on fields), so the
database narrows by project (and by state when the filter pins it) and this module decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]
MISSING = object()
PLAIN_FIELDS = frozenset({"state", "name", "display_name", "id", "job_type", "created_at"})
PREFIXES = {"config.": "config", "summary.": "summary", "summary_metrics.": "summary"}
MAX_REGEX_CHARS = 256


class FilterError(ValueError):
    """A filter that cannot be evaluated: the client's mistake (HTTP 400)."""


def compile_filter(query: Any) -> Predicate:
    """A predicate over run views (``{"state", "name", ..., "config": {}, "summary": {}}``)."""
    if not isinstance(query, Mapping):
        raise FilterError("filters must be a JSON object")
    parts = [_clause(key, value) for key, value in query.items()]
    return lambda run: all(part(run) for part in parts)


def pinned_state(query: Any) -> str | None:
    """The state the filter requires at its top level, for the database to narrow by."""
    if isinstance(query, Mapping):
        state = query.get("state")
        if isinstance(state, str):
            return state
        if isinstance(state, Mapping) and isinstance(state.get("$eq"), str):
            return str(state["$eq"])
    return None


def _clause(key: str, value: Any) -> Predicate:
    if key in ("$and", "$or", "$nor"):
        if not isinstance(value, list) or not value:
            raise FilterError(f"{key} takes a non-empty list of filters")
        parts = [compile_filter(item) for item in value]
        if key == "$and":
            return lambda run: all(part(run) for part in parts)
        if key == "$or":
            return lambda run: any(part(run) for part in parts)
        return lambda run: not any(part(run) for part in parts)
    if key.startswith("$"):
        raise FilterError(f"unknown operator {key!r} at the top level")
    read = _field(key)
    test = _condition(key, value)
    return lambda run: test(read(run))


def _field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    if name in PLAIN_FIELDS:
        field = "name" if name == "display_name" else name
        return lambda run: run.get(field, MISSING)
    for prefix, section in PREFIXES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            key = name[len(prefix) :]
            return lambda run: run.get(section, {}).get(key, MISSING)
    raise FilterError(
        f"unknown field {name!r}: use state, name, id, job_type, created_at, "
        "config.<key> or summary.<key>"
    )


def _condition(name: str, value: Any) -> Callable[[Any], bool]:
    is_time = name == "created_at"
    if not (isinstance(value, Mapping) and value and all(k.startswith("$") for k in value)):
        expected = _operand(value, is_time)
        return lambda actual: actual is not MISSING and _equal(actual, expected)
    tests = [_operator(op, operand, is_time) for op, operand in value.items()]
    return lambda actual: all(test(actual) for test in tests)


def _operator(op: str, operand: Any, is_time: bool) -> Callable[[Any], bool]:
    if op == "$not":
        inner = _condition("created_at" if is_time else "", operand)
        return lambda actual: not inner(actual)
    if op == "$exists":
        return lambda actual: (actual is not MISSING) == bool(operand)
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise FilterError(f"{op} takes a list")
        options = [_operand(item, is_time) for item in operand]

        def found(actual: Any) -> bool:
            return actual is not MISSING and any(_equal(actual, option) for option in options)

        return found if op == "$in" else lambda actual: not found(actual)
    if op == "$regex":
        if not isinstance(operand, str) or len(operand) > MAX_REGEX_CHARS:
            raise FilterError(f"$regex takes a pattern of at most {MAX_REGEX_CHARS} characters")
        try:
            pattern = re.compile(operand)
        except re.error as exc:
            raise FilterError(f"invalid $regex: {exc}") from None
        return lambda actual: isinstance(actual, str) and pattern.search(actual) is not None
    expected = _operand(operand, is_time)
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "$eq": _equal,
        "$ne": lambda a, b: not _equal(a, b),
        "$gt": lambda a, b: a > b,
        "$gte": lambda a, b: a >= b,
        "$lt": lambda a, b: a < b,
        "$lte": lambda a, b: a <= b,
    }
    if op not in comparisons:
        raise FilterError(f"unknown operator {op!r}")
    compare = comparisons[op]
    if op == "$ne":
        return lambda actual: actual is MISSING or compare(actual, expected)
    return lambda actual: actual is not MISSING and _safe(compare, actual, expected)


def _operand(value: Any, is_time: bool) -> Any:
    if is_time and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FilterError(f"created_at needs an ISO 8601 time, got {value!r}") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) != isinstance(expected, bool):
        return False  # True is not 1 in a filter
    return _safe(lambda a, b: a == b, actual, expected)


def _safe(compare: Callable[[Any, Any], bool], actual: Any, expected: Any) -> bool:
    """Values of different kinds never match (as in MongoDB), rather than raise."""
    try:
        return bool(compare(actual, expected))
    except TypeError:
        return False
