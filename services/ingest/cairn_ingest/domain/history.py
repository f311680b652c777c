"""Run history batches: NDJSON rows in, validated once, with what the run summary needs.

A batch is the text a client's ``run.log`` sender posts: one JSON object per line, each with
an integer ``_step`` >= 0. Ingest parses the rows (orjson; the usual batch as one array, an
unusual one line by line) to validate them, and derives the batch's step range and per-key
last, min and max values, so the history writer never parses rows again. The rows themselves
travel and are stored as the client's gzip bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, cast

import orjson
from isal import isal_zlib

GZIP_WBITS = 31  # zlib's window bits for the gzip container (RFC 1952)
# Gzip through ISA-L: the same format and API as zlib, about twice as fast to inflate and four
# times to deflate here. Inflating every batch was 40 % of ingest's CPU at 1,000 workers.
gzip_codec = isal_zlib
GzipError = cast("type[Exception]", isal_zlib.error)  # isal's stub types it as an instance
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
    inflater = gzip_codec.decompressobj(wbits=GZIP_WBITS)
    try:
        text = inflater.decompress(body, limit + 1)
    except GzipError as exc:
        raise BatchError(f"the body is not valid gzip: {exc}", code="invalid_encoding") from None
    if len(text) > limit or inflater.unconsumed_tail:
        raise BatchTooLargeError(f"the decompressed batch exceeds {limit} bytes; send smaller ones")
    if not inflater.eof or inflater.unused_data:
        # Stored bytes are read back with one call: accept exactly one complete member.
        raise BatchError(
            "send the batch as one complete gzip member (truncated, or several members)",
            code="invalid_encoding",
        )
    return text


def gzip_bytes(text: bytes) -> bytes:
    """Compress an uncompressed batch for storage (level 1: ingest's CPU is the scarce part)."""
    deflater = gzip_codec.compressobj(1, gzip_codec.DEFLATED, GZIP_WBITS)
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
    parsed = _parse_plain(text, limits)
    return parsed if parsed is not None else _parse_lines(text, limits)


def _parse_plain(text: bytes, limits: Limits) -> ParsedBatch | None:
    """The batch a training loop sends, in a few C-level passes; None for anything else.

    Its lines are read as one JSON array. A JSON value cannot hold a raw newline except as
    whitespace, and a comma there makes any value invalid, so this reads exactly the rows the
    line-by-line parser would, or fails. Every row must then be an object with the keys of the
    first (as many, and each of them) and an integer ``_step`` >= 0. orjson refuses NaN and
    infinities, so every float is finite. Whatever differs (a blank line, NaN, a fault to report
    with its line number) goes to ``_parse_lines``, the one authority on what a batch may hold.
    """
    try:
        rows = orjson.loads(b"[" + text.strip().replace(b"\n", b",") + b"]")
    except orjson.JSONDecodeError:
        return None
    if not 0 < len(rows) <= limits.max_rows or set(map(type, rows)) != {dict}:
        return None
    shape = list(rows[0])
    if STEP not in shape or len(shape) > limits.max_keys or set(map(len, rows)) != {len(shape)}:
        return None
    try:
        columns = {key: list(map(itemgetter(key), rows)) for key in shape}
    except KeyError:  # a row with as many keys as the first, but others
        return None
    steps = columns[STEP]
    if set(map(type, steps)) != {int} or min(steps) < 0:
        return None
    return _summarize(columns, len(rows), steps == sorted(steps), limits, finite=True)


def _parse_lines(text: bytes, limits: Limits) -> ParsedBatch:
    """Any batch, one line at a time: rows of different keys, NaN and infinities, and the
    first fault found, with its line number."""
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
    return _summarize(_columns(rows), len(rows), ordered, limits, finite=False)


def _summarize(
    columns: dict[str, list[Any]], rows: int, ordered: bool, limits: Limits, *, finite: bool
) -> ParsedBatch:
    _check_keys(columns, limits.max_keys)
    minimum, maximum = _extremes(columns, finite=finite)
    steps = columns[STEP]
    return ParsedBatch(
        rows=rows,
        min_step=min(steps),
        max_step=max(steps),
        ordered=ordered,
        keys=list(columns),
        last={key: json_safe(values[-1]) for key, values in columns.items()},
        minimum=minimum,
        maximum=maximum,
    )


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Each key's values in row order (rows lacking the key contribute nothing)."""
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


NUMBERS = frozenset({int, float})


def _extremes(
    columns: dict[str, list[Any]], *, finite: bool
) -> tuple[dict[str, int | float], dict[str, int | float]]:
    """Per numeric key, the finite min and max over the batch (within BSON's int64).

    ``finite``: every float is known finite (no NaN or infinity to filter out).
    """
    minimum: dict[str, int | float] = {}
    maximum: dict[str, int | float] = {}
    extremes_of = _finite_extremes if finite else _column_extremes
    for key, column in columns.items():
        extremes = extremes_of(column)
        if extremes is not None:
            minimum[key], maximum[key] = extremes
    return minimum, maximum


def _finite_extremes(column: list[Any]) -> tuple[int | float, int | float] | None:
    """``_column_extremes`` of a column without NaN or infinities, in two C passes when every
    value is a number (the usual column).

    ``min`` and ``max`` compare each value with the extreme so far, which is of the first
    value's kind, so a value of another kind (a string among numbers, None) raises TypeError.
    When both results are numbers, every value is a number or a bool; a bool that is neither
    result lies between them, so leaving it out, as ``_column_extremes`` does, changes nothing.
    """
    try:
        low, high = min(column), max(column)
    except TypeError:
        return _column_extremes(column)
    if type(low) not in NUMBERS or type(high) not in NUMBERS:
        return _column_extremes(column)  # strings, lists, or a bool at an end
    if low < INT64_MIN or high > INT64_MAX:  # a uint64 from orjson, or a float that large
        return _column_extremes(column)
    return low, high


def _column_extremes(column: list[Any]) -> tuple[int | float, int | float] | None:
    """With the C builtins ``min``/``max``/``sum``: a finite sum proves every value finite (NaN
    and infinities propagate), so the slow per-value filter runs only when needed."""
    kinds = set(map(type, column))
    numbers = column if kinds <= NUMBERS else [v for v in column if type(v) in NUMBERS]
    if not numbers:
        return None
    try:
        finite = math.isfinite(sum(numbers))
    except OverflowError:  # an int beyond float range
        finite = False
    if not finite:
        numbers = [v for v in numbers if _is_finite_number(v)]
        if not numbers:
            return None
    low, high = min(numbers), max(numbers)
    if low < INT64_MIN or high > INT64_MAX:  # only ints get there: BSON holds 64 bits
        numbers = [v for v in numbers if _is_finite_number(v)]
        if not numbers:
            return None
        low, high = min(numbers), max(numbers)
    return low, high


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
