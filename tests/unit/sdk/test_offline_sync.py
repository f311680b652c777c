"""Offline runs (``mode="offline"``, ``CAIRN_MODE``) and ``cairn sync``: the directory, the
upload, and a repeated sync storing nothing twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cairn
from cairn.cli import main
from tests.unit.sdk.history_fake import FakeHistory, server

__all__ = ["server"]  # the fixture


def offline_run(steps: int = 250, **init: object) -> tuple[cairn.Run, Path]:
    init.setdefault("mode", "offline")
    run = cairn.init(project="offline-proj", config={"lr": 0.1}, **init)  # type: ignore[arg-type]
    for i in range(steps):
        run.log({"loss": 1.0 / (i + 1)})
    run.summary["best"] = 0.5
    run.config.update({"bs": 8})
    run.finish(exit_code=0)
    (directory,) = Path("cairn").glob(f"offline-run-*-{run.id}")
    return run, directory


def test_an_offline_run_touches_no_server_and_writes_its_directory(
    server: FakeHistory, capsys: pytest.CaptureFixture[str]
) -> None:
    run, directory = offline_run(name="first", job_type="train")
    assert server.cairn.requests == []
    assert server.runs == {}
    assert run.entity == ""  # no server asked: cairn sync picks the key's default entity
    info = json.loads((directory / "run.json").read_text())
    assert info["run_id"] == run.id
    assert (info["project"], info["name"], info["job_type"]) == ("offline-proj", "first", "train")
    assert (info["config"], info["exit_code"], info["started"]) == ({"lr": 0.1}, 0, False)
    batches = sorted((directory / "batches").iterdir())
    assert [b.name.split("-")[1] for b in batches][-2:] == ["summary", "config"]
    assert f"cairn sync {directory}" in capsys.readouterr().err


def test_cairn_sync_uploads_an_offline_run_once(server: FakeHistory) -> None:
    run, directory = offline_run()
    result = CliRunner().invoke(main, ["sync", str(directory)])
    assert result.exit_code == 0, result.output
    path = f"alice/offline-proj/{run.id}"
    assert f"Synced {path}: " in result.output
    stored = server.runs[path]
    assert [row["_step"] for row in stored.rows] == list(range(250))
    assert stored.config == {"lr": 0.1, "bs": 8}
    assert stored.summary["best"] == 0.5
    assert (stored.state, stored.exit_code) == ("finished", 0)
    assert json.loads((directory / "run.json").read_text())["entity"] == "alice"
    sent = len(server.writes)

    again = CliRunner().invoke(main, ["sync", str(directory)])
    assert again.exit_code == 0, again.output
    assert "0 batches" in again.output
    assert len(server.writes) == sent  # nothing left to send

    everything = CliRunner().invoke(main, ["sync", "--include-synced", str(directory)])
    assert everything.exit_code == 0, everything.output
    assert len(server.writes) == 2 * sent  # sent again under the same batch ids...
    assert [row["_step"] for row in stored.rows] == list(range(250))  # ...stored once
    assert len(server.cairn.calls("POST", r"/finish$")) == 1


def test_cairn_mode_offline_and_an_interrupted_sync(
    server: FakeHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_MODE", "offline")
    monkeypatch.setattr("cairn.runs.sync.RETRY_FOR_S", 0.2)
    run, directory = offline_run(steps=500, entity="team", mode=None)
    server.down = True
    failed = CliRunner().invoke(main, ["sync", str(directory)])
    assert failed.exit_code != 0
    assert "could not be synced" in failed.output
    server.down = False
    done = CliRunner().invoke(main, ["sync", str(directory)])
    assert done.exit_code == 0, done.output
    stored = server.runs[f"team/offline-proj/{run.id}"]
    assert [row["_step"] for row in stored.rows] == list(range(500))


def test_sync_options_and_errors(server: FakeHistory, tmp_path: Path) -> None:
    run, directory = offline_run(steps=3)
    moved = CliRunner().invoke(main, ["sync", "--entity", "team", "--project", "x", str(directory)])
    assert moved.exit_code == 0, moved.output
    assert f"team/x/{run.id}" in server.runs
    refused = CliRunner().invoke(main, ["sync", "--project", "y", str(directory)])
    assert "cannot move" in refused.output
    assert refused.exit_code != 0
    (tmp_path / "empty").mkdir()
    missing = CliRunner().invoke(main, ["sync", str(tmp_path / "empty")])
    assert "not a Cairn run directory" in missing.output
    assert CliRunner().invoke(main, ["sync"]).exit_code != 0
    other, _ = offline_run(steps=2)
    every = CliRunner().invoke(main, ["sync", "--sync-all"])
    assert every.exit_code == 0, every.output
    assert f"alice/offline-proj/{other.id}" in server.runs
    with pytest.raises(ValueError, match="mode must be one of"):
        cairn.init(mode="sometimes")
