"""Run history batches: NDJSON rows in, validated once, with what the run summary needs.

A batch is the text a client's ``run.log`` sender posts: one JSON object per line, each with
an integer ``_step`` >= 0. Ingest parses every line exactly once (orjson) to validate it, and
in the same pass derives the batch's step range and per-key last, min and max values, so the
history writer never parses rows again. The rows themselves travel and are stored as the
client's gzip bytes.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

GZIP_WBITS = 31  # zlib's window bits for the gzip container (RFC 1952)
MAX_KEY_CHARS = 256
STEP = "_step"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


class BatchError(ValueError):
    """A batch that can never be accepted: the client must fix it, not retry it."""

    def __init__(self, message: str, *, line: int | None = None, code: str = "invalid_history"):
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line
        self.code = code


class BatchTooLargeError(BatchError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="payload_too_large")


@dataclass(frozen=True)
class Limits:
    max_batch_bytes: int  # decompressed NDJSON
    max_rows: int
    max_keys: int  # per row, and distinct per batch


@dataclass
class ParsedBatch:
    rows: int
    min_step: int
    max_step: int
    ordered: bool  # steps never decrease within the batch
    keys: list[str]
    last: dict[str, Any] = field(default_factory=dict)
    minimum: dict[str, int | float] = field(default_factory=dict)
    maximum: dict[str, int | float] = field(default_factory=dict)


def gunzip(body: bytes, limit: int) -> bytes:
    """The NDJSON inside one gzip member, refusing more than ``limit`` bytes of it.

    Decompression stops at ``limit + 1`` bytes, so a small body that inflates to gigabytes
    costs no more memory than the cap.
    """
    inflater = zlib.decompressobj(wbits=GZIP_WBITS)
    try:
        text = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BatchError(f"the body is not valid gzip: {exc}", code="invalid_encoding") from None
    if len(text) > limit or inflater.unconsumed_tail:
        raise BatchTooLargeError(f"the decompressed batch exceeds {limit} bytes; send smaller ones")
    if not inflater.eof or inflater.unused_data:
        # Stored bytes are read back with one zlib call: accept exactly one complete member.
        raise BatchError(
            "send the batch as one complete gzip member (truncated, or several members)",
            code="invalid_encoding",
        )
    return text


def gzip_bytes(text: bytes) -> bytes:
    """Compress an uncompressed batch for storage (level 1: ingest's CPU is the scarce part)."""
    deflater = zlib.compressobj(1, zlib.DEFLATED, GZIP_WBITS)
    return deflater.compress(text) + deflater.flush()


def read_history_text(raw: bytes) -> Any:
    """One row. orjson first; NaN and Infinity (which JSON lacks but W&B writes) via stdlib."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)  # raises ValueError (JSONDecodeError) if it is not JSON at all


def parse_batch(text: bytes, limits: Limits) -> ParsedBatch:
    """Validate every line of ``text`` and derive the batch's summary; BatchError on a fault."""
    if len(text) > limits.max_batch_bytes:
        raise BatchTooLargeError(f"the batch exceeds {limits.max_batch_bytes} bytes")
    rows: list[dict[str, Any]] = []
    ordered = True
    previous = -1
    max_keys = limits.max_keys
    for number, line in enumerate(text.split(b"\n"), start=1):
        if not line or line.isspace():
            continue
        try:
            row = read_history_text(line)
        except ValueError as exc:
            raise BatchError(f"not JSON ({exc})", line=number) from None
        if type(row) is not dict:
            raise BatchError("each line must be a JSON object", line=number)
        step = row.get(STEP)
        if type(step) is not int or step < 0:
            raise BatchError(f"{STEP} must be an integer >= 0, got {step!r}", line=number)
        if len(row) > max_keys:
            raise BatchError(f"a row may have at most {max_keys} keys", line=number)
        if step < previous:
            ordered = False
        previous = step
        rows.append(row)
        if len(rows) > limits.max_rows:
            raise BatchTooLargeError(f"a batch may have at most {limits.max_rows} rows")
    if not rows:
        raise BatchError("the batch has no rows")
    columns = _columns(rows)
    _check_keys(columns, max_keys)
    minimum, maximum = _extremes(columns)
    steps = columns[STEP]
    return ParsedBatch(
        rows=len(rows),
        min_step=min(steps),
        max_step=max(steps),
        ordered=ordered,
        keys=list(columns),
        last={key: json_safe(values[-1]) for key, values in columns.items()},
        minimum=minimum,
        maximum=maximum,
    )


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Each key's values in row order (rows lacking the key contribute nothing).

    A training loop logs the same keys every step: then one C-level transpose does it all.
    """
    shapes = {tuple(row) for row in rows}
    if len(shapes) == 1:
        (shape,) = shapes
        values = zip(*[row.values() for row in rows], strict=True)
        return dict(zip(shape, map(list, values), strict=True))
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return {key: [row[key] for row in rows if key in row] for key in keys}


def _check_keys(keys: dict[str, Any], max_keys: int) -> None:
    if len(keys) > max_keys:
        raise BatchError(f"a batch may have at most {max_keys} distinct keys")
    for key in keys:
        if not key or len(key) > MAX_KEY_CHARS:
            raise BatchError(f"keys must have 1 to {MAX_KEY_CHARS} characters: {key[:64]!r}")


def _extremes(
    columns: dict[str, list[Any]],
) -> tuple[dict[str, int | float], dict[str, int | float]]:
    """Per numeric key, the finite min and max over the batch.

    With the C builtins ``min``/``max``/``sum``: a finite sum proves every value finite (NaN
    and infinities propagate), so the slow per-value filter runs only when needed.
    """
    minimum: dict[str, int | float] = {}
    maximum: dict[str, int | float] = {}
    numeric = {int, float}
    for key, column in columns.items():
        kinds = set(map(type, column))
        numbers = column if kinds <= numeric else [v for v in column if type(v) in numeric]
        if not numbers:
            continue
        try:
            finite = math.isfinite(sum(numbers))
        except OverflowError:  # an int beyond float range
            finite = False
        if not finite:
            numbers = [v for v in numbers if _is_finite_number(v)]
            if not numbers:
                continue
        low, high = min(numbers), max(numbers)
        if low < INT64_MIN or high > INT64_MAX:  # only ints get there: BSON holds 64 bits
            numbers = [v for v in numbers if _is_finite_number(v)]
            if not numbers:
                continue
            low, high = min(numbers), max(numbers)
        minimum[key], maximum[key] = low, high
    return minimum, maximum


def _is_finite_number(value: int | float) -> bool:
    if type(value) is int:
        return INT64_MIN <= value <= INT64_MAX  # what MongoDB can store as a number
    return math.isfinite(value)


def json_safe(value: Any) -> Any:
    """A summary value that survives JSON and BSON: non-finite floats become their W&B
    spellings, and an int beyond 64 bits (which BSON cannot hold) its decimal text."""
    if type(value) is float and not math.isfinite(value):
        return _NON_FINITE.get(value, "NaN")
    if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
        return str(value)
    return value
