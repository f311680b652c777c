"""Every wire detail of run history (docs/http-api.md, "run history"); nothing else in the SDK
knows a route, a header or a status code of it.

Writes: ``POST .../runs/{run_id}/history?batch_id=&seq=`` with the batch's columns as
``application/vnd.cairn.columns+json`` and ``Content-Encoding: gzip`` → 200 once Kafka holds
it, 429/503 with ``Retry-After`` under pressure, 400/413 for a batch that can never be
accepted. Summary and config updates after ``init`` go to ``.../runs/{run_id}/summary`` and
``.../config`` (JSON ``{"update": {...}}``, same query), in the same per-run sequence.
``finish`` waits on ``.../history/status?seq=&wait_s=`` until the writer has stored the last
batch.

Reads: ``GET .../runs?filters=&order=&per_page=&cursor=``, ``GET .../runs/{run_id}``,
``GET .../history?keys=&samples=&min_step=&max_step=`` and ``GET .../history/scan?...&cursor=``.
"""

from __future__ import annotations

import enum
import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from cairn.errors import CommError, NotFoundError
from cairn.http import USER_AGENT, ApiClient, segment, tls_context
from cairn.runs.batch import Batch, history_body, history_rows
from cairn.settings import ClientConfig

HISTORY_TYPE = "application/vnd.cairn.columns+json"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
FATAL_STATUSES = frozenset({401, 403, 404})  # the key, its role or the entity: spool and stop


class Outcome(enum.Enum):
    ACK = "ack"  # stored (or stored before: the batch id is known)
    RETRY = "retry"  # not now: unreachable, busy, restarting
    REJECTED = "rejected"  # never: the server refuses this batch
    FATAL = "fatal"  # nothing will pass (key refused, no access): keep everything for sync


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    message: str = ""
    retry_after_s: float | None = None
    status: int | None = None  # None: no answer


ACKED = Result(Outcome.ACK)


def run_url(entity: str, project: str, run_id: str = "") -> str:
    base = f"/ingest/v1/entities/{segment(entity)}/projects/{segment(project)}/runs"
    return f"{base}/{segment(run_id)}" if run_id else base


class Backoff:
    """Exponential backoff with full jitter; a server's ``Retry-After`` is a floor."""

    def __init__(self, initial_s: float = 0.25, maximum_s: float = 10.0) -> None:
        self.initial_s, self.maximum_s = initial_s, maximum_s
        self.attempt = 0

    def next(self, retry_after_s: float | None = None) -> float:
        ceiling = min(self.maximum_s, self.initial_s * 2 ** min(self.attempt, 32))
        self.attempt += 1
        delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not secrecy
        return max(delay, retry_after_s or 0.0)

    def reset(self) -> None:
        self.attempt = 0


class Uplink:
    """Sends one run's batches (from the sender thread, or ``cairn sync``)."""

    def __init__(
        self,
        config: ClientConfig,
        entity: str,
        project: str,
        run_id: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": USER_AGENT}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._http = httpx.Client(
            base_url=config.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            transport=transport,
            verify=tls_context(),
        )
        self._run = run_url(entity, project, run_id)

    def close(self) -> None:
        self._http.close()

    def send(self, batch: Batch) -> Result:
        """One attempt at ``batch``; the caller decides when to try again."""
        query = {"batch_id": batch.batch_id, "seq": str(batch.seq)}
        if batch.kind == "history":
            return self._post_history(batch.body, batch.rows, query)
        (record,) = batch.records()  # {"update": {...}} or {"remove": [...]}
        body = json.dumps(record, allow_nan=True).encode()
        result = self._post(f"/{batch.kind}", query, body, {"Content-Type": "application/json"})
        if result.status in {404, 405}:
            # A server without this route: the update cannot be stored, history still can.
            return Result(Outcome.REJECTED, f"the server does not store {batch.kind} updates")
        return result

    def _post_history(self, body: bytes, rows: int, query: dict[str, str]) -> Result:
        headers = {"Content-Type": HISTORY_TYPE, "Content-Encoding": "gzip"}
        result = self._post("/history", query, body, headers)
        if result.status == 413 and rows > 1:
            # Limits smaller than ours: halves under derived ids, so a retry stores them once.
            records = history_rows(body)
            half = math.ceil(len(records) / 2)
            for n, part in enumerate((records[:half], records[half:])):
                sub = {**query, "batch_id": f"{query['batch_id']}.{n}"}
                done = self._post_history(history_body(part), len(part), sub)
                if done.outcome is not Outcome.ACK:
                    return done
            return ACKED
        return result

    def _post(
        self, suffix: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> Result:
        url = f"{self._run}{suffix}?{urlencode(query)}"
        try:
            response = self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Result(Outcome.RETRY, f"cannot reach the server ({exc})")
        return _classify(response)

    def wait_stored(self, seq: int, wait_s: float) -> bool:
        """Whether the history writer has stored the batch ``seq`` (waiting up to ``wait_s``),
        so that reads right after ``finish`` see every row. False if it could not tell."""
        query = urlencode({"seq": seq, "wait_s": max(0, min(60, math.ceil(wait_s)))})
        try:
            response = self._http.get(f"{self._run}/history/status?{query}", timeout=wait_s + 10.0)
        except httpx.HTTPError:
            return False
        return bool(response.is_success and response.json().get("stored"))


def _classify(response: httpx.Response) -> Result:
    status = response.status_code
    if response.is_success:
        return ACKED
    message = f"HTTP {status}: {_error_message(response)}"
    if status in RETRY_STATUSES:
        return Result(Outcome.RETRY, message, _retry_after(response), status)
    if status in FATAL_STATUSES:
        return Result(Outcome.FATAL, message, status=status)
    return Result(Outcome.REJECTED, message, status=status)


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return str(error.get("message") or response.reason_phrase)
    except (ValueError, AttributeError):
        return response.text[:300] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# Lifecycle, for ``cairn sync`` (``cairn.init`` and ``run.finish`` use the same routes).


def start_run(api: ApiClient, entity: str, project: str, body: dict[str, Any]) -> None:
    api.post(run_url(entity, project), body)


def finish_run(
    api: ApiClient, entity: str, project: str, run_id: str, exit_code: int, *, wait_s: float = 10.0
) -> bool:
    """Mark the run finished, then wait (up to ``wait_s``) until reads show it: the route
    answers 202 and the run writer applies it a moment later. Whether it showed in time."""
    url = run_url(entity, project, run_id)
    api.post(f"{url}/finish", {"exit_code": exit_code})
    deadline = time.monotonic() + wait_s
    pause = 0.05
    while time.monotonic() < deadline:
        try:
            if api.get(url).get("state") not in {None, "running"}:
                return True
        except NotFoundError:
            pass  # the run writer has not stored the run yet
        except CommError:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
    return False


# Reads, for ``cairn.Api``.


def _query(params: dict[str, Any]) -> str:
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            pairs.extend((name, str(v)) for v in value)
        else:
            pairs.append((name, str(value)))
    return f"?{urlencode(pairs)}" if pairs else ""


def list_runs(
    api: ApiClient,
    entity: str,
    project: str,
    *,
    filters: dict[str, Any] | None,
    order: str | None,
    per_page: int,
) -> Iterator[dict[str, Any]]:
    """Every run of a project matching ``filters`` (W&B's Mongo-like JSON), page by page."""
    cursor: str | None = None
    while True:
        query = _query(
            {
                "filters": json.dumps(filters) if filters else None,
                "order": order,
                "per_page": per_page,
                "cursor": cursor,
            }
        )
        page = api.get(f"{run_url(entity, project)}{query}")
        yield from page.get("runs", [])
        cursor = page.get("next")
        if not cursor:
            return


def read_run(api: ApiClient, entity: str, project: str, run_id: str) -> dict[str, Any]:
    return dict(api.get(run_url(entity, project, run_id)))


def sampled_history(
    api: ApiClient,
    entity: str,
    project: str,
    run_id: str,
    *,
    keys: Sequence[str] | None,
    samples: int,
    min_step: int | None = None,
    max_step: int | None = None,
) -> list[dict[str, Any]]:
    query = _query(
        {"keys": list(keys or []), "samples": samples, "min_step": min_step, "max_step": max_step}
    )
    return list(api.get(f"{run_url(entity, project, run_id)}/history{query}")["rows"])


def scan_history(
    api: ApiClient,
    entity: str,
    project: str,
    run_id: str,
    *,
    keys: Sequence[str] | None,
    min_step: int | None,
    max_step: int | None,
    page_size: int,
) -> Iterator[dict[str, Any]]:
    """Every row of the step range (``max_step`` exclusive, as W&B's), a page at a time."""
    cursor: str | None = None
    while True:
        query = _query(
            {
                "keys": list(keys or []),
                "min_step": min_step,
                "max_step": max_step,
                "page_size": page_size,
                "cursor": cursor,
            }
        )
        page = api.get(f"{run_url(entity, project, run_id)}/history/scan{query}")
        yield from page["rows"]
        cursor = page.get("next")
        if not cursor:
            return
