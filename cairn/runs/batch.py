"""History rows into batches: NDJSON text (one JSON object per line) in one gzip member.

The same bytes are the request body and the spool file, so a batch is encoded once. Batches are
cut by row count, by text size and by distinct keys, and split again if compressing them does
not shrink them under the body limit, so the server's limits are never hit by a valid row.
"""

from __future__ import annotations

import json
import marshal
import math
import signal
import sys
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["history", "summary", "config"]
KINDS: tuple[Kind, ...] = ("history", "summary", "config")
GZIP_WBITS = 31  # the gzip container (RFC 1952), as the server expects
COMPRESS_LEVEL = 1  # level 1: a quarter of level 6's CPU for ~10% more bytes (the GIL matters)
MAX_KEYS = 1_000  # per row and distinct per batch (the server's limit)
MAX_KEY_CHARS = 256


@dataclass(frozen=True)
class Limits:
    """Where a batch is cut. ``max_body_bytes`` stays under the server's compressed limit.

    The sender sends what waits once ``batch_rows`` (1,000) rows do; a backlog (a slow
    server, a spool draining) goes in batches of up to ``max_rows``, so fewer round trips."""

    max_rows: int = 5_000
    max_text_bytes: int = 1024 * 1024
    max_body_bytes: int = 600 * 1024
    max_keys: int = MAX_KEYS


@dataclass(frozen=True)
class Batch:
    """One request's worth of records, in the run's order.

    ``seq`` numbers the run's batches from 0 in sending order (history, summary and config
    batches share the sequence); ``batch_id`` makes a retried or re-synced batch recognisable.
    ``rows`` counts the records (history rows, or 1 for an update).
    """

    kind: Kind
    seq: int
    batch_id: str
    body: bytes
    rows: int

    def records(self) -> list[dict[str, Any]]:
        """The decoded records (tests, ``cairn sync`` checks)."""
        text = zlib.decompress(self.body, GZIP_WBITS)
        return [json.loads(line) for line in text.split(b"\n") if line]


class RowError(ValueError):
    """A row that no batch can carry (too many keys, too large): never sent, always reported."""


def _json_default(value: Any) -> Any:
    """numpy and torch scalars and arrays (``tolist``/``item``), sets, anything else as text."""
    for name in ("tolist", "item"):
        method = getattr(value, name, None)
        if callable(method):
            try:
                return method()
            except (TypeError, ValueError, RuntimeError):
                continue
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# allow_nan: NaN and Infinity are written as W&B writes them; the server accepts the tokens.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_json_default, allow_nan=True)


def _plain(value: Any) -> Any:
    """A JSON-able copy for the rare row the fast encoder refuses (non-string keys, cycles)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return _plain(_json_default(value))


def encode_record(record: dict[str, Any]) -> str:
    """One NDJSON line (no newline)."""
    try:
        return _ENCODER.encode(record)
    except (TypeError, ValueError, RecursionError):
        try:
            return _ENCODER.encode(_plain(record))
        except (TypeError, ValueError, RecursionError) as exc:
            raise RowError(f"a logged value cannot be written as JSON: {exc}") from None


def gzip_text(text: str) -> bytes:
    deflater = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    return deflater.compress(text.encode()) + deflater.flush()


def new_batch_id() -> str:
    return str(uuid.uuid4())


def check_row_keys(row: dict[str, Any], limits: Limits) -> None:
    if len(row) > limits.max_keys:
        raise RowError(f"a row has {len(row)} keys; at most {limits.max_keys} are allowed")
    for key in row:
        if not 0 < len(key) <= MAX_KEY_CHARS:
            raise RowError(f"keys need 1 to {MAX_KEY_CHARS} characters: {key[:64]!r}")


class Numbering:
    """The run's batch sequence (starts at ``first``; a resumed spool continues it)."""

    def __init__(self, first: int = 0) -> None:
        self.next = first

    def take(self) -> int:
        seq = self.next
        self.next += 1
        return seq


Packed = tuple[list[tuple[bytes, int]], list[str]]  # (body, rows) each; reasons rows were left out


def pack(rows: Sequence[dict[str, Any]], limits: Limits) -> Packed:
    """Rows (in order) into gzip NDJSON bodies that fit ``limits``, and the reasons for rows no
    body could carry. Pure: the encoder process runs it too (``serve``)."""
    bodies: list[tuple[bytes, int]] = []
    problems: list[str] = []
    for lines in _cut(rows, limits, problems):
        bodies.extend(_packed(lines, limits, problems))
    return bodies, problems


def history_batches(
    rows: Sequence[dict[str, Any]],
    limits: Limits,
    numbering: Numbering,
    packer: Callable[[Sequence[dict[str, Any]], Limits], Packed] = pack,
) -> tuple[list[Batch], list[str]]:
    """Rows into numbered batches; also the reasons for rows no batch could carry."""
    bodies, problems = packer(rows, limits)
    batches = [
        Batch("history", numbering.take(), new_batch_id(), body, count) for body, count in bodies
    ]
    return batches, problems


def update_batch(kind: Kind, update: dict[str, Any], numbering: Numbering) -> Batch:
    """A summary or config update: one record."""
    body = gzip_text(encode_record(update))
    return Batch(kind, numbering.take(), new_batch_id(), body, 1)


def _cut(
    rows: Iterable[dict[str, Any]], limits: Limits, problems: list[str]
) -> Iterator[list[str]]:
    lines: list[str] = []
    size = 0
    keys: set[str] = set()
    encode = _ENCODER.encode
    for row in rows:
        try:
            try:
                line = encode(row)
            except (TypeError, ValueError, RecursionError):
                line = encode_record(row)
            if len(row) > limits.max_keys or len(line) > limits.max_text_bytes:
                check_row_keys(row, limits)
                raise RowError(f"a row of {len(line)} bytes exceeds {limits.max_text_bytes}")
        except RowError as exc:
            problems.append(f"step {row.get('_step')}: {exc}")
            continue
        keys.update(row)
        if lines and (
            len(lines) >= limits.max_rows
            or size + len(line) > limits.max_text_bytes
            or len(keys) > limits.max_keys
        ):
            yield lines
            lines, size, keys = [], 0, set(row)
        lines.append(line)
        size += len(line) + 1
    if lines:
        yield lines


def _packed(lines: list[str], limits: Limits, problems: list[str]) -> Iterator[tuple[bytes, int]]:
    body = gzip_text("\n".join(lines) + "\n")
    if len(body) <= limits.max_body_bytes:
        yield body, len(lines)
        return
    if len(lines) == 1:
        problems.append(f"a row compresses to {len(body)} bytes, over {limits.max_body_bytes}")
        return
    half = math.ceil(len(lines) / 2)
    yield from _packed(lines[:half], limits, problems)
    yield from _packed(lines[half:], limits, problems)


def serve() -> None:
    """The encoder process (``cairn.runs.encoder``): frames of ``marshal((rows, limits))`` on
    stdin, ``marshal(pack(...))`` (or ``("error", text)``) on stdout, each after an 8-byte
    length; ends at EOF. Runs as a plain script, so it imports nothing but the stdlib. Ctrl-C
    reaches the whole process group: the parent decides, this process ends at EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = source.read(8)
        if len(header) < 8:
            return
        payload = source.read(int.from_bytes(header, "big"))
        try:
            rows, knobs = marshal.loads(payload)  # noqa: S302 - from our own parent process
            answer = marshal.dumps(pack(rows, Limits(*knobs)))
        except Exception as exc:  # noqa: BLE001 - the parent encodes this batch itself
            answer = marshal.dumps(("error", repr(exc)))
        sink.write(len(answer).to_bytes(8, "big") + answer)
        sink.flush()


if __name__ == "__main__":
    serve()
