"""Verdicts on an uploaded object: what is verified, what is wrong, what gets deleted."""

from __future__ import annotations

import hashlib

from cairn_storage.domain.blobs import Blob, checksum_sha256
from cairn_storage.domain.verification import (
    Failure,
    Reason,
    Verdict,
    error_code,
    judge_content,
    judge_head,
    judge_indexed,
)

DATA = b"some bytes"
BLOB = Blob(hashlib.sha256(DATA).hexdigest(), len(DATA))
RIGHT = checksum_sha256(BLOB.digest)
WRONG = checksum_sha256(hashlib.sha256(b"other").hexdigest())


def test_a_matching_s3_checksum_and_size_verify_without_reading() -> None:
    assert judge_head(BLOB, size=BLOB.size, checksum=RIGHT) is Verdict.VERIFIED


def test_an_absent_object_is_missing_and_nothing_is_deleted() -> None:
    failure = judge_head(BLOB, size=None, checksum=None)
    assert isinstance(failure, Failure)
    assert failure.reason is Reason.MISSING
    assert not failure.discard


def test_wrong_content_is_deleted() -> None:
    failure = judge_head(BLOB, size=BLOB.size, checksum=WRONG)
    assert isinstance(failure, Failure)
    assert (failure.reason, failure.discard) == (Reason.CHECKSUM_MISMATCH, True)


def test_right_content_with_a_lying_size_is_kept() -> None:
    failure = judge_head(Blob(BLOB.digest, BLOB.size + 1), size=BLOB.size, checksum=RIGHT)
    assert isinstance(failure, Failure)
    assert (failure.reason, failure.discard) == (Reason.SIZE_MISMATCH, False)
    assert failure.stored_size == BLOB.size


def test_without_a_checksum_a_wrong_size_is_deleted_and_a_right_one_needs_hashing() -> None:
    failure = judge_head(BLOB, size=BLOB.size + 5, checksum=None)
    assert isinstance(failure, Failure)
    assert (failure.reason, failure.discard) == (Reason.SIZE_MISMATCH, True)
    assert judge_head(BLOB, size=BLOB.size, checksum=None) is Verdict.NEEDS_HASH


def test_hashing_decides_the_rest() -> None:
    assert judge_content(BLOB, size=BLOB.size, sha256_hex=BLOB.digest) is Verdict.VERIFIED
    wrong = judge_content(BLOB, size=BLOB.size, sha256_hex="0" * 64)
    assert isinstance(wrong, Failure)
    assert (wrong.reason, wrong.discard) == (Reason.CHECKSUM_MISMATCH, True)
    gone = judge_content(BLOB, size=None, sha256_hex=None)
    assert isinstance(gone, Failure)
    assert gone.reason is Reason.MISSING


def test_an_indexed_blob_only_fails_on_a_different_size() -> None:
    assert judge_indexed(BLOB, BLOB.size) is Verdict.VERIFIED
    failure = judge_indexed(BLOB, BLOB.size + 1)
    assert isinstance(failure, Failure)
    assert (failure.reason, failure.discard) == (Reason.SIZE_MISMATCH, False)


def test_the_error_code_names_the_worst_fault() -> None:
    size = Failure("a" * 64, Reason.SIZE_MISMATCH, 1)
    missing = Failure("b" * 64, Reason.MISSING, 1)
    checksum = Failure("c" * 64, Reason.CHECKSUM_MISMATCH, 1)
    assert error_code([size, missing]) == "size_mismatch"
    assert error_code([missing, checksum]) == "checksum_mismatch"


def test_a_failure_renders_for_the_error_details() -> None:
    failure = Failure("a" * 64, Reason.INVALID_PARTS, 10, detail="InvalidPart")
    assert failure.as_json() == {
        "digest": "a" * 64,
        "reason": "invalid_parts",
        "declared_size": 10,
        "stored_size": None,
        "detail": "InvalidPart",
    }
