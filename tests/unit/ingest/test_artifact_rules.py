"""What ingest checks in a submission before anything is published."""

from __future__ import annotations

import hashlib

import pytest
from cairn_ingest.domain.artifacts import (
    SubmissionError,
    check_manifest,
    check_metadata,
    check_names,
    check_run,
    check_usage,
    submission_id,
    type_conflict,
    usage_id,
)
from cairn_shared.manifests import canonical_bytes

DIGEST = "a" * 64


def manifest_text(*paths: str, digest: str = DIGEST) -> tuple[str, str]:
    raw = canonical_bytes(
        {"contents": {p: {"digest": digest, "size": 3} for p in paths}, "version": 1}
    )
    return raw.decode(), hashlib.sha256(raw).hexdigest()


def test_latest_is_accepted_and_dropped_and_duplicates_collapse() -> None:
    assert check_names("mnist", "dataset", ["latest", "best", "best", "prod"]) == ["best", "prod"]


@pytest.mark.parametrize(
    ("name", "artifact_type", "aliases", "field"),
    [
        ("bad name!", "dataset", [], "name"),
        ("", "dataset", [], "name"),
        ("mnist", "data/set", [], "type"),
        ("mnist", "a:b", [], "type"),
        ("mnist", "dataset", ["a/b"], "aliases"),
        ("mnist", "dataset", ["a:b"], "aliases"),
        ("mnist", "dataset", ["v3"], "aliases"),
        ("mnist", "dataset", [""], "aliases"),
    ],
)
def test_bad_names_and_aliases_name_the_field(
    name: str, artifact_type: str, aliases: list[str], field: str
) -> None:
    with pytest.raises(SubmissionError) as caught:
        check_names(name, artifact_type, aliases)

    assert caught.value.code == "bad_request"
    assert caught.value.field == field
    assert "invalid" in str(caught.value)


def test_too_many_aliases_are_refused() -> None:
    with pytest.raises(SubmissionError, match="at most 100 aliases"):
        check_names("mnist", "dataset", [f"a{i}" for i in range(101)])


def test_metadata_is_limited_in_keys_and_size() -> None:
    check_metadata({f"k{i}": i for i in range(100)})
    with pytest.raises(SubmissionError, match="101 keys"):
        check_metadata({f"k{i}": i for i in range(101)})
    with pytest.raises(SubmissionError, match="larger than"):
        check_metadata({"blob": "x" * 300_000})


def test_run_ids_are_checked_when_given() -> None:
    assert check_run("") == ""
    assert check_run("3f2a9c1d") == "3f2a9c1d"
    with pytest.raises(SubmissionError) as caught:
        check_run("../etc")
    assert caught.value.field == "run_id"
    with pytest.raises(SubmissionError):
        check_usage("", "mnist")
    with pytest.raises(SubmissionError):
        check_usage("run1", "a/b")


def test_a_manifest_is_accepted_with_its_blobs_and_itself_required() -> None:
    text, digest = manifest_text("data/train.csv", "README.md")

    checked = check_manifest(text, digest)

    assert checked.digest == digest
    assert checked.required_blobs == sorted([DIGEST, digest])


def test_the_digest_must_be_that_of_the_manifest_text() -> None:
    text, _ = manifest_text("a.txt")

    with pytest.raises(SubmissionError) as caught:
        check_manifest(text, "0" * 64)

    assert caught.value.code == "digest_mismatch"


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../b", "a//b", "C:/x"])
def test_entry_paths_that_escape_the_root_are_refused(path: str) -> None:
    text, digest = manifest_text(path)

    with pytest.raises(SubmissionError) as caught:
        check_manifest(text, digest)

    assert caught.value.code == "invalid_manifest"
    assert "invalid entry path" in str(caught.value)


def test_a_manifest_that_is_not_canonical_is_refused() -> None:
    text = '{"version": 1, "contents": {}}'
    with pytest.raises(SubmissionError, match="canonical"):
        check_manifest(text, hashlib.sha256(text.encode()).hexdigest())


def test_retries_map_to_the_same_event_ids() -> None:
    assert submission_id("team", "proj", "c1") == submission_id("team", "proj", "c1")
    assert submission_id("team", "proj", "c1") != submission_id("team", "proj", "c2")
    assert submission_id("team", "proj", "c1") != submission_id("team", "other", "c1")
    first = usage_id("team", "proj", "run1", "team/proj/mnist", 3)
    assert first == usage_id("team", "proj", "run1", "team/proj/mnist", 3)
    assert first != usage_id("team", "proj", "run1", "team/proj/mnist", 4)


def test_a_type_conflict_is_only_with_another_type() -> None:
    assert type_conflict("x", None, "model") is None
    assert type_conflict("x", "model", "model") is None
    assert type_conflict("x", "dataset", "model") == "artifact 'x' is a 'dataset', not a 'model'"
