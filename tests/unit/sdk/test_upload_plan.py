"""The upload planner: what to ask storage, which PUTs to make with which byte ranges, and
what to complete. (The transfers themselves run against real S3 in the end-to-end tests.)"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest

from cairn.artifacts.upload import (
    BlobSource,
    PutJob,
    batches,
    completions,
    pack_jobs,
    plan_jobs,
    unique_blobs,
    upload_blobs,
)
from cairn.errors import CairnError, TransferError
from cairn.session import Session
from tests.unit.sdk.fakes import FakeCairn, ok

MIB = 1 << 20


def _source(tmp_path: Path, size: int, name: str = "blob") -> BlobSource:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    st = path.stat()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return BlobSource(digest, size, path=str(path), mtime_ns=st.st_mtime_ns)


def test_a_pack_streams_its_members_in_storage_order(tmp_path: Path) -> None:
    a, b = _source(tmp_path, 3 * MIB + 5, "a"), _source(tmp_path, 7, "b")
    empty = BlobSource(hashlib.sha256(b"").hexdigest(), 0, data=b"")
    opened: dict[str, Any] = {
        "pack_id": "p" * 64,
        "url": "https://s3.test/pack",
        "size": a.size + b.size,
        "members": [
            {"digest": b.digest, "size": b.size, "offset": 0},
            {"digest": empty.digest, "size": 0, "offset": b.size},
            {"digest": a.digest, "size": a.size, "offset": b.size},
        ],
    }

    (job,) = pack_jobs([opened], {s.digest: s for s in (a, b, empty)})

    assert (job.url, job.offset, job.length) == ("https://s3.test/pack", 0, a.size + b.size)
    sent = b"".join(job.source.chunks(0, job.length))
    assert sent == Path(b.path or "").read_bytes() + Path(a.path or "").read_bytes()
    assert b"".join(job.source.chunks(4, 10)) == sent[4:14]  # a range across two members
    opened["members"][2]["offset"] = b.size + 1
    with pytest.raises(TransferError, match="inconsistently"):
        pack_jobs([opened], {s.digest: s for s in (a, b, empty)})


def test_each_digest_is_asked_for_once() -> None:
    a, b = BlobSource("a" * 64, 1, data=b"x"), BlobSource("b" * 64, 1, data=b"y")
    assert unique_blobs([a, b, BlobSource("a" * 64, 1, data=b"x")]) == [a, b]


def test_batches_hold_at_most_10000() -> None:
    sizes = [len(b) for b in batches(list(range(25_001)))]
    assert sizes == [10_000, 10_000, 5_001]


def test_a_single_put_sends_the_whole_file_with_the_checksum_header(tmp_path: Path) -> None:
    source = _source(tmp_path, 1000)
    upload = {
        "digest": source.digest,
        "size": 1000,
        "method": "put",
        "url": "http://s3/x?sig",
        "headers": {"x-amz-checksum-sha256": "abc="},
    }
    (job,) = plan_jobs([upload], {source.digest: source})
    assert job == PutJob(source, "http://s3/x?sig", {"x-amz-checksum-sha256": "abc="}, 0, 1000)
    assert completions([upload], {}) == [{"digest": source.digest, "size": 1000}]


def _multipart(source: BlobSource, part_size: int, count: int) -> dict[str, Any]:
    return {
        "digest": source.digest,
        "size": source.size,
        "method": "multipart",
        "upload_id": "up-1",
        "part_size": part_size,
        "parts": [{"part_number": n, "url": f"http://s3/p{n}"} for n in range(count, 0, -1)],
    }


def test_multipart_parts_cover_the_file_exactly(tmp_path: Path) -> None:
    source = _source(tmp_path, 5 * MIB + 123)
    upload = _multipart(source, 2 * MIB, 3)
    jobs = plan_jobs([upload], {source.digest: source})
    assert [(j.part_number, j.offset, j.length) for j in jobs] == [
        (1, 0, 2 * MIB),
        (2, 2 * MIB, 2 * MIB),
        (3, 4 * MIB, MIB + 123),
    ]
    # Streaming the parts gives back the file, never more than a chunk at a time.
    data = Path(source.path or "").read_bytes()
    for job in jobs:
        chunks = list(source.chunks(job.offset, job.length))
        assert max(len(c) for c in chunks) <= MIB
        assert b"".join(chunks) == data[job.offset : job.offset + job.length]
    etags = {(source.digest, n): f'"e{n}"' for n in (1, 2, 3)}
    assert completions([upload], etags) == [
        {
            "digest": source.digest,
            "size": source.size,
            "upload_id": "up-1",
            "parts": [{"part_number": n, "etag": f'"e{n}"'} for n in (1, 2, 3)],
        }
    ]


def test_parts_that_do_not_cover_the_file_are_refused(tmp_path: Path) -> None:
    source = _source(tmp_path, 5 * MIB)
    with pytest.raises(TransferError, match="cover"):
        plan_jobs([_multipart(source, 2 * MIB, 2)], {source.digest: source})
    with pytest.raises(TransferError, match="past the end"):
        plan_jobs([_multipart(source, 2 * MIB, 4)], {source.digest: source})


def test_in_memory_blobs_stream_in_chunks() -> None:
    data = os.urandom(3 * MIB + 5)
    source = BlobSource(hashlib.sha256(data).hexdigest(), len(data), data=data)
    assert b"".join(source.chunks(MIB, 2 * MIB)) == data[MIB : 3 * MIB]


def test_a_file_changed_since_hashing_is_not_uploaded(tmp_path: Path) -> None:
    source = _source(tmp_path, 10)
    later = time.time() + 5
    os.utime(source.path or "", (later, later))
    with pytest.raises(CairnError, match="changed after it was added"):
        source.check_uploadable()


def test_only_what_storage_lacks_is_sent(fake: FakeCairn, tmp_path: Path) -> None:
    sources = [BlobSource(f"{i:064x}", 1, data=b"x") for i in range(10_001)]
    sent = upload_blobs(Session(), "alice", [*sources, sources[0]])
    assert sent == 0  # the fake holds everything: no PUT, no completion
    asked = fake.calls("POST", r"/uploads$")
    assert [len(body["blobs"]) for body in asked] == [10_000, 1]
    assert fake.calls("POST", r"/uploads/complete$") == []


def test_an_upload_without_local_bytes_fails_clearly(fake: FakeCairn) -> None:
    digest = "f" * 64
    upload = {"digest": digest, "size": 1, "method": "put", "url": "http://s3/x", "headers": {}}
    fake.fail("/uploads", ok({"present": [], "uploads": [upload]}))
    with pytest.raises(CairnError, match="no local copy"):
        upload_blobs(Session(), "alice", [BlobSource(digest, 1)])
