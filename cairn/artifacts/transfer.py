"""Moving bytes to and from presigned URLs: parallel, streamed, retried."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import httpx

from cairn.artifacts.object_get import ObjectGetter, ObjectTransportError
from cairn.errors import TransferError
from cairn.parallel import parallel_map
from cairn.progress import Progress

WORKERS = 16
ATTEMPTS = 4
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
T = TypeVar("T")


def run_parallel(work: Callable[[T], None], items: Sequence[T], workers: int = WORKERS) -> None:
    """Run ``work`` over ``items`` in threads; the first failure stops the rest and is raised."""
    parallel_map(work, items, workers=workers, name="cairn-transfer")


def _redact(url: str) -> str:
    """A presigned URL without its signature, fit for an error message."""
    return url.split("?", 1)[0]


def _backoff(attempt: int) -> None:
    time.sleep(min(0.5 * 2**attempt, 8.0))


def send_put(
    client: httpx.Client,
    url: str,
    *,
    headers: dict[str, str],
    chunks: Callable[[int, int], Iterator[bytes]],
    offset: int,
    length: int,
    bar: Progress,
) -> str:
    """PUT ``length`` bytes streamed from ``chunks(offset, length)``; returns the ETag."""
    for attempt in range(ATTEMPTS):
        sent = 0

        def body() -> Iterator[bytes]:
            nonlocal sent
            for chunk in chunks(offset, length):
                sent += len(chunk)
                bar.update(len(chunk))
                yield chunk

        # An explicit Content-Length: S3 refuses chunked transfer encoding on presigned PUTs.
        request_headers = {**headers, "Content-Length": str(length)}
        try:
            response = client.put(url, content=body(), headers=request_headers)
        except httpx.TransportError as exc:
            bar.update(-sent)
            if attempt + 1 == ATTEMPTS:
                raise TransferError(f"upload to {_redact(url)} failed: {exc}") from exc
            _backoff(attempt)
            continue
        if response.is_success:
            return str(response.headers.get("ETag", ""))
        bar.update(-sent)
        if response.status_code in RETRY_STATUSES and attempt + 1 < ATTEMPTS:
            _backoff(attempt)
            continue
        hint = ""
        if "BadDigest" in response.text or "XAmzContentChecksumMismatch" in response.text:
            hint = " (the content no longer matches its digest: did the file change?)"
        raise TransferError(
            f"upload to {_redact(url)} failed with HTTP {response.status_code}{hint}: "
            f"{response.text[:300]}"
        )
    raise AssertionError("unreachable")  # pragma: no cover


def fetch_verified(
    getter: ObjectGetter,
    url: str,
    dest: Path,
    *,
    digest: str,
    size: int | None,
    bar: Progress,
) -> None:
    """GET ``url`` into ``dest`` (overwritten), checking SHA-256 (and size) while streaming.

    Raises ``TransferError`` when the bytes do not match after retries; ``dest`` then holds
    garbage that the caller removes.
    """
    for attempt in range(ATTEMPTS):
        got = 0
        hasher = hashlib.sha256()
        problem = ""
        try:
            with getter.get(url) as response, dest.open("wb") as out:
                if not response.is_success:
                    problem = f"HTTP {response.status}: {response.text()}"
                    if response.status not in RETRY_STATUSES:
                        break
                else:
                    for chunk in response.chunks():
                        out.write(chunk)
                        hasher.update(chunk)
                        got += len(chunk)
                        bar.update(len(chunk))
        except ObjectTransportError as exc:
            problem = str(exc)
        if not problem:
            if size in (None, got) and hasher.hexdigest() == digest:
                return
            problem = f"got {got} bytes with SHA-256 {hasher.hexdigest()}, expected {size} bytes"
        bar.update(-got)
        if attempt + 1 < ATTEMPTS:
            _backoff(attempt)
    raise TransferError(f"download of blob {digest} from {_redact(url)} failed: {problem}")


@dataclass(frozen=True)
class Slice:
    """A blob stored as bytes ``[offset, offset + size)`` of a pack, fetched into ``dest``."""

    offset: int
    size: int
    digest: str
    dest: Path


def fetch_verified_slices(
    getter: ObjectGetter, url: str, slices: Sequence[Slice], *, bar: Progress
) -> None:
    """GET the one byte range of ``url`` that covers ``slices`` (distinct, non-overlapping)
    and write each slice to its ``dest``, checking its SHA-256 while streaming.

    Raises ``TransferError`` when a slice does not match after retries.
    """
    ordered = sorted(slices, key=lambda s: s.offset)
    for empty in (s for s in ordered if s.size == 0):
        _check_empty(empty, url)
    ordered = [s for s in ordered if s.size > 0]
    if not ordered:
        return
    start, end = ordered[0].offset, max(s.offset + s.size for s in ordered)
    problem = ""
    for attempt in range(ATTEMPTS):
        writer = _SliceWriter(ordered, bar)
        try:
            headers = {"Range": f"bytes={start}-{end - 1}"}
            with getter.get(url, headers) as response:
                if response.status not in (200, 206):
                    problem = f"HTTP {response.status}: {response.text()}"
                    if response.status not in RETRY_STATUSES:
                        break
                else:
                    # 200: a server that ignores Range sends the whole object from byte 0.
                    writer.position = start if response.status == 206 else 0
                    for chunk in response.chunks():
                        if writer.write(chunk):
                            break
                    problem = writer.problem()
        except ObjectTransportError as exc:
            problem = str(exc)
        finally:
            writer.close()
        if not problem:
            return
        bar.update(-writer.written)
        if attempt + 1 < ATTEMPTS:
            _backoff(attempt)
    raise TransferError(f"download of {len(ordered)} packed blobs from {_redact(url)}: {problem}")


def _check_empty(empty: Slice, url: str) -> None:
    if hashlib.sha256(b"").hexdigest() != empty.digest:
        raise TransferError(f"storage says blob {empty.digest} of {_redact(url)} is empty")
    empty.dest.write_bytes(b"")


class _SliceWriter:
    """Consumes a stream positioned at ``position``, writing the slices it covers in order."""

    def __init__(self, slices: Sequence[Slice], bar: Progress) -> None:
        self._pending = list(reversed(slices))
        self._bar = bar
        self._out: BinaryIO | None = None
        self._hasher = hashlib.sha256()
        self._mismatched: list[str] = []
        self.position = 0
        self.written = 0

    def write(self, view: memoryview) -> bool:
        """Take a chunk; True once every slice is written."""
        while view and self._pending:
            current = self._pending[-1]
            if self.position < current.offset:  # bytes of members not asked for
                skip = min(current.offset - self.position, len(view))
                view, self.position = view[skip:], self.position + skip
                continue
            if self._out is None:
                self._out, self._hasher = current.dest.open("wb"), hashlib.sha256()
            take = min(current.offset + current.size - self.position, len(view))
            self._out.write(view[:take])
            self._hasher.update(view[:take])
            view = view[take:]
            self.position += take
            self.written += take
            self._bar.update(take)
            if self.position == current.offset + current.size:
                self.close()
                if self._hasher.hexdigest() != current.digest:
                    self._mismatched.append(current.digest)
                self._pending.pop()
        return not self._pending

    def problem(self) -> str:
        if self._pending:
            return f"the response ended before blob {self._pending[-1].digest}"
        if self._mismatched:
            return f"blobs {', '.join(self._mismatched)} came back with other content"
        return ""

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
