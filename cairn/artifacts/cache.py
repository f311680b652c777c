"""The local content cache: downloaded blobs by SHA-256, evicted least recently used first.

Layout under ``CAIRN_CACHE_DIR`` (default: the user cache dir of ``cairn``)::

    objects/sha256/ab/<digest>   one verified blob each; its mtime is its last use
    tmp/                         downloads in flight (same file system: os.replace is atomic)
    digests.sqlite3              the hashing cache (cairn.artifacts.hashing)

The cache stays under ``CAIRN_CACHE_SIZE`` (default 10GB) and leaves at least 1 GiB, or 5 %
of the disk if that is more, free.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

DEFAULT_LIMIT = "10GB"
MIN_FREE_BYTES = 1 << 30
MIN_FREE_FRACTION = 0.05
STALE_TMP_SECONDS = 3600
_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """Bytes in ``"500MB"``, ``"10GB"``, ``"1.5GiB"`` or ``"1024"`` (KB/MB/GB are powers of
    1000, KiB/MiB/GiB powers of 1024)."""
    match = _SIZE.match(text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"invalid size {text!r}: use a number with an optional unit such as 500MB, 10GB or 2GiB"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def cache_dir() -> Path:
    return Path(os.environ.get("CAIRN_CACHE_DIR") or platformdirs.user_cache_dir("cairn"))


def cache_limit() -> int:
    return parse_size(os.environ.get("CAIRN_CACHE_SIZE") or DEFAULT_LIMIT)


@dataclass(frozen=True)
class CachedObject:
    digest: str
    path: Path
    size: int
    last_used: float
    links: int  # > 1 when a download root shares the inode: evicting it frees no disk space


class ContentCache:
    """Verified blobs by SHA-256. Safe to share between processes: every write is a rename."""

    def __init__(self, root: Path | None = None, limit: int | None = None) -> None:
        self.root = root if root is not None else cache_dir()
        self.limit = limit if limit is not None else cache_limit()
        self.objects = self.root / "objects" / "sha256"
        self.tmp = self.root / "tmp"

    def object_path(self, digest: str) -> Path:
        return self.objects / digest[:2] / digest

    def lookup(self, digest: str, size: int | None) -> Path | None:
        """The cached blob, marked as just used, or None."""
        path = self.object_path(digest)
        try:
            if size is not None and path.stat().st_size != size:
                return None
            os.utime(path)
        except OSError:
            return None
        return path

    def new_tmp(self) -> Path:
        """A fresh name for a download in flight, created by whoever writes it. (Creating it
        here, as ``mkstemp`` does, and opening it again to write cost twice the time per small
        file: ext4 truncates an existing file, even an empty one, slowly.)"""
        self.tmp.mkdir(parents=True, exist_ok=True)
        return self.tmp / f"dl-{uuid.uuid4().hex}"

    def commit(self, tmp_path: Path, digest: str) -> Path:
        """Move a verified download into place. Objects are read-only: a download root links
        to them, and an in-place edit there must not change what the cache serves."""
        path = self.object_path(digest)
        tmp_path.chmod(0o444)
        try:
            tmp_path.replace(path)
        except FileNotFoundError:  # the first object under its prefix
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp_path.replace(path)
        return path

    def entries(self) -> list[CachedObject]:
        found: list[CachedObject] = []
        if not self.objects.is_dir():
            return found
        for prefix in self.objects.iterdir():
            for path in prefix.iterdir() if prefix.is_dir() else ():
                with contextlib.suppress(FileNotFoundError):  # evicted by another process
                    st = path.stat()
                    found.append(
                        CachedObject(path.name, path, st.st_size, st.st_mtime, st.st_nlink)
                    )
        return found

    def usage(self) -> int:
        return sum(obj.size for obj in self.entries())

    def make_room(self, incoming: int, keep: Iterable[str] = ()) -> int:
        """Evict least recently used blobs so ``incoming`` more bytes fit under the limit and
        the disk keeps its reserve. Returns the bytes evicted; ``keep`` is never evicted."""
        kept = set(keep)
        objects = self.entries()
        over_limit = sum(o.size for o in objects) + incoming - self.limit
        short_of_disk = self._reserve() - (self._free_bytes() - incoming)
        return self._evict(objects, kept, over_limit, short_of_disk)

    def cleanup(self, target: int) -> int:
        """Evict least recently used blobs until the cache holds at most ``target`` bytes, and
        remove stale temporary files. Returns the bytes evicted."""
        self._remove_stale_tmp()
        objects = self.entries()
        return self._evict(objects, set(), sum(o.size for o in objects) - target, 0)

    def _evict(
        self, objects: list[CachedObject], kept: set[str], over_limit: int, short_of_disk: int
    ) -> int:
        freed = 0
        for obj in sorted(objects, key=lambda o: o.last_used):
            if over_limit <= 0 and short_of_disk <= 0:
                break
            if obj.digest in kept:
                continue
            with contextlib.suppress(FileNotFoundError):
                obj.path.unlink()
            freed += obj.size
            over_limit -= obj.size
            if obj.links == 1:
                short_of_disk -= obj.size
        return freed

    def _free_bytes(self) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).free

    def _reserve(self) -> int:
        total = shutil.disk_usage(self.root).total
        return max(MIN_FREE_BYTES, int(total * MIN_FREE_FRACTION))

    def _remove_stale_tmp(self) -> None:
        if not self.tmp.is_dir():
            return
        horizon = time.time() - STALE_TMP_SECONDS
        for path in self.tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < horizon:
                    path.unlink()
