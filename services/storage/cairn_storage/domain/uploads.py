"""How a blob is uploaded: one presigned PUT, or S3 multipart in parts of a fixed size."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
MAX_PARTS = 10_000  # S3's most parts per upload
MIN_PART_BYTES = 5 * MIB  # S3's smallest part but the last
MAX_PART_BYTES = 5 * 1024 * MIB  # S3's largest part
MAX_PRESIGNED_PARTS = 20_000  # part URLs in one answer: 1.25 TiB at 64 MiB, ~12 MB of JSON


@dataclass(frozen=True)
class PartPlan:
    part_size: int
    part_count: int


def is_multipart(size: int, threshold: int) -> bool:
    return size > threshold


def plan_parts(size: int, part_bytes: int) -> PartPlan:
    """Parts of ``part_bytes``, grown (to whole MiB) when the blob would need more than S3's
    10,000 parts; every part is full but the last."""
    if size <= 0:
        raise ValueError("a multipart upload needs at least one byte")
    smallest = -(-size // MAX_PARTS)
    part_size = max(part_bytes, MIN_PART_BYTES, -(-smallest // MIB) * MIB)
    if part_size > MAX_PART_BYTES:
        raise ValueError(f"a blob of {size} bytes exceeds S3's largest multipart upload")
    return PartPlan(part_size=part_size, part_count=-(-size // part_size))
