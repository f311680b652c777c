"""``cairn.Api().runs`` and ``api.run(...)`` with ``history``, ``scan_history``, ``summary``,
``config`` and ``state``, as W&B's public API, against a fake of our run history API."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

import cairn
from tests.unit.sdk.history_fake import FakeHistory, server

__all__ = ["server"]  # the fixture


@pytest.fixture
def logged(server: FakeHistory) -> cairn.Run:
    run = cairn.init(project="p", config={"lr": 0.1}, job_type="train")
    for i in range(120):
        run.log({"loss": 1.0 / (i + 1), "acc": i / 120})
    run.summary["best"] = 0.99
    run.finish()
    return run


def test_api_run_reads_state_config_summary(logged: cairn.Run) -> None:
    api = cairn.Api()
    run = api.run(logged.path)
    assert run.path == ["alice", "p", logged.id]
    assert (run.id, run.name, run.state, run.job_type) == (
        logged.id,
        logged.id,
        "finished",
        "train",
    )
    assert run.config == {"lr": 0.1}
    assert run.summary["best"] == 0.99
    assert run.summary["loss"] == 1.0 / 120
    assert run.summary_metrics == run.summary
    assert run.lastHistoryStep == 119
    assert run.exit_code == 0
    assert run.created_at
    assert repr(run) == f"<Run alice/p/{logged.id} (finished)>"
    assert api.run(f"p/{logged.id}").id == logged.id
    assert cairn.Api(overrides={"project": "p"}).run(logged.id).id == logged.id
    assert api.run(f"alice/p/runs/{logged.id}").id == logged.id
    with pytest.raises(ValueError, match="invalid run path"):
        api.run("a/b/c/d/e")
    with pytest.raises(cairn.NotFoundError):
        api.run("alice/p/nope")


def test_scan_history_reads_every_row_in_pages(server: FakeHistory, logged: cairn.Run) -> None:
    run = cairn.Api().run(logged.path)
    rows = list(run.scan_history(page_size=50))
    assert [row["_step"] for row in rows] == list(range(120))
    some = list(run.scan_history(keys=["loss"], min_step=10, max_step=20, page_size=3))
    assert [row["_step"] for row in some] == list(range(10, 20))
    assert set(some[0]) == {"_step", "loss"}
    scans = [parse_qs(urlparse(url).query) for url in server.reads if "/history/scan" in url]
    assert scans[-1]["cursor"] == ["9"]  # resumed from the last page's "next"
    assert (scans[-1]["min_step"], scans[-1]["max_step"]) == (["10"], ["20"])


def test_history_is_sampled_and_falls_back_to_a_list_without_pandas(
    logged: cairn.Run, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cairn.Api().run(logged.path)
    sampled = run.history(samples=10, keys=["acc"], pandas=False)
    assert 1 <= len(sampled) <= 10
    assert all(set(row) == {"_step", "acc"} for row in sampled)
    with pytest.raises(ValueError, match="default stream"):
        run.history(stream="system")
    try:
        import pandas  # noqa: F401, PLC0415
    except ImportError:
        rows = run.history(samples=5)
        assert isinstance(rows, list)
        assert "Unable to load pandas" in capsys.readouterr().err


def test_api_runs_pages_filters_and_orders(server: FakeHistory, logged: cairn.Run) -> None:
    others = []
    for _ in range(4):
        with cairn.init(project="p") as other:
            other.log({"loss": 0.0})
        others.append(other.id)
    runs = cairn.Api().runs("alice/p", filters={"state": "finished"}, per_page=2)
    assert len(runs) == 5
    assert {run.id for run in runs} == {logged.id, *others}
    assert runs[0].id == logged.id
    assert [run.id for run in runs[1:3]] == others[:2]
    assert runs[-1].state == "finished"
    seen = [url for url in server.reads if urlparse(url).path.endswith("/runs")]
    query = parse_qs(urlparse(seen[0]).query)
    assert json.loads(query["filters"][0]) == {"state": "finished"}
    assert query["order"] == ["+created_at"]
    assert query["per_page"] == ["2"]
    assert len(seen) == 3  # three pages of two
    assert [run.id for run in cairn.Api().runs("p")][:1] == [logged.id]
    with pytest.raises(ValueError, match="invalid project path"):
        cairn.Api().runs("a/b/c")


def test_reads_outlive_a_temporary_api(logged: cairn.Run) -> None:
    import gc  # noqa: PLC0415

    rows = cairn.Api().run(logged.path).scan_history(page_size=7)
    runs = iter(cairn.Api().runs("alice/p", per_page=1))
    gc.collect()  # the Api objects are gone; their sessions must not be closed under us
    assert sum(1 for _ in rows) == 120
    assert next(runs).id == logged.id
