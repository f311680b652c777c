"""A fake of our run history API (docs/http-api.md, "run history") for the SDK's unit tests.

``FakeHistory`` answers the history, summary, config, status, scan and run routes from memory,
as the server does: a batch id is stored once, updates apply in ``seq`` order with the rows,
``history/status`` says whether a seq is stored. Everything else goes to ``FakeCairn``.
``down`` makes every history request fail to connect; ``fail`` queues answers for the next
writes (429s, 503s...).
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
import pytest

import cairn.session
from cairn.http import ApiClient
from cairn.runs import transport as run_transport
from cairn.runs import tuning
from cairn.runs.batch import Limits, history_rows
from tests.unit.sdk.fakes import FakeCairn, error, ok

RUNS = r"/ingest/v1/entities/([^/]+)/projects/([^/]+)/runs"
RUN = RUNS + r"/([^/]+)"


@dataclass
class StoredRun:
    rows: list[dict[str, Any]] = field(default_factory=list)
    batches: dict[str, int] = field(default_factory=dict)  # batch id -> seq
    summary: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    state: str = "running"
    exit_code: int | None = None
    name: str = ""
    job_type: str = ""


@dataclass
class FakeHistory:
    cairn: FakeCairn
    runs: dict[str, StoredRun] = field(default_factory=dict)
    writes: list[tuple[str, str, int, str]] = field(default_factory=list)  # path, id, seq, kind
    attempts: list[tuple[str, int]] = field(default_factory=list)  # every write: id, seq
    reads: list[str] = field(default_factory=list)  # every GET's URL
    down: bool = False
    queued: list[httpx.Response] = field(default_factory=list)
    max_rows: int | None = None  # answer 413 above this many rows
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def fail(self, *responses: httpx.Response) -> None:
        self.queued.extend(responses)

    def run(self, path: str) -> StoredRun:
        return self.runs.setdefault(path, StoredRun())

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path)
        query = parse_qs(request.url.query.decode())
        if request.method == "GET":
            self.reads.append(str(request.url))
        with self.lock:
            match = re.fullmatch(RUN + r"/(history|summary|config)", path)
            if match and request.method == "POST":
                self.attempts.append((query["batch_id"][0], int(query["seq"][0])))
                if self.down:
                    raise httpx.ConnectError("connection refused", request=request)
                if self.queued:
                    return self.queued.pop(0)
                return self._write(request, "/".join(match.groups()[:3]), match[4], query)
            match = re.fullmatch(RUN + r"/history(/scan|/status)?", path)
            if match and request.method == "GET":
                return self._read("/".join(match.groups()[:3]), match[4] or "", query)
            match = re.fullmatch(RUN, path)
            if match and request.method == "GET":
                return self._run_view("/".join(match.groups()))
            if re.fullmatch(RUNS, path) and request.method == "GET":
                return self._list(path, query)
            self._lifecycle(request, path)
        return self.cairn.handle(request)

    def _lifecycle(self, request: httpx.Request, path: str) -> None:
        body = json.loads(request.content) if request.content else {}
        starts = re.fullmatch(RUNS, path)
        if starts and request.method == "POST":
            run = self.run(f"{starts[1]}/{starts[2]}/{body['run_id']}")
            run.config.update(body.get("config", {}))
            run.name, run.job_type = body.get("name", ""), body.get("job_type", "")
        finish = re.fullmatch(RUN + "/finish", path)
        if finish and request.method == "POST":
            run = self.run("/".join(finish.groups()))
            run.state, run.exit_code = "finished", body.get("exit_code", 0)

    def _write(
        self, request: httpx.Request, path: str, kind: str, query: dict[str, list[str]]
    ) -> httpx.Response:
        batch_id, seq = query["batch_id"][0], int(query["seq"][0])
        self.writes.append((path, batch_id, seq, kind))
        run = self.run(path)
        if batch_id in run.batches:
            return ok({"batch_id": batch_id, "seq": seq})  # a retry: stored once
        if kind == "history":
            assert request.headers["Content-Type"] == run_transport.HISTORY_TYPE
            assert request.headers["Content-Encoding"] == "gzip"
            rows = history_rows(request.content)
            if self.max_rows is not None and len(rows) > self.max_rows:
                return error(413, "payload_too_large", "too many rows")
            run.rows.extend(rows)
            for row in rows:
                run.summary.update(row)
        else:
            body = json.loads(request.content)
            target = run.summary if kind == "summary" else run.config
            target.update(body.get("update", {}))
            for key in body.get("remove", []):
                target.pop(key, None)
        run.batches[batch_id] = seq
        return ok({"batch_id": batch_id, "seq": seq})

    def _read(self, path: str, what: str, query: dict[str, list[str]]) -> httpx.Response:
        if path not in self.runs:
            return error(404, "not_found", f"run {path!r} not found")
        run = self.runs[path]
        if what == "/status":
            stored = max(run.batches.values(), default=-1)
            return ok({"stored": stored >= int(query.get("seq", ["-1"])[0])})
        keys = query.get("keys")
        low = int(query.get("min_step", ["0"])[0])
        high = int(query["max_step"][0]) if "max_step" in query else None
        rows = [r for r in run.rows if r["_step"] >= low and (high is None or r["_step"] < high)]
        if keys:
            rows = [{k: r[k] for k in ["_step", *keys] if k in r} for r in rows]
            rows = [r for r in rows if all(k in r for k in keys)]
        if what == "":
            samples = int(query.get("samples", ["500"])[0])
            step = max(1, len(rows) // samples)
            return ok({"rows": rows[::step][:samples]})
        size = int(query["page_size"][0])
        start = int(query.get("cursor", ["0"])[0])
        following = start + size if start + size < len(rows) else None
        return ok({"rows": rows[start : start + size], "next": following and str(following)})

    def _run_view(self, path: str) -> httpx.Response:
        if path not in self.runs:
            return error(404, "not_found", f"run {path!r} not found")
        run = self.runs[path]
        return ok(
            {
                "path": path,
                "id": path.rsplit("/", 1)[1],
                "name": run.name or path.rsplit("/", 1)[1],
                "job_type": run.job_type,
                "state": run.state,
                "config": run.config,
                "summary": {k: _json_safe(v) for k, v in run.summary.items()},
                "exit_code": run.exit_code,
                "last_step": run.rows[-1]["_step"] if run.rows else None,
                "created_at": "2026-01-01T00:00:00+00:00",
            }
        )

    def _list(self, path: str, query: dict[str, list[str]]) -> httpx.Response:
        prefix = "/".join(path.split("/")[4:7:2])  # entity/project
        views = [
            json.loads(self._run_view(p).content) for p in self.runs if p.startswith(prefix + "/")
        ]
        size = int(query.get("per_page", ["50"])[0])
        start = int(query.get("cursor", ["0"])[0])
        following = start + size if start + size < len(views) else None
        page = views[start : start + size]
        return ok({"runs": page, "total": len(views), "next": following and str(following)})


def _json_safe(value: Any) -> Any:
    """As the server's summaries: JSON has no NaN or Infinity, so they become texts."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


FAST = tuning.Tuning(
    batch_rows=100,
    batch_interval_s=0.02,
    spool_after_s=0.05,
    finish_timeout_s=10.0,
    backoff_initial_s=0.005,
    backoff_max_s=0.02,
    limits=Limits(max_rows=100),
)


@pytest.fixture
def server(fake: FakeCairn, monkeypatch: pytest.MonkeyPatch) -> FakeHistory:
    """``FakeHistory`` behind every client the SDK opens, and a sender tuned for tests."""
    history = FakeHistory(fake)
    mock = history.transport
    monkeypatch.setattr(cairn.session, "ApiClient", functools.partial(ApiClient, transport=mock))
    monkeypatch.setattr(
        run_transport, "Uplink", functools.partial(run_transport.Uplink, transport=mock)
    )
    monkeypatch.setattr(tuning.Tuning, "from_env", classmethod(lambda cls: FAST))
    return history
