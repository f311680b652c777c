"""Request bodies: what the edge refuses with a 400 before anything runs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cairn_storage.entrypoints.http.models import CheckRequest, CompleteRequest, UploadsRequest
from pydantic import ValidationError

D = "a" * 64


def parse(model: Any, body: object) -> Any:
    return model.model_validate_json(json.dumps(body))


@pytest.mark.parametrize(
    "blob",
    [
        {"digest": D, "size": -1},
        {"digest": D, "size": "12"},
        {"digest": D, "size": 1.5},
        {"digest": D, "size": True},
        {"digest": D, "size": 6 * 1024**4},
        {"digest": D.upper(), "size": 1},
        {"digest": D},
        {"digest": D, "size": 1, "extra": 1},
    ],
)
def test_a_bad_blob_is_refused(blob: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse(UploadsRequest, {"blobs": [blob]})


def test_at_most_10000_blobs_per_call() -> None:
    blob = {"digest": D, "size": 1}
    assert len(parse(UploadsRequest, {"blobs": [blob] * 10_000}).blobs) == 10_000
    with pytest.raises(ValidationError, match="at most 10000"):
        parse(UploadsRequest, {"blobs": [blob] * 10_001})


@pytest.mark.parametrize(
    "extra",
    [
        {"upload_id": "u"},
        {"parts": [{"part_number": 1, "etag": "e"}]},
        {"upload_id": "u", "parts": []},
        {
            "upload_id": "u",
            "parts": [{"part_number": 2, "etag": "e"}, {"part_number": 1, "etag": "e"}],
        },
        {
            "upload_id": "u",
            "parts": [{"part_number": 1, "etag": "e"}, {"part_number": 1, "etag": "e"}],
        },
        {"upload_id": "u", "parts": [{"part_number": 0, "etag": "e"}]},
        {"upload_id": "u", "parts": [{"part_number": 1, "etag": ""}]},
    ],
)
def test_a_multipart_completion_must_be_whole_and_ordered(extra: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse(CompleteRequest, {"blobs": [{"digest": D, "size": 1, **extra}]})


def test_a_valid_multipart_completion() -> None:
    parts = [{"part_number": 1, "etag": '"e1"'}, {"part_number": 3, "etag": "e3"}]
    body = parse(
        CompleteRequest, {"blobs": [{"digest": D, "size": 1, "upload_id": "u", "parts": parts}]}
    )
    assert body.blobs[0].parts is not None
    assert [p.part_number for p in body.blobs[0].parts] == [1, 3]


def test_check_validates_every_digest() -> None:
    with pytest.raises(ValidationError, match=r"digests\.1"):
        parse(CheckRequest, {"digests": [D, "nope"]})
