"""The sender's parts: cutting batches to the server's limits, the spool on disk, the backoff
and ``Retry-After``."""

from __future__ import annotations

import gzip
import math
import os
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from cairn.runs.batch import Limits, Numbering, history_batches, pack, update_batch
from cairn.runs.encoder import Encoder
from cairn.runs.rundir import RunDir, RunInfo, dir_name
from cairn.runs.spool import Spool, SpoolFullError
from cairn.runs.transport import Backoff, Outcome, _classify


def rows(n: int, **extra: object) -> list[dict[str, object]]:
    return [{"_step": i, "loss": i / 10, **extra} for i in range(n)]


def test_batches_are_cut_by_rows_bytes_and_keys() -> None:
    numbering = Numbering()
    batches, problems = history_batches(rows(250), Limits(max_rows=100), numbering)
    assert [b.rows for b in batches] == [100, 100, 50]
    assert [b.seq for b in batches] == [0, 1, 2]
    assert numbering.next == 3
    assert not problems
    assert [r["_step"] for b in batches for r in b.records()] == list(range(250))
    assert gzip.decompress(batches[0].body).startswith(b'[{"_step":[0,1,2,')  # one block

    by_bytes, _ = history_batches(
        rows(100, pad="x" * 100), Limits(max_text_bytes=1000), Numbering()
    )
    assert all(len(gzip.decompress(b.body)) <= 1000 for b in by_bytes)
    assert sum(b.rows for b in by_bytes) == 100

    wide = [{"_step": i, f"k{i}": 1} for i in range(10)]
    by_keys, _ = history_batches(wide, Limits(max_keys=5), Numbering())
    assert all(len({k for r in b.records() for k in r}) <= 5 for b in by_keys)


def test_rows_no_batch_can_carry_are_reported() -> None:
    big = [{"_step": 0, "blob": os.urandom(3000).hex()}, {"_step": 1, "ok": 1}]
    batches, problems = history_batches(big, Limits(max_body_bytes=1000), Numbering())
    assert [r["_step"] for b in batches for r in b.records()] == [1]
    assert "compresses to" in problems[0]
    wide = [{"_step": 0, **{f"k{i}": i for i in range(20)}}]
    batches, problems = history_batches(wide, Limits(max_keys=10), Numbering())
    assert not batches
    assert "keys" in problems[0]


def test_an_incompressible_batch_is_split_to_fit_the_body_limit() -> None:
    noisy = [{"_step": i, "r": os.urandom(200).hex()} for i in range(40)]
    batches, problems = history_batches(noisy, Limits(max_body_bytes=6000), Numbering())
    assert not problems
    assert len(batches) > 1
    assert all(len(b.body) <= 6000 for b in batches)
    assert [r["_step"] for b in batches for r in b.records()] == list(range(40))


def test_a_spool_file_of_an_earlier_sdk_is_sent_as_columns(tmp_path: Path) -> None:
    rows_text = b'{"_step":0,"loss":NaN}\n{"_step":1,"loss":0.5,"acc":1}\n'
    batch_id = "5d0b7c8e-1f0a-4a51-9a55-1a8c2f9b8d11"
    (tmp_path / f"0000000003-history-2-{batch_id}.ndjson.gz").write_bytes(gzip.compress(rows_text))
    (batch,) = Spool(tmp_path).pending()
    assert (batch.seq, batch.batch_id, batch.rows) == (3, batch_id, 2)
    assert gzip.decompress(batch.body).startswith(b'[{"_step":[0],"loss":[NaN]}')
    expected = [{"_step": 0, "loss": math.nan}, {"_step": 1, "loss": 0.5, "acc": 1}]
    assert str(batch.records()) == str(expected)  # NaN != NaN: compare as text


def test_the_spool_keeps_batches_in_order_and_bounded(tmp_path: Path) -> None:
    numbering = Numbering()
    made: list[str] = []
    batches, _ = history_batches(rows(300), Limits(max_rows=100), numbering)
    bound = len(batches[0].body) + len(batches[1].body)
    spool = Spool(tmp_path / "b", max_bytes=bound, prepare=lambda: made.append("x"))
    assert spool.head() is None
    update = update_batch("summary", {"update": {"a": 1}}, numbering)
    for batch in [batches[1], batches[0]]:
        spool.put(batch)
    assert made == ["x"]  # prepared once, at the first write
    with pytest.raises(SpoolFullError):
        spool.put(batches[2])
    spool.put(batches[2], force=True)  # what is unsent at exit is always written
    spool.put(update, force=True)
    assert not list((tmp_path / "b").glob(".*.tmp"))
    head = spool.head()
    assert head is not None
    assert head.seq == 0
    assert (head.batch_id, head.body) == (batches[0].batch_id, batches[0].body)
    spool.ack(head)
    assert spool.head().seq == 1  # type: ignore[union-attr]
    reopened = Spool(tmp_path / "b", keep_acked=True)
    assert [b.seq for b in reopened.pending()] == [1, 2, 3]
    assert reopened.pending()[-1].kind == "summary"
    assert reopened.pending_rows() == 201
    reopened.ack(reopened.pending()[0])
    assert [b.seq for b in reopened.acked()] == [1]
    assert Spool(tmp_path / "b").next_seq == 4
    assert Spool(tmp_path / "b").acked_seqs() == {1}


def test_run_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_DIR", str(tmp_path / "base"))
    when = datetime(2026, 1, 2, 3, 4, 5)
    assert dir_name("offline", "abc", when) == "offline-run-20260102_030405-abc"
    assert dir_name("online", "abc", when) == "run-20260102_030405-abc"
    run_dir = RunDir.new(RunInfo(run_id="abc", project="p", config={"lr": 1}))
    assert run_dir.path.parent == tmp_path / "base" / "cairn"
    run_dir.save()
    assert RunDir.open(run_dir.path).info == run_dir.info
    (run_dir.path / "run.json").write_text("{")
    with pytest.raises(ValueError, match="damaged"):
        RunDir.open(run_dir.path)


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    backoff = Backoff(initial_s=1.0, maximum_s=8.0)
    delays = [backoff.next() for _ in range(6)]
    assert 0.5 <= delays[0] <= 1.0
    assert all(d <= 8.0 for d in delays)
    assert delays[-1] >= 4.0
    assert backoff.next(retry_after_s=30.0) == 30.0
    backoff.reset()
    assert backoff.next() <= 1.0
    for _ in range(2000):
        backoff.next()  # never overflows


def test_statuses_map_to_outcomes() -> None:
    def answer(status: int, **headers: str) -> httpx.Response:
        return httpx.Response(status, headers=headers, json={"error": {"message": "why"}})

    assert _classify(answer(200)).outcome is Outcome.ACK
    busy = _classify(answer(429, **{"Retry-After": "3"}))
    assert (busy.outcome, busy.retry_after_s) == (Outcome.RETRY, 3.0)
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    dated = _classify(answer(503, **{"Retry-After": later}))
    assert dated.retry_after_s is not None
    assert 15 < dated.retry_after_s <= 20
    assert _classify(answer(502)).outcome is Outcome.RETRY
    assert _classify(answer(401)).outcome is Outcome.FATAL
    rejected = _classify(answer(400))
    assert (rejected.outcome, rejected.message) == (Outcome.REJECTED, "HTTP 400: why")


def test_the_encoder_process_makes_the_same_bodies_and_falls_back(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    limits = Limits(max_rows=100)
    many = rows(250, name="x", nested={"a": [1, 2]}, nan=float("nan"))
    encoder = Encoder()
    try:
        assert encoder(many, limits) == pack(many, limits)
        assert encoder._process is not None  # it went through the helper
        odd = [*rows(100), {"_step": 100, "obj": object()}]  # marshal cannot carry it
        bodies, _ = encoder(odd, limits)
        assert sum(count for _, count in bodies) == 101
    finally:
        encoder.close()
    monkeypatch.setattr("cairn.runs.encoder.sys.executable", "/bin/false")
    broken = Encoder()
    assert broken(many, limits) == pack(many, limits)  # encoded here instead
    assert "encoder process failed" in capsys.readouterr().err
    assert broken(many, limits) == pack(many, limits)
    assert Encoder(enabled=False)(many, limits) == pack(many, limits)
