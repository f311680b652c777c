"""``POST .../runs/{run_id}/history``: a batch of ``run.log`` rows in, acknowledged once Kafka
holds it (``acks=all``). Ingest keeps no state here; the history writer stores the batch.

The body is columns or NDJSON (``domain.history``), usually gzip (``Content-Encoding: gzip``);
``batch_id`` (chosen by the client, the same on every retry) and ``seq`` (the batch's number
within the run) come in the query. The event id derives from the run and the batch id, so a
retried batch is the same event and the writer stores it once.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from cairn_shared.auth.roles import Role
from cairn_shared.events.envelope import Envelope
from cairn_shared.events.runs import RunHistoryLogged
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import ApiError, bad_request
from cairn_shared.http.keys import SETTINGS
from cairn_shared.http.requests import cause, entity_param, path_param, project_param
from cairn_shared.ids import derive_id

from cairn_ingest.domain.admission import OverloadedError
from cairn_ingest.domain.history import (
    BatchError,
    BatchTooLargeError,
    Limits,
    ParsedBatch,
    columns_text,
    gunzip,
    gzip_bytes,
    parse_batch,
    parse_columns,
)
from cairn_ingest.domain.runs import check_run_id, run_path
from cairn_ingest.entrypoints.http.app_keys import ADMISSION, HISTORY_PUBLISHER

routes = web.RouteTableDef()
SOURCE = "/cairn/ingest"
HISTORY_URL = "/v1/entities/{entity}/projects/{project}/runs/{run_id}/history"
BATCH_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
COLUMNS_TYPE = "application/vnd.cairn.columns+json"
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/ndjson"})
# Parsing a big batch (a spool being synced) on the event loop would stall every other
# request for tens of milliseconds; above this, it runs in a worker thread.
THREAD_ABOVE_BYTES = 256 * 1024
GZIP_MAGIC = b"\x1f\x8b"


def history_event_id(path: str, batch_id: str) -> str:
    return derive_id(f"history:{path}", batch_id)


@routes.post(HISTORY_URL)
async def log_history(request: web.Request) -> web.Response:
    entity, project = entity_param(request), project_param(request)
    require_role(request, entity, Role.MEMBER)
    run_id = path_param(request, "run_id", check_run_id)
    batch_id, seq = batch_identity(request)
    settings = request.app[SETTINGS]
    columns = request.content_type == COLUMNS_TYPE
    if not columns and request.content_type not in NDJSON_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the rows as application/x-ndjson (a JSON object per line) or {COLUMNS_TYPE}",
        )
    declared = request.content_length
    if declared is not None and declared > settings.history_max_body_bytes:
        raise _too_large(f"the body exceeds {settings.history_max_body_bytes} bytes")
    try:
        with request.app[ADMISSION].admit(declared or settings.history_max_body_bytes) as held:
            body = await request.read()
            if len(body) > settings.history_max_body_bytes:
                raise _too_large(f"the body exceeds {settings.history_max_body_bytes} bytes")
            text, gzipped = _decode_body(request, body, settings.history_max_batch_bytes)
            held.grow(len(text))
            parsed, stored = await _read(columns, text, gzipped, _limits(request))
            path = run_path(entity, project, run_id)
            envelope = Envelope.wrap(
                _event(run_id, batch_id, seq, parsed, stored),
                id=history_event_id(path, batch_id),
                source=SOURCE,
                subject=path,
                entity=entity,
                project=project,
                cause=cause(request),
            )
            await publish_history(request, envelope, path)
    except OverloadedError:
        retry_after = str(settings.history_retry_after_s)
        raise web.HTTPTooManyRequests(
            reason="ingest is busy: retry this batch later", headers={"Retry-After": retry_after}
        ) from None
    return web.json_response(
        {"event_id": envelope.id, "batch_id": batch_id, "seq": seq, "rows": parsed.rows}
    )


def batch_identity(request: web.Request) -> tuple[str, int]:
    batch_id = request.query.get("batch_id", "")
    if not BATCH_ID.fullmatch(batch_id):
        raise bad_request(
            "batch_id (query) must be 1-128 letters, digits or '._:-', "
            "chosen by the client (a uuid) and the same on every retry of the batch"
        )
    raw_seq = request.query.get("seq", "")
    if not raw_seq.isdigit() or len(raw_seq) > 18:
        raise bad_request("seq (query) must be the batch's number within the run: 0, 1, 2, ...")
    return batch_id, int(raw_seq)


def _decode_body(request: web.Request, body: bytes, limit: int) -> tuple[bytes, bytes | None]:
    """The batch's text, and the client's gzip bytes when it sent gzip."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    try:
        if encoding == "gzip" and not body.startswith(GZIP_MAGIC):
            encoding = "identity"  # the server inflated it already (aiohttp's default)
        if encoding == "gzip":
            return gunzip(body, limit), body
        if encoding == "identity":
            if len(body) > limit:
                raise BatchTooLargeError(f"the batch exceeds {limit} bytes")
            return body, None
    except BatchError as exc:
        raise _batch_error(exc) from None
    raise ApiError(415, "unsupported_media_type", "Content-Encoding must be gzip or identity")


async def _read(
    columns: bool, text: bytes, gzipped: bytes | None, limits: Limits
) -> tuple[ParsedBatch, bytes]:
    try:
        if len(text) > THREAD_ABOVE_BYTES:
            return await asyncio.to_thread(_read_batch, columns, text, gzipped, limits)
        return _read_batch(columns, text, gzipped, limits)
    except BatchError as exc:
        raise _batch_error(exc) from None


def _read_batch(
    columns: bool, text: bytes, gzipped: bytes | None, limits: Limits
) -> tuple[ParsedBatch, bytes]:
    """The parsed batch and the gzip columns to store: the client's own bytes when it sent
    gzip columns, the rows written as columns when it sent NDJSON."""
    if columns:
        parsed = parse_columns(text, limits)
        return parsed, gzipped if gzipped is not None else gzip_bytes(text)
    parsed = parse_batch(text, limits)
    return parsed, gzip_bytes(columns_text(parsed.blocks, parsed.finite))


def _limits(request: web.Request) -> Limits:
    settings = request.app[SETTINGS]
    return Limits(
        max_batch_bytes=settings.history_max_batch_bytes,
        max_rows=settings.history_max_rows,
        max_keys=settings.history_max_keys,
    )


def _event(
    run_id: str, batch_id: str, seq: int, parsed: ParsedBatch, stored: bytes
) -> RunHistoryLogged:
    return RunHistoryLogged(
        run_id=run_id,
        batch_id=batch_id,
        seq=seq,
        rows=parsed.rows,
        min_step=parsed.min_step,
        max_step=parsed.max_step,
        ordered=parsed.ordered,
        keys=parsed.keys,
        last=parsed.last,
        min=parsed.minimum,
        max=parsed.maximum,
        body=RunHistoryLogged.encode_body(stored),
    )


async def publish_history(request: web.Request, envelope: Envelope, path: str) -> None:
    """Publish on the history topic; a Kafka failure is a 503 the client retries."""
    try:
        await request.app[HISTORY_PUBLISHER].publish(envelope, key=path)
    except MessageSizeTooLargeError:
        raise _too_large(  # noqa: B904 - the Kafka error says nothing more to the client
            "the batch with its summary exceeds Kafka's message size; split it"
        )
    except KafkaError as exc:
        # Not acknowledged: the client keeps the batch and retries it (same batch id).
        raise web.HTTPServiceUnavailable(
            reason=f"Kafka did not acknowledge the batch ({type(exc).__name__}); retry it",
            headers={"Retry-After": str(request.app[SETTINGS].history_retry_after_s)},
        ) from None


def _batch_error(exc: BatchError) -> ApiError:
    if isinstance(exc, BatchTooLargeError):
        return _too_large(str(exc))
    return ApiError(400, exc.code, str(exc), details=dict(exc.where))


def _too_large(message: str) -> ApiError:
    return ApiError(413, "payload_too_large", message)
