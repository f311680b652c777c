import json
from datetime import UTC, datetime

from cairn_shared.logging import dumps


def test_a_log_line_is_the_json_of_the_event() -> None:
    at = datetime(2026, 11, 30, 4, 50, tzinfo=UTC)
    line = dumps({"event": "http.request", "status": 200, "ms": 1.5, "at": at, 3: "int key"})

    assert json.loads(line) == {
        "event": "http.request",
        "status": 200,
        "ms": 1.5,
        "at": "2026-11-30T04:50:00+00:00",
        "3": "int key",
    }


def test_an_integer_beyond_64_bits_is_rendered_by_the_stdlib() -> None:
    assert json.loads(dumps({"offset": 2**70})) == {"offset": 2**70}


def test_other_values_go_through_the_renderers_fallback() -> None:
    assert json.loads(dumps({"thing": object()}, default=repr))["thing"].startswith("<object")
