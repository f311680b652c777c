"""W&B's Mongo-like search filters, evaluated in Python.

FerretDB 1.24 lacks ``$elemMatch`` on fields and our metadata is stored as ``[{k, v}]`` (user
keys never become field names), so a filter cannot be handed to the database: the repository
narrows by entity, registry and collection, and the predicate compiled here does the rest.

Grammar: ``$and``, ``$or``, ``$nor`` (lists of filters), ``$not`` (a filter, or on a field an
operator expression or a regex); on a field, a literal (equality) or an expression of
``$eq $ne $gt $gte $lt $lte $in $nin $regex ($options) $exists $not``. As in MongoDB, a list
value matches when the list itself or any element does, ``{"f": null}`` matches a missing
field, and values of different kinds never compare (``1`` is not ``"1"``, ``true`` is not ``1``).
Filters are compiled (and every fault reported) before any document is looked at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cairn_registry.domain.filter_values import MISSING, candidates, compare, resolve, same

Predicate = Callable[[Mapping[str, Any]], bool]

MAX_FILTER_CHARS = 8192
MAX_DEPTH = 16
MAX_REGEX = 512
_LOGICAL = ("$and", "$or", "$nor")
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class FilterError(ValueError):
    """The filter is not valid; the message says where and why (a 400 answer)."""


class Fields:
    """What a filter may name: plain fields, date fields (ISO strings in the filter are
    compared as times), and prefixes for user dictionaries (``metadata.<key>``)."""

    def __init__(
        self,
        plain: Collection[str],
        *,
        dates: Collection[str] = (),
        dictionaries: Collection[str] = (),
    ) -> None:
        self.plain = frozenset(plain) | frozenset(dates)
        self.dates = frozenset(dates)
        self.dictionaries = frozenset(dictionaries)

    def check(self, name: str) -> None:
        head, dot, rest = name.partition(".")
        if name in self.plain or (dot and rest and head in self.dictionaries):
            return
        known = sorted(self.plain | {f"{d}.<key>" for d in self.dictionaries})
        raise FilterError(f"unknown field {name!r}; filter on one of: {', '.join(known)}")


def parse_filter(text: str, fields: Fields) -> Predicate:
    """The predicate of a filter given as JSON text (a query parameter); empty matches all."""
    if not text.strip():
        return _always
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"the filter is longer than {MAX_FILTER_CHARS} characters")
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FilterError(f"the filter is not valid JSON: {exc.msg} at {exc.pos}") from None
    return compile_filter(spec, fields)


def compile_filter(spec: Any, fields: Fields, depth: int = 0) -> Predicate:
    if depth > MAX_DEPTH:
        raise FilterError(f"the filter nests deeper than {MAX_DEPTH} levels")
    if not isinstance(spec, dict):
        raise FilterError(f"a filter must be a JSON object, not {_kind(spec)}")
    parts: list[Predicate] = []
    for key, value in spec.items():
        if key in _LOGICAL:
            parts.append(_logical(key, value, fields, depth))
        elif key == "$not":
            parts.append(_negation(compile_filter(value, fields, depth + 1)))
        elif key.startswith("$"):
            raise FilterError(f"unknown operator {key!r} at the top of a filter")
        else:
            fields.check(key)
            parts.append(_field(key, value, fields, depth))
    return _all_of(parts)


def _negation(inner: Predicate) -> Predicate:
    return lambda doc: not inner(doc)


def _logical(op: str, value: Any, fields: Fields, depth: int) -> Predicate:
    if not isinstance(value, list) or not value:
        raise FilterError(f"{op} takes a non-empty list of filters")
    subs = [compile_filter(v, fields, depth + 1) for v in value]
    if op == "$and":
        return _all_of(subs)
    if op == "$or":
        return lambda doc: any(s(doc) for s in subs)
    return lambda doc: not any(s(doc) for s in subs)


ValueTest = Callable[[Any], bool]


@dataclass(frozen=True)
class _Spot:
    """Where an operator stands: its field, whether that is a date, the regex options."""

    name: str
    is_date: bool
    depth: int
    options: Any = None

    def operand(self, value: Any) -> Any:
        return _operand(self.name, value, self.is_date)


def _field(name: str, value: Any, fields: Fields, depth: int) -> Predicate:
    spot = _Spot(name, name in fields.dates, depth)
    test = _expression(spot, value) if _is_expression(value) else _equals(spot.operand(value))
    return lambda doc: test(resolve(doc, name))


def _is_expression(value: Any) -> bool:
    """``{"$gt": 1}`` is an expression, ``{"a": 1}`` a literal; a mix of both is an error."""
    if not isinstance(value, dict) or not value:
        return False
    operators = [k.startswith("$") for k in value]
    if any(operators) and not all(operators):
        raise FilterError(f"do not mix operators and fields in one object: {sorted(value)}")
    return all(operators)


def _expression(spot: _Spot, expr: dict[str, Any]) -> ValueTest:
    if spot.depth > MAX_DEPTH:
        raise FilterError(f"the filter nests deeper than {MAX_DEPTH} levels")
    options = expr.get("$options")
    if options is not None and "$regex" not in expr:
        raise FilterError(f"{spot.name}: $options needs $regex")
    spot = _Spot(spot.name, spot.is_date, spot.depth, options)
    tests: list[ValueTest] = []
    for op, operand in expr.items():
        if op == "$options":
            continue
        build = _OPERATORS.get(op)
        if build is None:
            raise FilterError(f"{spot.name}: unknown operator {op!r}")
        tests.append(build(spot, op, operand))

    def test(value: Any) -> bool:
        return all(t(value) for t in tests)

    return test


def _op_eq(spot: _Spot, op: str, operand: Any) -> ValueTest:
    eq = _equals(spot.operand(operand))
    if op == "$eq":
        return eq
    return lambda value: not eq(value)


def _op_in(spot: _Spot, op: str, operand: Any) -> ValueTest:
    if not isinstance(operand, list):
        raise FilterError(f"{spot.name}: {op} takes a list")
    tests = [_equals(spot.operand(o)) for o in operand]
    if op == "$in":
        return lambda value: any(t(value) for t in tests)
    return lambda value: not any(t(value) for t in tests)


def _op_compare(spot: _Spot, op: str, operand: Any) -> ValueTest:
    return _comparison(op, spot.operand(operand), spot.name)


def _op_regex(spot: _Spot, _op: str, operand: Any) -> ValueTest:
    return _regex(spot.name, operand, spot.options)


def _op_exists(spot: _Spot, _op: str, operand: Any) -> ValueTest:
    if not isinstance(operand, bool):
        raise FilterError(f"{spot.name}: $exists takes true or false")
    return lambda value: (value is not MISSING) == operand


def _op_not(spot: _Spot, _op: str, operand: Any) -> ValueTest:
    if isinstance(operand, str):
        inner = _regex(spot.name, operand, None)
    elif _is_expression(operand):
        inner = _expression(_Spot(spot.name, spot.is_date, spot.depth + 1), operand)
    else:
        raise FilterError(f"{spot.name}: $not takes an operator expression or a regex")
    return lambda value: not inner(value)


_OPERATORS: dict[str, Callable[[_Spot, str, Any], ValueTest]] = {
    "$eq": _op_eq,
    "$ne": _op_eq,
    "$in": _op_in,
    "$nin": _op_in,
    "$gt": _op_compare,
    "$gte": _op_compare,
    "$lt": _op_compare,
    "$lte": _op_compare,
    "$regex": _op_regex,
    "$exists": _op_exists,
    "$not": _op_not,
}


def _operand(name: str, operand: Any, is_date: bool) -> Any:
    """Operands of date fields are ISO strings in JSON; they compare as times."""
    if not is_date or operand is None:
        return operand
    if not isinstance(operand, str):
        raise FilterError(f"{name}: compare a date with an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(operand)
    except ValueError:
        raise FilterError(f"{name}: {operand!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _equals(operand: Any) -> ValueTest:
    def test(value: Any) -> bool:
        if value is MISSING:
            return operand is None
        return any(same(c, operand) for c in candidates(value))

    return test


def _comparison(op: str, operand: Any, name: str) -> ValueTest:
    if not isinstance(operand, int | float | str | datetime) or isinstance(operand, bool):
        raise FilterError(f"{name}: {op} compares with a number, a string or a date")

    def test(value: Any) -> bool:
        if value is MISSING:
            return False
        for candidate in candidates(value):
            order = compare(candidate, operand)
            if order is None:
                continue
            if (
                (op == "$gt" and order > 0)
                or (op == "$gte" and order >= 0)
                or (op == "$lt" and order < 0)
                or (op == "$lte" and order <= 0)
            ):
                return True
        return False

    return test


def _regex(name: str, pattern: Any, options: Any) -> ValueTest:
    if not isinstance(pattern, str):
        raise FilterError(f"{name}: $regex takes a string")
    if len(pattern) > MAX_REGEX:
        raise FilterError(f"{name}: the regex is longer than {MAX_REGEX} characters")
    flags = 0
    if options is not None:
        if not isinstance(options, str) or any(o not in _REGEX_FLAGS for o in options):
            raise FilterError(f"{name}: $options is a string of i, m, s, x")
        for option in options:
            flags |= _REGEX_FLAGS[option]
    try:
        compiled = re.compile(pattern, flags)
    except re.error as exc:
        raise FilterError(f"{name}: invalid regex {pattern!r}: {exc}") from None

    def test(value: Any) -> bool:
        if value is MISSING:
            return False
        return any(isinstance(c, str) and compiled.search(c) for c in candidates(value))

    return test


def _all_of(parts: list[Predicate]) -> Predicate:
    return lambda doc: all(p(doc) for p in parts)


def _always(_doc: Mapping[str, Any]) -> bool:
    return True


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
