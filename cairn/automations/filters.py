"""Event filters: ``ArtifactEvent.alias.eq("production")``, ``.matches_regex("^prod-.*")``.

W&B expresses an event filter as a Mongo-like condition on the alias; Cairn's automations
service takes one regular expression (``alias_pattern``), searched in the alias of an alias
event or in the aliases a version got. Every filter here becomes that pattern; a condition no
pattern can express (``ne``, ``&``, comparisons) is refused when it is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

AND_REFUSED = (
    "Cairn automations filter on one alias pattern: combine conditions with '|' or write one "
    "regular expression with matches_regex()"
)


class FilterExpr:
    """A condition on an event's alias; ``a | b`` matches either."""

    def __init__(self, pattern: str, shown: Mapping[str, Any]) -> None:
        try:
            re.compile(pattern)  # a bad regex fails here, not at the server
        except re.error as exc:
            raise ValueError(f"invalid alias regex {pattern!r}: {exc}") from None
        self.pattern = pattern
        self._shown = dict(shown)

    def __repr__(self) -> str:
        return f"FilterExpr({self._shown!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FilterExpr) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def to_dict(self) -> dict[str, Any]:
        """The W&B (Mongo-like) form of the condition."""
        return dict(self._shown)

    def __or__(self, other: FilterExpr) -> FilterExpr:
        return FilterExpr(
            f"(?:{self.pattern})|(?:{other.pattern})",
            {"$or": [self.to_dict(), other.to_dict()]},
        )

    def __and__(self, other: FilterExpr) -> FilterExpr:
        raise ValueError(AND_REFUSED)


class FilterableField:
    """A field an event filter may test: ``ArtifactEvent.alias``."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"FilterableField({self._name!r})"

    def eq(self, value: str) -> FilterExpr:
        """Exactly ``value``."""
        return FilterExpr(f"^{re.escape(value)}$", {self._name: {"$eq": value}})

    def in_(self, values: Iterable[str]) -> FilterExpr:
        """Any of ``values``."""
        chosen = list(values)
        if not chosen:
            raise ValueError("in_() needs at least one value")
        alternatives = "|".join(re.escape(v) for v in chosen)
        return FilterExpr(f"^(?:{alternatives})$", {self._name: {"$in": chosen}})

    def matches_regex(self, pattern: str) -> FilterExpr:
        """The regular expression ``pattern`` is found in it (anchor it with ``^...$``)."""
        return FilterExpr(pattern, {self._name: {"$regex": pattern}})

    def contains(self, text: str) -> FilterExpr:
        """It contains ``text``."""
        return FilterExpr(re.escape(text), {self._name: {"$contains": text}})


class ArtifactEvent:
    """What artifact events may be filtered on: ``ArtifactEvent.alias``."""

    alias = FilterableField("alias")


def alias_pattern(spec: FilterExpr | Mapping[str, Any] | None) -> str | None:
    """The service's ``alias_pattern`` for a filter (None: every event matches)."""
    if spec is None:
        return None
    if isinstance(spec, FilterExpr):
        return spec.pattern
    expr = _from_dict(spec)
    return None if expr is None else expr.pattern


def _from_dict(spec: Mapping[str, Any]) -> FilterExpr | None:
    """W&B's dict form, including the ``{"$or": [{"$and": [...]}]}`` it saves."""
    if not spec:
        return None
    if len(spec) != 1:
        raise ValueError(f"unsupported filter {dict(spec)!r}: use one condition on 'alias'")
    ((key, value),) = spec.items()
    if key not in ("$or", "$and"):
        return _alias_condition(key, value)
    parts = [p for p in (_from_dict(v) for v in value) if p is not None]
    if key == "$and" and len(parts) > 1:
        raise ValueError(AND_REFUSED)
    result = parts[0] if parts else None
    for part in parts[1:]:
        result = part if result is None else result | part
    return result


def _alias_condition(key: str, value: Any) -> FilterExpr:
    if key != "alias":
        raise ValueError(f"unsupported filter field {key!r}: automations filter on 'alias'")
    field = ArtifactEvent.alias
    if isinstance(value, str):
        return field.eq(value)
    builders = {
        "$eq": lambda v: field.eq(str(v)),
        "$in": lambda v: field.in_(str(x) for x in v),
        "$regex": lambda v: field.matches_regex(str(v)),
        "$contains": lambda v: field.contains(str(v)),
    }
    if isinstance(value, Mapping) and len(value) == 1:
        ((op, operand),) = value.items()
        if op in builders:
            return builders[op](operand)
    raise ValueError(f"unsupported alias condition {value!r}: use $eq, $in, $regex or $contains")
