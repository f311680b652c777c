"""Cached builds: done only when complete, never rebuilt when present."""

from collections.abc import Sequence
from pathlib import Path

import pytest
from cairn_dev import builds
from cairn_dev.errors import CairnDevError


def test_a_failed_go_install_leaves_nothing_that_looks_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(argv: Sequence[str], *, cwd: Path, env: dict[str, str], log_file: Path) -> None:
        (Path(env["GOBIN"]) / "tool").write_bytes(b"half a binary")
        raise CairnDevError("build failed")

    monkeypatch.setattr(builds, "_run", failing)

    with pytest.raises(CairnDevError):
        builds.go_install(
            tmp_path,
            tool="tool",
            label="Tool",
            module="example.com/tool",
            version="v1",
            minutes=1,
            log_file=tmp_path / "build.log",
        )

    assert not (tmp_path / "tool" / "v1" / "bin" / "tool").exists()
    assert not list((tmp_path / "tool").glob(".build-*"))


def test_a_finished_go_install_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Sequence[str]] = []

    def succeeding(argv: Sequence[str], *, cwd: Path, env: dict[str, str], log_file: Path) -> None:
        calls.append(argv)
        assert env["CGO_ENABLED"] == "0"
        (Path(env["GOBIN"]) / "tool").write_bytes(b"binary")

    monkeypatch.setattr(builds, "_run", succeeding)

    def install() -> Path:
        return builds.go_install(
            tmp_path,
            tool="tool",
            label="Tool",
            module="example.com/tool",
            version="v1",
            minutes=1,
            log_file=tmp_path / "build.log",
        )

    first, second = install(), install()

    assert first == second == tmp_path / "tool" / "v1" / "bin" / "tool"
    assert first.read_bytes() == b"binary"
    assert len(calls) == 1
    assert calls[0][1:] == ["install", "example.com/tool@v1"]


def test_a_failing_command_reports_its_log(tmp_path: Path) -> None:
    log = tmp_path / "b.log"
    with pytest.raises(CairnDevError, match="failed with status 3") as info:
        builds._run(["sh", "-c", "echo compiling; exit 3"], cwd=tmp_path, env={}, log_file=log)

    assert "compiling" in info.value.message
    assert str(log) in info.value.message
