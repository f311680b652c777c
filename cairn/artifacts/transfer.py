"""Moving bytes to and from presigned URLs: parallel, streamed, retried."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import httpx

from cairn.errors import TransferError
from cairn.parallel import parallel_map
from cairn.progress import Progress

WORKERS = 16
ATTEMPTS = 4
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
CHUNK = 1 << 20
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
    client: httpx.Client,
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
            with client.stream("GET", url) as response, dest.open("wb") as out:
                if not response.is_success:
                    response.read()
                    problem = f"HTTP {response.status_code}: {response.text[:300]}"
                    if response.status_code not in RETRY_STATUSES:
                        break
                else:
                    for chunk in response.iter_bytes(CHUNK):
                        out.write(chunk)
                        hasher.update(chunk)
                        got += len(chunk)
                        bar.update(len(chunk))
        except httpx.TransportError as exc:
            problem = str(exc) or type(exc).__name__
        if not problem:
            if size in (None, got) and hasher.hexdigest() == digest:
                return
            problem = f"got {got} bytes with SHA-256 {hasher.hexdigest()}, expected {size} bytes"
        bar.update(-got)
        if attempt + 1 < ATTEMPTS:
            _backoff(attempt)
    raise TransferError(f"download of blob {digest} from {_redact(url)} failed: {problem}")
