"""The content cache: sizes, least-recently-used eviction, the disk reserve, cleanup."""

from __future__ import annotations

import os
import shutil
import time
from collections import namedtuple
from pathlib import Path

import pytest
from click.testing import CliRunner

from cairn.artifacts import cache as cache_module
from cairn.artifacts.cache import ContentCache, cache_limit, parse_size
from cairn.cli import main

Usage = namedtuple("Usage", "total used free")


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("10GB", 10 * 10**9),
        ("500MB", 500 * 10**6),
        ("2GiB", 2 * 2**30),
        ("1.5 kib", 1536),
        ("1024", 1024),
        ("7b", 7),
    ],
)
def test_sizes_parse(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "ten GB", "10XB", "-1GB", "1e3MB"])
def test_bad_sizes_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="500MB"):
        parse_size(text)


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_limit() == 10 * 10**9
    monkeypatch.setenv("CAIRN_CACHE_SIZE", "500MB")
    assert cache_limit() == 500 * 10**6


def _add(cache: ContentCache, digest: str, size: int, used: float) -> Path:
    tmp = cache.new_tmp()
    tmp.write_bytes(b"x" * size)
    path = cache.commit(tmp, digest)
    os.utime(path, (used, used))
    return path


def _digest(i: int) -> str:
    return f"{i:064x}"


@pytest.fixture
def roomy_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**12, 0, 10**12))


@pytest.mark.usefixtures("roomy_disk")
def test_the_least_recently_used_go_first(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path / "c", limit=300)
    now = time.time()
    for i in range(3):
        _add(cache, _digest(i), 100, now - 100 + i)  # 0 is the oldest
    assert cache.lookup(_digest(0), 100) is not None  # a use makes 0 the newest
    freed = cache.make_room(150)
    assert freed == 200
    assert cache.lookup(_digest(0), 100) is not None
    assert cache.lookup(_digest(1), 100) is None
    assert cache.lookup(_digest(2), 100) is None


@pytest.mark.usefixtures("roomy_disk")
def test_blobs_in_use_are_kept(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path / "c", limit=200)
    now = time.time()
    for i in range(2):
        _add(cache, _digest(i), 100, now - 100 + i)
    cache.make_room(100, keep={_digest(0)})
    assert cache.lookup(_digest(0), 100) is not None
    assert cache.lookup(_digest(1), 100) is None


@pytest.mark.usefixtures("roomy_disk")
def test_nothing_is_evicted_while_there_is_room(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path / "c", limit=1000)
    _add(cache, _digest(1), 100, time.time())
    assert cache.make_room(100) == 0
    assert cache.usage() == 100


def test_the_disk_keeps_its_reserve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ContentCache(tmp_path / "c", limit=10**12)
    now = time.time()
    for i in range(3):
        _add(cache, _digest(i), 100, now - 100 + i)
    # 100 GB disk: the reserve is 5 GB; 5 GB + 150 bytes free, so 100 incoming bytes need 50.
    total = 100 * 10**9
    reserve = int(total * cache_module.MIN_FREE_FRACTION)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(total, 0, reserve + 50))
    assert cache.make_room(100) == 100
    assert cache.lookup(_digest(0), 100) is None
    assert cache.lookup(_digest(1), 100) is not None


def test_objects_are_read_only(tmp_path: Path) -> None:
    # A download root hard-links them: an in-place edit there must not change the cache.
    path = _add(ContentCache(tmp_path / "c"), _digest(1), 10, time.time())
    assert path.stat().st_mode & 0o222 == 0


def test_a_size_mismatch_is_a_miss(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path / "c")
    _add(cache, _digest(1), 10, time.time())
    assert cache.lookup(_digest(1), 11) is None


@pytest.mark.usefixtures("roomy_disk")
def test_cleanup_evicts_down_to_the_size_and_drops_stale_downloads(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path / "c", limit=10**9)
    now = time.time()
    for i in range(4):
        _add(cache, _digest(i), 100, now - 100 + i)
    stale, fresh = cache.new_tmp(), cache.new_tmp()
    stale.write_bytes(b"from a download that died")
    fresh.write_bytes(b"in flight")
    os.utime(stale, (now - 7200, now - 7200))
    assert cache.cleanup(250) == 200
    assert cache.usage() == 200
    assert not stale.exists()
    assert fresh.exists()


def test_the_cli_cleans_the_cache(tmp_path: Path) -> None:
    cache = ContentCache()
    now = time.time()
    for i in range(3):
        _add(cache, _digest(i), 1000, now - 100 + i)
    result = CliRunner().invoke(main, ["artifact", "cache", "cleanup", "1.5KB"])
    assert result.exit_code == 0, result.output
    assert "Freed 2.0 KiB" in result.output
    assert cache.usage() == 1000
    bad = CliRunner().invoke(main, ["artifact", "cache", "cleanup", "lots"])
    assert bad.exit_code == 1
    assert "invalid size 'lots'" in bad.output
