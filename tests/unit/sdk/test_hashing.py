"""SHA-256 of files, remembered by (path, size, mtime_ns) so that unchanged files are not
read again."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from cairn.artifacts import hashing
from cairn.artifacts.hashing import LOOKUP_CHUNK, DigestCache, FileDigest, hash_files


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files actually read for hashing."""
    seen: list[str] = []
    real = hashing.sha256_file

    def counting(path: str | Path) -> str:
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(hashing, "sha256_file", counting)
    return seen


def _old_file(path: Path, data: bytes) -> Path:
    """A file last written a minute ago: older than the racy window."""
    path.write_bytes(data)
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


def test_digests_are_sha256_in_order(tmp_path: Path) -> None:
    paths = [_old_file(tmp_path / f"f{i}", bytes([i]) * (i * 1000)) for i in range(20)]
    result = hash_files(paths, None)
    assert [d.digest for d in result] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    assert [d.size for d in result] == [p.stat().st_size for p in paths]
    assert all(Path(d.path).is_absolute() for d in result)


def test_unchanged_files_are_not_read_again(tmp_path: Path, reads: list[str]) -> None:
    cache = DigestCache(tmp_path / "digests.sqlite3")
    paths = [_old_file(tmp_path / f"f{i}", b"x" * i) for i in range(5)]
    first = hash_files(paths, cache)
    assert len(reads) == 5
    assert hash_files(paths, cache) == first
    assert len(reads) == 5


def test_a_changed_file_is_read_again(tmp_path: Path, reads: list[str]) -> None:
    cache = DigestCache(tmp_path / "digests.sqlite3")
    path = _old_file(tmp_path / "f", b"one")
    (before,) = hash_files([path], cache)
    _old_file(path, b"two")  # same size, new mtime
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1))
    (after,) = hash_files([path], cache)
    assert len(reads) == 2
    assert after.digest == hashlib.sha256(b"two").hexdigest() != before.digest


def test_the_cache_answers_many_paths_at_once_and_only_for_unchanged_files(
    tmp_path: Path,
) -> None:
    cache = DigestCache(tmp_path / "digests.sqlite3")
    count = LOOKUP_CHUNK * 2 + 7  # several queries
    known = [
        FileDigest(path=f"/data/f{i}", digest=f"{i:064x}", size=i, mtime_ns=1_000 + i)
        for i in range(count)
    ]
    cache.store(known)
    asked = [(d.path, d.size, d.mtime_ns) for d in known]
    asked[3] = (known[3].path, known[3].size + 1, known[3].mtime_ns)  # grown since
    asked[5] = (known[5].path, known[5].size, known[5].mtime_ns + 1)  # touched since
    asked.append(("/data/unknown", 1, 1))

    found = cache.lookup(asked)

    expected = {d.path: d.digest for i, d in enumerate(known) if i not in (3, 5)}
    assert found == expected


def test_a_file_written_just_now_is_not_remembered(tmp_path: Path, reads: list[str]) -> None:
    # Its mtime could stay the same through another write within the file system's tick.
    cache = DigestCache(tmp_path / "digests.sqlite3")
    path = tmp_path / "fresh"
    path.write_bytes(b"new")
    hash_files([path], cache)
    hash_files([path], cache)
    assert len(reads) == 2


def test_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_files([tmp_path / "nope"], None)


def test_files_are_hashed_in_groups_of_bytes_in_order() -> None:
    limit = hashing.GROUP_BYTES
    stats = [("a", limit // 2, 0), ("b", limit // 2, 0), ("c", 1, 0), ("big", 3 * limit, 0)]

    groups = hashing._groups(stats)

    assert [[path for path, _, _ in group] for group in groups] == [["a", "b"], ["c"], ["big"]]
    assert hashing._groups([]) == []
