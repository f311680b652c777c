"""SHA-256 of local files, in a thread pool, remembered by (absolute path, size, mtime_ns).

The digests live in a small SQLite database in the cache dir, so logging the same files again
costs a ``stat`` per file instead of reading them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cairn.parallel import parallel_map
from cairn.progress import progress_bar

# A file written less than this long ago may change again within the same mtime tick (file
# systems often keep coarse timestamps): its digest is not remembered ("racy git").
RACY_SECONDS = 2.0
HASH_WORKERS = min(16, (os.cpu_count() or 1) + 4)
# Files go to the workers in groups of about this many bytes: threads pay off for big files
# (hashlib releases the GIL), but for small ones the hand-offs and the GIL cost more than the
# hashing (2,000 files of 4 KiB: 0.32 s one thread each, 0.06 s in one group).
GROUP_BYTES = 16 * 1024 * 1024
LOOKUP_CHUNK = 500  # paths per query: below SQLite's oldest limit of 999 parameters
SELECT_PATHS = "SELECT path, size, mtime_ns, sha256 FROM digests WHERE path IN ({})"


@dataclass(frozen=True)
class FileDigest:
    path: str  # absolute
    digest: str
    size: int
    mtime_ns: int


class DigestCache:
    """The remembered digests. Each call opens its own short connection: safe across threads
    and processes, and nothing is left open."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, size INTEGER, "
                "mtime_ns INTEGER, sha256 TEXT)"
            )
            with connection:
                yield connection
        finally:
            connection.close()

    def lookup(self, stats: Sequence[tuple[str, int, int]]) -> dict[str, str]:
        """The known digests of ``(path, size, mtime_ns)``, by path."""
        if not stats:
            return {}
        wanted = {path: (size, mtime_ns) for path, size, mtime_ns in stats}
        paths = list(wanted)
        rows: list[tuple[str, int, int, str]] = []
        with self._connect() as db:
            for start in range(0, len(paths), LOOKUP_CHUNK):  # a query per chunk, not per file
                chunk = paths[start : start + LOOKUP_CHUNK]
                rows += db.execute(
                    SELECT_PATHS.format(",".join("?" * len(chunk))), chunk
                ).fetchall()
        return {
            path: str(digest) for path, size, mtime, digest in rows if wanted[path] == (size, mtime)
        }

    def store(self, digests: Sequence[FileDigest]) -> None:
        horizon = time.time_ns() - int(RACY_SECONDS * 1e9)
        rows = [(d.path, d.size, d.mtime_ns, d.digest) for d in digests if d.mtime_ns < horizon]
        if rows:
            with self._connect() as db:
                db.executemany("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?)", rows)


def sha256_file(path: str | Path) -> str:
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _groups(stats: Sequence[tuple[str, int, int]]) -> list[list[tuple[str, int, int]]]:
    """Consecutive runs of files up to ``GROUP_BYTES`` (a bigger file alone)."""
    groups: list[list[tuple[str, int, int]]] = []
    size = 0
    for item in stats:
        if not groups or size + item[1] > GROUP_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += item[1]
    return groups


def hash_files(
    paths: Sequence[str | Path], cache: DigestCache | None, *, desc: str = "Hashing"
) -> list[FileDigest]:
    """The digests of ``paths`` (in order), reading only files the cache does not know."""
    stats: list[tuple[str, int, int]] = []
    for p in paths:
        # abspath, not resolve(): a symlink is remembered under its own name.
        absolute = os.path.abspath(p)  # noqa: PTH100
        st = Path(absolute).stat()
        stats.append((absolute, st.st_size, st.st_mtime_ns))
    known = cache.lookup(stats) if cache is not None else {}
    todo = [s for s in stats if s[0] not in known]
    computed: dict[str, str] = {}
    if todo:
        with progress_bar(sum(s[1] for s in todo), desc) as bar:

            def work(group: list[tuple[str, int, int]]) -> list[tuple[str, str]]:
                digests = [(path, sha256_file(path)) for path, _, _ in group]
                bar.update(sum(size for _, size, _ in group))
                return digests

            groups = parallel_map(work, _groups(todo), workers=HASH_WORKERS, name="cairn-hash")
            computed = {path: digest for group in groups for path, digest in group}
    result = [FileDigest(p, known.get(p) or computed[p], size, mt) for p, size, mt in stats]
    if cache is not None and computed:
        cache.store([d for d in result if d.path in computed])
    return result
