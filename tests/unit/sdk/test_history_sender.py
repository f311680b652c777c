"""The background sender: batching by count and time, order, retries, the spool on outage and
its bound, rejected batches, a refused key; against a fake of our run history API."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

import cairn
from cairn.cli import main
from cairn.runs import tuning
from cairn.runs.batch import Batch
from cairn.runs.spool import Spool
from tests.unit.sdk.fakes import error
from tests.unit.sdk.history_fake import FAST, FakeHistory, server

__all__ = ["server"]  # the fixture


def use(monkeypatch: pytest.MonkeyPatch, **changes: object) -> None:
    knobs = dataclasses.replace(FAST, **changes)  # type: ignore[arg-type]
    monkeypatch.setattr(tuning.Tuning, "from_env", classmethod(lambda cls: knobs))


def steps(history: FakeHistory, run: cairn.Run) -> list[int]:
    return [row["_step"] for row in history.runs[run.path].rows]


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_rows_go_in_batches_by_count_and_in_order(server: FakeHistory) -> None:
    run = cairn.init(project="p")
    for i in range(1050):
        run.log({"i": i})
    run.finish()
    assert steps(server, run) == list(range(1050))
    history = [(seq, batch_id) for _, batch_id, seq, kind in server.writes if kind == "history"]
    assert [seq for seq, _ in history] == list(range(len(history)))
    assert len({batch_id for _, batch_id in history}) == len(history)
    assert len(history) >= 11  # at most 100 rows each (FAST.batch_rows)


def test_rows_go_within_the_batch_interval(server: FakeHistory) -> None:
    run = cairn.init(project="p")
    run.log({"a": 1})  # one row: sent by time, not by count
    wait_for(lambda: run.path in server.runs and steps(server, run) == [0])
    run.finish()


def test_429_and_5xx_are_retried_with_the_same_batch_id(server: FakeHistory) -> None:
    busy = httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"message": "busy"}})
    server.fail(busy, httpx.Response(503), httpx.Response(500), busy)
    run = cairn.init(project="p")
    for i in range(250):
        run.log({"i": i})
    run.finish()
    assert steps(server, run) == list(range(250))
    tries = server.attempts
    assert [seq for _, seq in tries] == sorted(seq for _, seq in tries)  # never out of order
    assert tries[0] == tries[4]  # the first batch, tried five times, under one id
    assert tries[0][1] == 0


def test_an_outage_spools_to_disk_and_drains_in_order(
    server: FakeHistory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cairn.init(project="p")
    run.log({"i": -1})
    wait_for(lambda: run.path in server.runs)
    server.down = True
    for i in range(500):
        run.log({"i": i})
    wait_for(lambda: list((tmp_path / "cairn").glob(f"run-*-{run.id}/batches/*.json.gz")))
    assert "spooling to" in capsys.readouterr().err
    server.down = False
    run.finish()
    assert [row["i"] for row in server.runs[run.path].rows] == list(range(-1, 500))
    assert steps(server, run) == list(range(501))
    assert not list((tmp_path / "cairn").glob("run-*"))  # a drained spool is removed
    assert "reachable again" in capsys.readouterr().err


def test_a_full_spool_blocks_run_log_until_the_server_is_back(
    server: FakeHistory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use(monkeypatch, spool_max_bytes=1, max_memory_batches=2, max_queued_rows=150)
    run = cairn.init(project="p")
    server.down = True
    done = threading.Event()

    def train() -> None:
        for i in range(2000):
            run.log({"i": i, "pad": "x" * 50})
        done.set()

    worker = threading.Thread(target=train, daemon=True)
    worker.start()
    assert not done.wait(1.0)  # blocked: nothing may be dropped
    assert "is full" in capsys.readouterr().err
    server.down = False
    assert done.wait(10.0)
    run.finish()
    assert steps(server, run) == list(range(2000))


def test_a_rejected_batch_is_reported_and_the_rest_goes_on(
    server: FakeHistory, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail(error(400, "invalid_history", "line 1: bad row"))
    run = cairn.init(project="p")
    for i in range(150):
        run.log({"i": i})
    run.finish()
    stored = steps(server, run)  # the first batch, whatever its size, was refused
    assert stored
    assert stored == list(range(stored[0], 150))
    assert f"refused a history batch of {stored[0]} record(s)" in capsys.readouterr().err
    assert server.runs[run.path].state == "finished"


def test_too_large_batches_are_split_under_derived_ids(server: FakeHistory) -> None:
    server.max_rows = 30
    run = cairn.init(project="p")
    for i in range(100):
        run.log({"i": i})
    run.finish()
    assert steps(server, run) == list(range(100))
    assert any("." in batch_id for _, batch_id, _, _ in server.writes)  # <uuid>.0, <uuid>.1


def test_a_refused_key_keeps_everything_for_cairn_sync(
    server: FakeHistory, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cairn.init(project="p")
    server.fail(error(401, "unauthenticated", "the key was revoked"))
    for i in range(50):
        run.log({"i": i})
    run.finish(exit_code=3)
    err = capsys.readouterr().err
    assert "the key was revoked" in err
    (kept,) = Path("cairn").glob(f"run-*-{run.id}")
    assert f"cairn sync {kept}" in err
    assert run.path not in server.runs or not server.runs[run.path].rows
    result = CliRunner().invoke(main, ["sync", str(kept)])
    assert result.exit_code == 0, result.output
    assert steps(server, run) == list(range(50))
    assert server.runs[run.path].exit_code == 3


def test_finish_gives_up_after_its_timeout_and_sync_completes(
    server: FakeHistory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use(monkeypatch, finish_timeout_s=0.3)
    monkeypatch.setattr("cairn.runs.history.SLOW_FLUSH_S", 0.0)
    run = cairn.init(project="p")
    server.down = True
    for i in range(120):
        run.log({"i": i})
    run.summary["best"] = 1.0
    run.finish()
    (kept,) = Path("cairn").glob(f"run-*-{run.id}")
    err = capsys.readouterr().err
    assert "waiting for the server to take" in err
    assert "did not take every row in time" in err
    server.down = False
    first = CliRunner().invoke(main, ["sync", str(kept)])
    assert first.exit_code == 0, first.output
    assert "120 rows" in first.output
    assert "finished (exit code 0)" in first.output
    assert steps(server, run) == list(range(120))
    assert server.runs[run.path].summary["best"] == 1.0
    writes = len(server.writes)
    again = CliRunner().invoke(main, ["sync", str(kept)])
    assert again.exit_code == 0
    assert "0 batches" in again.output
    assert len(server.writes) == writes


def test_a_short_blip_retries_from_memory_without_touching_the_disk(
    server: FakeHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, spool_after_s=30.0)
    writes: list[int] = []
    put = Spool.put

    def counted(self: Spool, batch: Batch, *, force: bool = False) -> None:
        writes.append(batch.seq)
        put(self, batch, force=force)

    monkeypatch.setattr(Spool, "put", counted)
    server.fail(*[httpx.Response(503) for _ in range(5)])
    run = cairn.init(project="p")
    for i in range(600):
        run.log({"i": i})
        if i % 100 == 0:
            time.sleep(0.01)  # batches pile up in memory behind the failing one
    run.finish()
    assert steps(server, run) == list(range(600))
    assert writes == []
