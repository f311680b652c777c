"""Uploading blobs: ask storage what it lacks, PUT only that straight to object storage with
the presigned URLs (multipart parts in parallel, streamed from the file; small files packed
several to a PUT when storage opens packs for them), then complete.

The plan (which PUTs, which byte ranges) is pure and separate from the transfer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cairn.artifacts.transfer import run_parallel, send_put
from cairn.errors import CairnError, CommError, TransferError
from cairn.http import segment
from cairn.progress import Progress, progress_bar
from cairn.session import Session

BATCH_LIMIT = 10_000  # storage takes at most this many blobs per call
CHUNK = 1 << 20
T = TypeVar("T")


@dataclass(frozen=True)
class BlobSource:
    """Where a blob's bytes come from: a local file (checked unchanged since it was hashed) or
    a small in-memory value such as the manifest."""

    digest: str
    size: int
    path: str | None = None
    mtime_ns: int | None = None
    data: bytes | None = field(default=None, repr=False)
    # Read back only through storage's downloads (an artifact's file, not its manifest), so
    # storage may keep it inside a pack with other small blobs.
    packable: bool = False

    def chunks(self, offset: int, length: int) -> Iterator[bytes]:
        """The bytes ``[offset, offset + length)``, streamed: never the whole blob in memory."""
        if self.data is not None:
            view = memoryview(self.data)[offset : offset + length]
            for start in range(0, len(view), CHUNK):
                yield bytes(view[start : start + CHUNK])
            return
        if self.path is None:
            raise ValueError("a blob source needs a path or data")
        with Path(self.path).open("rb") as f:
            f.seek(offset)
            left = length
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    raise TransferError(f"{self.path} became shorter while it was uploaded")
                left -= len(chunk)
                yield chunk

    def check_uploadable(self) -> None:
        """Raise unless the bytes to upload are at hand and unchanged since hashing."""
        if self.path is None and self.data is None:
            raise CairnError(
                f"storage lacks blob {self.digest} and there is no local copy to upload "
                "(an entry kept from a logged artifact whose blob was deleted?)"
            )
        if self.path is None or self.mtime_ns is None:
            return
        st = Path(self.path).stat()
        if st.st_size != self.size or st.st_mtime_ns != self.mtime_ns:
            raise CairnError(
                f"{self.path} changed after it was added to the artifact; add it again "
                "(or write new content to a new file) and log again"
            )


@dataclass(frozen=True)
class PackSource:
    """A pack storage opened: its members' bytes one after the other, in its order."""

    pack_id: str
    members: tuple[BlobSource, ...]

    @property
    def digest(self) -> str:  # what names a PUT job in errors and ETags
        return self.pack_id

    @property
    def size(self) -> int:
        return sum(m.size for m in self.members)

    def chunks(self, offset: int, length: int) -> Iterator[bytes]:
        start = 0
        for member in self.members:
            end = start + member.size
            if end > offset and start < offset + length:
                first = max(offset, start)
                yield from member.chunks(first - start, min(end, offset + length) - first)
            start = end


@dataclass(frozen=True)
class PutJob:
    """One PUT: a whole blob, a pack, or one part of a multipart upload."""

    source: BlobSource | PackSource
    url: str
    headers: dict[str, str]
    offset: int
    length: int
    part_number: int | None = None


def unique_blobs(sources: Sequence[BlobSource]) -> list[BlobSource]:
    """One source per digest, in first-seen order."""
    seen: dict[str, BlobSource] = {}
    for source in sources:
        seen.setdefault(source.digest, source)
    return list(seen.values())


def batches(items: Sequence[T], limit: int = BATCH_LIMIT) -> list[Sequence[T]]:
    return [items[i : i + limit] for i in range(0, len(items), limit)]


def plan_jobs(uploads: Sequence[dict[str, Any]], sources: dict[str, BlobSource]) -> list[PutJob]:
    """The PUTs storage asked for, with the byte range each one sends."""
    jobs: list[PutJob] = []
    for upload in uploads:
        source = sources[upload["digest"]]
        if upload["method"] == "put":
            headers = {str(k): str(v) for k, v in (upload.get("headers") or {}).items()}
            jobs.append(PutJob(source, upload["url"], headers, 0, source.size))
            continue
        if upload["method"] != "multipart":
            raise TransferError(f"storage asked for an unknown upload method {upload['method']!r}")
        part_size = int(upload["part_size"])
        covered = 0
        for part in sorted(upload["parts"], key=lambda p: int(p["part_number"])):
            number = int(part["part_number"])
            offset = (number - 1) * part_size
            length = min(part_size, source.size - offset)
            if length <= 0:
                raise TransferError(f"storage planned part {number} past the end of a blob")
            jobs.append(PutJob(source, part["url"], {}, offset, length, number))
            covered += length
        if covered != source.size:
            raise TransferError(f"storage's parts cover {covered} of {source.size} bytes")
    return jobs


def pack_jobs(packs: Sequence[dict[str, Any]], sources: dict[str, BlobSource]) -> list[PutJob]:
    """One PUT per pack storage opened, streaming its members in storage's order."""
    jobs: list[PutJob] = []
    for pack in packs:
        offset = 0
        members: list[BlobSource] = []
        for member in pack["members"]:
            source = sources[member["digest"]]
            if int(member["offset"]) != offset or int(member["size"]) != source.size:
                raise TransferError(f"storage laid out pack {pack['pack_id']} inconsistently")
            members.append(source)
            offset += source.size
        job_source = PackSource(str(pack["pack_id"]), tuple(members))
        jobs.append(PutJob(job_source, str(pack["url"]), {}, 0, job_source.size))
    return jobs


def pack_completions(packs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "pack_id": pack["pack_id"],
            "members": [{"digest": m["digest"], "size": m["size"]} for m in pack["members"]],
        }
        for pack in packs
    ]


def completions(
    uploads: Sequence[dict[str, Any]], etags: dict[tuple[str, int], str]
) -> list[dict[str, Any]]:
    """The ``uploads/complete`` items: size checks for PUTs, part ETags for multipart."""
    items: list[dict[str, Any]] = []
    for upload in uploads:
        item: dict[str, Any] = {"digest": upload["digest"], "size": upload["size"]}
        if upload["method"] == "multipart":
            item["upload_id"] = upload["upload_id"]
            numbers = sorted(int(p["part_number"]) for p in upload["parts"])
            item["parts"] = [
                {"part_number": n, "etag": etags[(upload["digest"], n)]} for n in numbers
            ]
        items.append(item)
    return items


def upload_blobs(
    session: Session, entity: str, sources: Sequence[BlobSource], *, desc: str = "Uploading"
) -> int:
    """Store every blob of ``sources`` for ``entity``; returns the bytes actually sent.

    Batch by batch (ask, PUT, complete): presigned URLs expire, so none waits for the others.
    """
    blobs = unique_blobs(sources)
    by_digest = {b.digest: b for b in blobs}
    base = f"/storage/v1/entities/{segment(entity)}/uploads"
    sent = 0
    with progress_bar(0, desc) as bar:
        for batch in batches(blobs):
            asked = [{"digest": b.digest, "size": b.size, "packable": b.packable} for b in batch]
            answer = session.api.post(base, {"blobs": asked})
            uploads: list[dict[str, Any]] = answer.get("uploads", [])
            packs: list[dict[str, Any]] = answer.get("packs", [])
            if not uploads and not packs:
                continue
            for digest in [u["digest"] for u in uploads] + [
                m["digest"] for p in packs for m in p["members"]
            ]:
                by_digest[digest].check_uploadable()
            jobs = plan_jobs(uploads, by_digest) + pack_jobs(packs, by_digest)
            bar.add_total(sum(job.length for job in jobs))
            etags = _put_all(session, jobs, bar)
            bar.set_description(f"{desc} (storage verifies)")  # it re-reads packs, multipart
            _complete(
                session,
                base,
                {"blobs": completions(uploads, etags), "packs": pack_completions(packs)},
                by_digest,
            )
            bar.set_description(desc)
            sent += sum(job.length for job in jobs)
    return sent


def _put_all(session: Session, jobs: Sequence[PutJob], bar: Progress) -> dict[tuple[str, int], str]:
    """Send the PUTs in parallel; returns the ETag of each multipart part."""
    client = session.transfer
    etags: dict[tuple[str, int], str] = {}

    def put(job: PutJob) -> None:
        etag = send_put(
            client,
            job.url,
            headers=job.headers,
            chunks=job.source.chunks,
            offset=job.offset,
            length=job.length,
            bar=bar,
        )
        if job.part_number is not None:
            etags[(job.source.digest, job.part_number)] = etag

    run_parallel(put, jobs)
    return etags


def _complete(
    session: Session, base: str, body: dict[str, Any], sources: dict[str, BlobSource]
) -> None:
    try:
        session.api.post(f"{base}/complete", body)
    except CommError as exc:
        if exc.code not in {"checksum_mismatch", "size_mismatch"}:
            raise
        failed = [
            f.get("digest") if isinstance(f, dict) else f for f in exc.details.get("failed", [])
        ]
        names = [sources[d].path or "the manifest" for d in failed if d in sources]
        raise TransferError(
            f"storage refused the uploaded content of {names or failed} ({exc.code}): a file "
            "changed while it was uploaded; log the artifact again"
        ) from exc
