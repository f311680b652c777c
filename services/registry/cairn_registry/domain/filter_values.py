"""How filter values compare: MongoDB's rules where they differ from Python's.

Kinds never mix (``1`` is not ``"1"``, ``true`` is not ``1``, as BSON orders types apart), a
list matches through itself or any element, and a missing field is its own value (``MISSING``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MISSING: Any = object()


def candidates(value: Any) -> list[Any]:
    """MongoDB's array rule: a list matches through itself or through any of its elements."""
    if isinstance(value, list):
        return [value, *value]
    return [value]


def same(a: Any, b: Any) -> bool:
    """Equality without Python's ``True == 1``: a boolean equals only a boolean."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, datetime) and isinstance(b, datetime):
        return _utc(a) == _utc(b)
    if type(a) is not type(b):
        return False
    return bool(a == b)


def compare(a: Any, b: Any) -> int | None:
    """-1, 0 or 1, or None when the two are not of one comparable kind."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if isinstance(a, datetime) and isinstance(b, datetime):
        a, b = _utc(a), _utc(b)
    elif not (
        (isinstance(a, int | float) and isinstance(b, int | float))
        or (isinstance(a, str) and isinstance(b, str))
    ):
        return None
    return int(a > b) - int(a < b)


def resolve(doc: Mapping[str, Any], name: str) -> Any:
    """The value at ``name``; a dotted path first tries the whole rest as one key, since user
    keys may hold dots (``metadata.val.acc`` is the key ``val.acc`` if there is one)."""
    if name in doc:
        return doc[name]
    head, dot, rest = name.partition(".")
    if not dot or head not in doc:
        return MISSING
    current = doc[head]
    if isinstance(current, Mapping) and rest in current:
        return current[rest]
    for part in rest.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return MISSING
        current = current[part]
    return current


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
