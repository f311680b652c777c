"""W&B's Mongo-like filters, evaluated here for what the server does not filter (registries).

Collections and versions are filtered by the server (``?filter=``); the list of registries is
short and unfiltered, so ``api.registries(filter=...)`` matches it with this. Operators:
``$and $or $nor $not $eq $ne $gt $gte $lt $lte $in $nin $regex ($options) $exists``; a list
field matches when any element does, as in MongoDB.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

MAX_DEPTH = 20


def matches(doc: Mapping[str, Any], spec: Mapping[str, Any] | None) -> bool:
    """Whether ``doc`` satisfies the filter ``spec`` (None matches everything)."""
    return True if not spec else _document(doc, spec, 0)


def _document(doc: Mapping[str, Any], spec: Mapping[str, Any], depth: int) -> bool:
    if depth > MAX_DEPTH:
        raise ValueError("the filter is nested too deeply")
    if not isinstance(spec, Mapping):
        raise ValueError(f"a filter is a dict, not {type(spec).__name__}")
    return all(_clause(doc, key, value, depth) for key, value in spec.items())


def _clause(doc: Mapping[str, Any], key: str, value: Any, depth: int) -> bool:
    if key in ("$and", "$or", "$nor"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{key} takes a non-empty list of filters")
        results = [_document(doc, part, depth + 1) for part in value]
        return all(results) if key == "$and" else any(results) if key == "$or" else not any(results)
    if key == "$not":
        return not _document(doc, value, depth + 1)
    if key.startswith("$"):
        raise ValueError(f"unknown operator {key!r}")
    return _field(_lookup(doc, key), value)


def _lookup(doc: Mapping[str, Any], key: str) -> Any:
    current: Any = doc
    for part in key.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


class _Missing:
    pass


_MISSING = _Missing()


def _field(value: Any, expr: Any) -> bool:
    if not (isinstance(expr, Mapping) and expr and all(str(k).startswith("$") for k in expr)):
        return _any(value, lambda v: _equal(v, expr))
    options = expr.get("$options")
    return all(
        _operator(value, op, operand, options) for op, operand in expr.items() if op != "$options"
    )


def _operator(value: Any, op: str, operand: Any, options: Any) -> bool:
    if op == "$exists":
        return (value is not _MISSING) == bool(operand)
    if op == "$not":
        if isinstance(operand, str):
            return not _operator(value, "$regex", operand, options)
        return not _field(value, operand)
    if op == "$ne":
        return not _any(value, lambda v: _equal(v, operand))
    if op == "$nin":
        return not _any(value, lambda v: any(_equal(v, o) for o in _list(op, operand)))
    test = _TESTS.get(op)
    if test is None:
        raise ValueError(f"unknown operator {op!r}")
    return _any(value, lambda v: test(v, operand, options))


def _list(op: str, operand: Any) -> list[Any]:
    if not isinstance(operand, list):
        raise ValueError(f"{op} takes a list")
    return operand


def _any(value: Any, test: Callable[[Any], bool]) -> bool:
    if value is _MISSING:
        return False
    if isinstance(value, list):
        return any(test(v) for v in value) or test(value)
    return test(value)


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _equal(value: Any, operand: Any) -> bool:
    return bool(_comparable(value) == _comparable(operand))


def _compare(op: str) -> Callable[[Any, Any, Any], bool]:
    def test(value: Any, operand: Any, _options: Any) -> bool:
        left, right = _comparable(value), _comparable(operand)
        try:
            if op == "$gt":
                return bool(left > right)
            if op == "$gte":
                return bool(left >= right)
            if op == "$lt":
                return bool(left < right)
            return bool(left <= right)
        except TypeError:
            return False

    return test


def _regex(value: Any, pattern: Any, options: Any) -> bool:
    if not isinstance(pattern, str):
        raise ValueError("$regex takes a string")
    flags = re.IGNORECASE if isinstance(options, str) and "i" in options else 0
    return isinstance(value, str) and re.search(pattern, value, flags) is not None


_TESTS: dict[str, Callable[[Any, Any, Any], bool]] = {
    "$eq": lambda v, o, _: _equal(v, o),
    "$in": lambda v, o, _: any(_equal(v, x) for x in _list("$in", o)),
    "$gt": _compare("$gt"),
    "$gte": _compare("$gte"),
    "$lt": _compare("$lt"),
    "$lte": _compare("$lte"),
    "$regex": _regex,
}
