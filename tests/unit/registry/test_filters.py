"""W&B's Mongo-like search filters, evaluated in Python."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cairn_registry.domain.filter_values import compare, resolve, same
from cairn_registry.domain.filters import Fields, FilterError, compile_filter, parse_filter

FIELDS = Fields(
    ["name", "description", "tags", "alias"],
    dates=["created_at"],
    dictionaries=["metadata"],
)
DOC: dict[str, Any] = {
    "name": "Quickstart Model Registry",
    "description": "digits",
    "tags": ["vision", "prod-ready"],
    "alias": ["latest", "production"],
    "created_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    "metadata": {
        "acc": 0.93,
        "epochs": 10,
        "arch": "resnet",
        "val.loss": 0.2,  # a user key with a dot
        "nested": {"depth": 3},
        "flag": True,
        "none": None,
        "layers": [64, 128],
    },
}


def matches(spec: Any, doc: dict[str, Any] = DOC) -> bool:
    return compile_filter(spec, FIELDS)(doc)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, True),
        ({"name": "Quickstart Model Registry"}, True),
        ({"name": "other"}, False),
        ({"name": {"$eq": "Quickstart Model Registry"}}, True),
        ({"name": {"$ne": "other"}}, True),
        ({"name": {"$regex": "^quick", "$options": "i"}}, True),
        ({"name": {"$regex": "^quick"}}, False),
        ({"name": {"$not": {"$regex": "Model"}}}, False),
        ({"name": {"$not": "Model"}}, False),
        ({"name": {"$in": ["a", "Quickstart Model Registry"]}}, True),
        ({"name": {"$nin": ["a", "b"]}}, True),
        ({"description": {"$exists": True}}, True),
        ({"missing_field_is_unknown": 1}, None),
    ],
)
def test_plain_fields(spec: dict[str, Any], expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(FilterError, match="unknown field"):
            matches(spec)
    else:
        assert matches(spec) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"tags": "vision"}, True),  # an element matches
        ({"tags": ["vision", "prod-ready"]}, True),  # the whole list matches
        ({"tags": "nlp"}, False),
        ({"tags": {"$ne": "vision"}}, False),  # $ne: no element equals it
        ({"tags": {"$ne": "nlp"}}, True),
        ({"tags": {"$regex": "^prod"}}, True),
        ({"tags": {"$in": ["nlp", "vision"]}}, True),
        ({"tags": {"$nin": ["nlp", "vision"]}}, False),
        ({"alias": "production"}, True),
        ({"alias": {"$not": {"$in": ["production"]}}}, False),
    ],
)
def test_list_fields_match_through_any_element(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"metadata.acc": {"$gt": 0.9}}, True),
        ({"metadata.acc": {"$gte": 0.93, "$lte": 0.93}}, True),
        ({"metadata.acc": {"$lt": 0.9}}, False),
        ({"metadata.epochs": 10}, True),
        ({"metadata.epochs": 10.0}, True),  # numbers compare across int and float
        ({"metadata.epochs": "10"}, False),  # but never with strings
        ({"metadata.epochs": {"$gt": "1"}}, False),
        ({"metadata.arch": {"$gt": "alexnet"}}, True),  # strings compare as strings
        ({"metadata.val.loss": {"$lt": 0.5}}, True),  # the dotted user key itself
        ({"metadata.nested.depth": 3}, True),  # a path into a nested value
        ({"metadata.flag": True}, True),
        ({"metadata.flag": 1}, False),  # true is not 1
        ({"metadata.epochs": True}, False),
        ({"metadata.flag": {"$gt": 0}}, False),
        ({"metadata.none": None}, True),
        ({"metadata.absent": None}, True),  # null matches a missing field, as in MongoDB
        ({"metadata.absent": {"$exists": False}}, True),
        ({"metadata.none": {"$exists": True}}, True),
        ({"metadata.absent": {"$ne": 1}}, True),
        ({"metadata.absent": {"$gt": 0}}, False),
        ({"metadata.layers": 128}, True),
        ({"metadata.layers": {"$gt": 100}}, True),
        ({"metadata.nested": {"depth": 3}}, True),  # a literal object is equality
    ],
)
def test_metadata(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"created_at": {"$gte": "2026-03-01T00:00:00Z"}}, True),
        ({"created_at": {"$gt": "2026-03-01T12:00:00+00:00"}}, False),
        ({"created_at": {"$lt": "2026-03-01T13:00:00+01:00"}}, False),  # 12:00 UTC
        ({"created_at": {"$lte": "2026-03-01T12:00:00"}}, True),  # naive is UTC
        ({"created_at": "2026-03-01T12:00:00Z"}, True),
    ],
)
def test_dates_compare_with_iso_strings(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"$and": [{"tags": "vision"}, {"metadata.acc": {"$gt": 0.9}}]}, True),
        ({"$and": [{"tags": "vision"}, {"metadata.acc": {"$gt": 0.95}}]}, False),
        ({"$or": [{"tags": "nlp"}, {"name": {"$regex": "Model"}}]}, True),
        ({"$or": [{"tags": "nlp"}, {"name": "x"}]}, False),
        ({"$nor": [{"tags": "nlp"}, {"name": "x"}]}, True),
        ({"$nor": [{"tags": "vision"}]}, False),
        ({"$not": {"tags": "vision"}}, False),
        ({"$not": {"$or": [{"tags": "nlp"}, {"name": "x"}]}}, True),
        ({"tags": "vision", "metadata.epochs": {"$gte": 10}}, True),  # implicit and
        (
            {"$or": [{"$and": [{"tags": "vision"}, {"alias": "staging"}]}, {"alias": "latest"}]},
            True,
        ),
    ],
)
def test_logical_operators(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([], "must be a JSON object"),
        ({"$and": {}}, "non-empty list"),
        ({"$or": []}, "non-empty list"),
        ({"$where": "1"}, "unknown operator"),
        ({"name": {"$elemMatch": {}}}, "unknown operator"),
        ({"name": {"$regex": "("}}, "invalid regex"),
        ({"name": {"$regex": 1}}, "takes a string"),
        ({"name": {"$regex": "a", "$options": "q"}}, "options"),
        ({"name": {"$options": "i"}}, "needs \\$regex"),
        ({"name": {"$exists": 1}}, "true or false"),
        ({"name": {"$in": "a"}}, "takes a list"),
        ({"name": {"$gt": [1]}}, "compares with"),
        ({"name": {"$gt": True}}, "compares with"),
        ({"name": {"$not": 3}}, "\\$not takes"),
        ({"name": {"$eq": 1, "plain": 2}}, "do not mix"),
        ({"created_at": {"$gt": "yesterday"}}, "ISO 8601"),
        ({"created_at": {"$gt": 5}}, "ISO 8601"),
        ({"metadata.": 1}, "unknown field"),
        ({"metadata": 1}, "unknown field"),
    ],
)
def test_faults_are_reported_before_any_document_is_read(spec: Any, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        compile_filter(spec, FIELDS)


def test_parse_filter_reads_json_text_and_limits_it() -> None:
    assert parse_filter("", FIELDS)(DOC)
    assert parse_filter('{"tags": "vision"}', FIELDS)(DOC)
    with pytest.raises(FilterError, match="not valid JSON"):
        parse_filter("{tags: vision}", FIELDS)
    with pytest.raises(FilterError, match="longer than"):
        parse_filter(json.dumps({"name": "x" * 9000}), FIELDS)
    deep: dict[str, Any] = {"name": "x"}
    for _ in range(40):
        deep = {"$and": [deep]}
    with pytest.raises(FilterError, match="nests deeper"):
        parse_filter(json.dumps(deep), FIELDS)


def test_value_semantics() -> None:
    assert same(1, 1.0)
    assert not same(True, 1)
    assert not same(0, False)
    assert same(True, True)
    assert not same("1", 1)
    assert compare(1, 2) == -1
    assert compare("b", "a") == 1
    assert compare(1, "1") is None
    assert compare(True, 0) is None
    naive, aware = datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC)
    assert compare(naive, aware) == 0
    assert resolve({"a": {"b.c": 1}}, "a.b.c") == 1
    assert resolve({"a": {"b": {"c": 2}}}, "a.b.c") == 2
