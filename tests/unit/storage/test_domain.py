"""Storage's pure rules: digests, duplicates, single vs multipart, the part plan."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cairn_storage.domain.blobs import Blob, check_digest, checksum_sha256, unique_blobs
from cairn_storage.domain.uploads import (
    MAX_PARTS,
    MIB,
    MIN_PART_BYTES,
    is_multipart,
    plan_parts,
)

D1, D2 = "a" * 64, "b" * 64


@pytest.mark.parametrize("digest", ["", "a" * 63, "a" * 65, "A" * 64, "g" * 64, " " + "a" * 63])
def test_a_digest_is_64_lower_case_hex_digits(digest: str) -> None:
    with pytest.raises(ValueError, match="invalid digest"):
        check_digest(digest)


def test_a_valid_digest_passes_unchanged() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    assert check_digest(digest) == digest


def test_the_s3_checksum_is_the_digest_in_base64() -> None:
    digest = hashlib.sha256(b"hello").digest()
    assert checksum_sha256(digest.hex()) == base64.b64encode(digest).decode()


def test_repeated_blobs_collapse_in_order() -> None:
    blobs = [Blob(D2, 2), Blob(D1, 1), Blob(D2, 2)]
    assert unique_blobs(blobs) == [Blob(D2, 2), Blob(D1, 1)]


def test_one_digest_with_two_sizes_is_refused() -> None:
    with pytest.raises(ValueError, match="two sizes"):
        unique_blobs([Blob(D1, 1), Blob(D1, 2)])


def test_multipart_only_above_the_threshold() -> None:
    assert not is_multipart(64 * MIB, 64 * MIB)
    assert is_multipart(64 * MIB + 1, 64 * MIB)
    assert not is_multipart(0, 0)


@pytest.mark.parametrize(
    ("size", "part_bytes", "expected"),
    [
        (70 * MIB, 64 * MIB, (64 * MIB, 2)),
        (12 * MIB, 5 * MIB, (5 * MIB, 3)),
        (10 * MIB, 5 * MIB, (5 * MIB, 2)),
        (1, 5 * MIB, (5 * MIB, 1)),
    ],
)
def test_parts_are_full_but_the_last(size: int, part_bytes: int, expected: tuple[int, int]) -> None:
    plan = plan_parts(size, part_bytes)
    assert (plan.part_size, plan.part_count) == expected


def test_a_huge_blob_gets_bigger_parts_to_stay_within_10000() -> None:
    size = 5 * 1024**4  # 5 TiB, S3's largest object
    plan = plan_parts(size, 64 * MIB)
    assert plan.part_count <= MAX_PARTS
    assert plan.part_size % MIB == 0
    assert plan.part_size * plan.part_count >= size
    assert plan.part_size * (plan.part_count - 1) < size


def test_parts_are_never_below_s3s_minimum() -> None:
    assert plan_parts(100 * MIB, 1).part_size == MIN_PART_BYTES
