"""Run history's pure parts: batch validation and stats, sampling with extremes, the summary
and its exactly-once bookkeeping, and W&B-style run filters."""

from __future__ import annotations

import gzip
import json
import math
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import bson
import orjson
import pytest
from cairn_ingest.adapters.history_reader import Cursor, Page, StepRange, stored_blocks
from cairn_ingest.domain import history
from cairn_ingest.domain.admission import Admission, OverloadedError
from cairn_ingest.domain.filters import FilterError, compile_filter, pinned_state
from cairn_ingest.domain.history import (
    STEP,
    BatchError,
    BatchTooLargeError,
    Limits,
    ParsedBatch,
    columns_text,
    gunzip,
    parse_batch,
    parse_columns,
    rows_of,
)
from cairn_ingest.domain.sampling import Sampler
from cairn_ingest.domain.summary import BatchStats, RunSummary
from cairn_shared.events.runs import RunHistoryLogged, RunSummaryUpdated

from cairn.runs.batch import blocks_of

LIMITS = Limits(max_batch_bytes=1 << 20, max_rows=100, max_keys=5)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def ndjson(*rows: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def columns(*rows: dict[str, Any]) -> bytes:
    """The rows as the SDK sends them."""
    return json.dumps(blocks_of(rows)).encode()


def reading(parsed: ParsedBatch) -> tuple[ParsedBatch, list[dict[str, Any]]]:
    """What a parse means: the summary, and the rows (however they are cut into blocks)."""
    return replace(parsed, blocks=[], finite=True), rows_of(parsed.blocks)


def test_a_batch_yields_its_step_range_and_per_key_last_min_max() -> None:
    parsed = parse_batch(
        ndjson({"_step": 0, "loss": 2.0, "tag": "a"}, {"_step": 1, "loss": 0.5, "tag": "b"}),
        LIMITS,
    )
    assert (parsed.rows, parsed.min_step, parsed.max_step, parsed.ordered) == (2, 0, 1, True)
    assert parsed.last == {"_step": 1, "loss": 0.5, "tag": "b"}
    assert parsed.minimum == {"_step": 0, "loss": 0.5}
    assert parsed.maximum == {"_step": 1, "loss": 2.0}


def test_rows_of_different_shapes_and_non_finite_values() -> None:
    text = b'{"_step":3,"loss":NaN}\n{"_step":2,"acc":1}\n{"_step":4,"loss":0.1,"ok":true}\n'
    parsed = parse_batch(text, LIMITS)
    assert not parsed.ordered
    assert parsed.keys == ["_step", "loss", "acc", "ok"]
    assert parsed.minimum["loss"] == parsed.maximum["loss"] == 0.1  # NaN is no extreme
    assert "ok" not in parsed.minimum  # booleans are not numbers here
    nan_last = parse_batch(b'{"_step":1,"x":Infinity}\n', LIMITS).last
    assert nan_last["x"] == "Infinity"


@pytest.mark.parametrize(
    "rows",
    [
        [{"_step": n, "loss": 1.0 / (n + 1), "acc": n} for n in range(50)],
        [{"_step": 3, "x": 1}, {"_step": 1, "x": -2}],  # out of order
        [{"_step": 0, "big": 2**64 - 1, "small": -(2**63)}],  # beyond int64: no extremes
        [{"_step": 0, "flag": True, "name": "a", "nested": {"a": 1}}],
    ],
)
def test_plain_batches_and_columns_parse_as_the_line_by_line_reading_does(
    rows: list[dict[str, Any]],
) -> None:
    text = ndjson(*rows)
    plain, by_line = parse_batch(text, LIMITS), history._parse_lines(text, LIMITS)
    assert reading(plain) == reading(by_line) == reading(parse_columns(columns(*rows), LIMITS))
    assert plain.rows == len(rows)
    assert rows_of(plain.blocks) == rows


def test_random_batches_parse_as_the_line_by_line_reading_does() -> None:
    """The fast path infers types from ``min``/``max``; any mix of kinds must agree with the
    authority, including bools at and between the extremes and keys in another order."""
    rng = random.Random(7)  # noqa: S311 - test data, not secrets
    kinds: list[Callable[[], Any]] = [
        lambda: rng.uniform(-1, 1),
        lambda: rng.randint(-3, 3),
        lambda: rng.choice([True, False]),
        lambda: rng.choice([0, 1, 0.0, 1.0]),
        lambda: rng.choice(["a", "b"]),
        lambda: None,
        lambda: [rng.randint(0, 2)],
        lambda: {"a": 1},
        lambda: rng.choice([2**63, 2**64 - 1]),  # beyond int64: orjson reads them as uint64
    ]
    for _ in range(500):
        makers = {f"k{n}": rng.sample(kinds, rng.randint(1, 3)) for n in range(rng.randint(1, 4))}
        rows = []
        for step in range(rng.randint(1, 6)):
            row = {key: rng.choice(choices)() for key, choices in makers.items()}
            items = [("_step", step), *row.items()]
            rng.shuffle(items)
            rows.append(dict(items))
        text = ndjson(*rows)
        by_line = reading(history._parse_lines(text, LIMITS))
        plain = history._parse_plain(text, LIMITS)
        assert plain is None or reading(plain) == by_line
        assert reading(parse_batch(text, LIMITS)) == by_line
        assert reading(parse_columns(columns(*rows), LIMITS)) == by_line


def test_stored_columns_keep_every_row_and_w_and_b_non_finite_tokens() -> None:
    rows = [{"_step": 0, "x": 1.5}, {"_step": 1, "x": math.nan}, {"_step": 2, "y": -math.inf}]
    parsed = parse_batch(b"".join(json.dumps(row).encode() + b"\n" for row in rows), LIMITS)
    text = columns_text(parsed.blocks, parsed.finite)
    assert b"NaN" in text
    assert b"-Infinity" in text
    assert str(rows_of(json.loads(text))) == str(rows)  # NaN != NaN: compare as text
    plain = parse_batch(ndjson(*rows[:1]), LIMITS)
    assert plain.finite
    assert rows_of(orjson.loads(columns_text(plain.blocks, plain.finite))) == rows[:1]


def test_chunks_are_read_as_columns_and_as_the_ndjson_stored_before() -> None:
    rows = [{"_step": 0, "x": 1.5}, {"_step": 1, "y": math.inf}]
    legacy = {"body": gzip.compress(b'{"_step":0,"x":1.5}\n{"_step":1,"y":Infinity}\n')}
    stored = {"encoding": "columns+gzip", "body": gzip.compress(columns(*rows))}
    for chunk in (legacy, stored):
        blocks, finite = stored_blocks(chunk)
        assert (rows_of(blocks), finite) == (rows, False)
    blocks, finite = stored_blocks(stored | {"body": gzip.compress(columns(*rows[:1]))})
    assert (rows_of(blocks), finite) == (rows[:1], True)


def test_pages_hold_every_row_once_wherever_chunks_blocks_and_pages_end() -> None:
    rng = random.Random(5)  # noqa: S311 - test data, not secrets
    for _ in range(300):
        step, chunks = 0, []
        for _ in range(rng.randint(0, 4)):
            rows = []
            for _ in range(rng.randint(1, 30)):
                keys = rng.sample(["a", "b"], rng.randint(0, 2))
                rows.append({"_step": step, **dict.fromkeys(keys, step)})
                step += 1
            chunks.append(blocks_of(rows))
        size, keys = rng.randint(1, 25), rng.choice([None, ["a"], ["a", "b"]])
        steps = rng.choice([None, StepRange(rng.randint(0, 20), rng.randint(20, 60))])
        expected = [
            {"_step": row["_step"], **{key: row[key] for key in keys}} if keys else row
            for chunk in chunks
            for row in rows_of(chunk)
            if (steps is None or steps.holds(row["_step"]))
            and all(key in row for key in keys or [])
        ]
        pages, cursor = [], Cursor(0, 0)
        while True:
            page = Page()
            for number in range(cursor.chunk, len(chunks)):
                skip = cursor.row if number == cursor.chunk else 0
                stopped = page.fill(chunks[number], skip, size, keys, steps)
                if stopped is not None:
                    page.next = Cursor(number, stopped)
                    break
            pages.append(page.rows)
            if page.next is None:
                break
            cursor = page.next
        assert [row for rows in pages for row in rows] == expected
        assert all(len(rows) == size for rows in pages[:-1])  # the last may be empty
        assert len(pages[-1]) <= size


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"not json", "not JSON"),
        (b'{"_step":[0]}', "a JSON array of blocks"),
        (b"[]", "a JSON array of blocks"),
        (b'[{"_step":[0]},[1]]', "block 2: each block must be a JSON object"),
        (b'[{"loss":[1]}]', 'block 1: each block must be a JSON object with "_step"'),
        (b'[{"_step":0}]', "values must be a JSON array"),
        (b'[{"_step":[0,1],"loss":[1]}]', "one value per row"),
        (b'[{"_step":[]}]', "one value per row"),
        (b'[{"_step":[0,-1]}]', "_step values must be integers >= 0, got -1"),
        (b'[{"_step":[0,true]}]', "_step values must be integers >= 0, got True"),
        (b'[{"_step":[0],"a":[1],"b":[2],"c":[3],"d":[4],"e":[5]}]', "at most 5 keys"),
        (b'[{"_step":[0],"a":[1],"b":[2]},{"_step":[1],"c":[3],"d":[4],"e":[5]}]', "5 distinct"),
        (b'[{"_step":[0],"":[1]}]', "keys must have 1 to 256 characters"),
    ],
)
def test_invalid_columns_are_refused_with_the_block(text: bytes, message: str) -> None:
    with pytest.raises(BatchError, match=message):
        parse_columns(text, LIMITS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"not json\n", "line 1: not JSON"),
        (b'{"_step":0}\n[1,2]\n', "line 2: each line must be a JSON object"),
        (b'{"loss":1}\n', "_step must be an integer >= 0"),
        (b'{"_step":-1}\n', "_step must be an integer >= 0"),
        (b'{"_step":1.5}\n', "_step must be an integer >= 0"),
        (b'{"_step":true}\n', "_step must be an integer >= 0"),
        (b'{"_step":0,"a":1,"b":2,"c":3,"d":4,"e":5}\n', "at most 5 keys"),
        (b"\n\n", "no rows"),
    ],
)
def test_invalid_batches_are_refused_with_the_line(text: bytes, message: str) -> None:
    with pytest.raises(BatchError, match=message):
        parse_batch(text, LIMITS)


def test_size_limits() -> None:
    with pytest.raises(BatchTooLargeError):
        parse_batch(ndjson(*({"_step": n} for n in range(101))), LIMITS)
    with pytest.raises(BatchTooLargeError, match="at most 100 rows"):
        parse_columns(b'[{"_step":[0]}' + b',{"_step":[1],"x":[1]}' * 100 + b"]", LIMITS)
    bomb = gzip.compress(b" " * 100_000)
    with pytest.raises(BatchTooLargeError):
        gunzip(bomb, 10_000)
    with pytest.raises(BatchError, match="one complete gzip member"):
        gunzip(gzip.compress(b"a") + gzip.compress(b"b"), 10_000)
    with pytest.raises(BatchError, match="not valid gzip"):
        gunzip(b"plain text", 10_000)
    assert gunzip(gzip.compress(b"abc"), 10) == b"abc"


def test_sampling_keeps_each_keys_extremes_and_the_last_row() -> None:
    sampler = Sampler(samples=20)
    losses = [math.sin(step / 100) for step in range(10_000)]
    losses[4321] = 50.0  # a spike that even spacing would miss
    losses[777] = -50.0
    for start in range(0, 10_000, 500):
        sampler.add({"_step": list(range(start, start + 500)), "loss": losses[start : start + 500]})
    rows = sampler.result()
    steps = [row["_step"] for row in rows]
    assert len(rows) <= 20
    assert {4321, 777, 9999} <= set(steps)
    assert steps == sorted(steps)
    assert steps[0] == 0


def test_sampling_returns_every_row_of_a_short_run_and_filters_by_keys() -> None:
    sampler = Sampler(samples=500, keys=["acc"])
    rows = [{"_step": s, "loss": 1.0, **({"acc": s} if s % 10 == 0 else {})} for s in range(100)]
    for block in blocks_of(rows):
        sampler.add(block)
    assert sampler.result() == [{"_step": s, "acc": s} for s in range(0, 100, 10)]


class RowSampler(Sampler):
    """The sampling rule row by row: what ``Sampler`` must do with blocks of any cut."""

    def add_row(self, row: dict[str, Any]) -> None:
        if self._keys is not None:
            if not all(key in row for key in self._keys):
                return
            row = {STEP: row[STEP], **{key: row[key] for key in self._keys}}
        position = self.count
        self.count += 1
        self._last = (position, row)
        if position % self._stride == 0:
            self._kept.append((position, row))
            if len(self._kept) >= 2 * self._samples:
                self._kept = self._kept[::2]
                self._stride *= 2
        for key, value in row.items():
            finite = type(value) is int or (type(value) is float and math.isfinite(value))
            if key == STEP or not finite:
                continue
            if key not in self._low or value < self._low[key][0]:
                self._low[key] = (value, position, row)
            if key not in self._high or value > self._high[key][0]:
                self._high[key] = (value, position, row)


def test_sampling_blocks_keeps_what_sampling_row_by_row_keeps() -> None:
    rng = random.Random(11)  # noqa: S311 - test data, not secrets
    values: list[Callable[[], Any]] = [
        lambda: rng.randint(-5, 5),
        lambda: rng.uniform(-1, 1),
        lambda: rng.choice([math.nan, math.inf, -math.inf, True, "a", None, 3, 3.0]),
    ]
    for _ in range(200):
        rows = []
        for step in range(rng.randint(1, 400)):
            keys = rng.sample(["a", "b", "c"], rng.randint(0, 3))
            rows.append({"_step": step, **{key: rng.choice(values)() for key in keys}})
        samples, keys = rng.randint(1, 30), rng.choice([None, ["a"], ["a", "b"]])
        by_row, by_block = RowSampler(samples, keys), Sampler(samples, keys)
        for row in rows:
            by_row.add_row(row)
        start = 0
        while start < len(rows):  # blocks of one key set, cut at random places
            end = start + rng.randint(1, 50)
            for block in blocks_of(rows[start:end]):
                by_block.add(block)
            start = end
        by_block.add({"_step": []})  # an empty block changes nothing
        assert as_text(by_block.result()) == as_text(by_row.result())


def as_text(rows: list[dict[str, Any]]) -> list[str]:
    """Rows compared as text, keys sorted: NaN != NaN, and a block orders its rows' keys."""
    return [repr(sorted(row.items(), key=lambda item: item[0])) for row in rows]


def history_event(seq: int, *, last: dict[str, Any], low: int, high: int) -> BatchStats:
    event = RunHistoryLogged(
        run_id="r",
        batch_id=f"b{seq}",
        seq=seq,
        rows=high - low + 1,
        min_step=low,
        max_step=high,
        keys=list(last),
        last=last,
        min={k: v for k, v in last.items() if isinstance(v, float)},
        max={k: v for k, v in last.items() if isinstance(v, float)},
        body="",
    )
    return BatchStats.of(event)


def test_summary_numbers_chunks_and_knows_what_it_applied() -> None:
    summary = RunSummary(path="t/p/r", entity="t", project="p")
    first = summary.apply(
        history_event(0, last={"loss": 2.0}, low=0, high=9), partition=1, offset=10, at=NOW
    )
    second = summary.apply(
        history_event(1, last={"loss": 1.0}, low=10, high=19), partition=1, offset=15, at=NOW
    )
    assert (first, second, summary.chunks, summary.rows, summary.last_step) == (0, 1, 2, 20, 19)
    assert summary.last == {"loss": 1.0}
    assert (summary.minimum["loss"], summary.maximum["loss"]) == (1.0, 2.0)
    assert summary.applied(1, 15)
    assert summary.applied(1, 3)
    assert not summary.applied(1, 16)
    # A late batch (lower seq) fills new keys but never overwrites a later value.
    summary.apply(
        history_event(0, last={"loss": 9.0, "acc": 0.5}, low=20, high=20),
        partition=1,
        offset=16,
        at=NOW,
    )
    assert summary.last == {"loss": 1.0, "acc": 0.5}
    summary.set_values(
        RunSummaryUpdated(run_id="r", batch_id="s", seq=5, update={"best": 1}, remove=["acc"]),
        partition=1,
        offset=17,
        at=NOW,
    )
    assert summary.last == {"loss": 1.0, "best": 1}
    assert summary.seq == 5
    assert RunSummary.from_document(summary.to_document()) == summary


def test_a_summary_keeps_user_keys_of_any_shape_and_reads_the_layout_before_the_blob() -> None:
    summary = RunSummary(path="e/p/r", entity="e", project="p", rows=3, chunks=1)
    summary.last = {"a.b": 1, "$x": "y", "nested": {"k.1": [1, 2]}, "nan": "NaN"}
    summary.config = {"lr": 0.1}
    summary.minimum, summary.maximum = {"a.b": 1}, {"a.b": 1}

    document = summary.to_document()
    assert set(document) >= {"_id", "entity", "project", "state", "chunks", "kafka"}
    assert RunSummary.from_document(document) == summary

    state = bson.decode(document.pop("state"))
    assert RunSummary.from_document(document | state) == summary  # fields, as stored before


def test_admission_refuses_beyond_its_bounds_and_releases() -> None:
    admission = Admission(max_requests=2, max_bytes=100)
    with admission.admit(60) as held:
        with pytest.raises(OverloadedError):
            held.grow(50)
        with admission.admit(30), pytest.raises(OverloadedError), admission.admit(1):
            pass
    assert (admission.requests, admission.bytes, admission.refused) == (0, 0, 2)


RUN = {
    "state": "finished",
    "name": "glowing-1",
    "id": "abc",
    "job_type": "train",
    "created_at": datetime(2026, 3, 1, tzinfo=UTC),
    "config": {"lr": 0.01, "opt.name": "adam"},
    "summary": {"loss": 0.2, "flag": True},
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state": "finished"}, True),
        ({"config.lr": {"$gt": 0.001, "$lte": 0.01}}, True),
        ({"config.opt.name": {"$regex": "^ad"}}, True),
        ({"summary_metrics.loss": {"$lt": 0.1}}, False),
        ({"summary.loss": {"$in": [0.2, 0.3]}}, True),
        ({"summary.missing": {"$exists": False}}, True),
        ({"summary.flag": 1}, False),
        ({"$or": [{"state": "running"}, {"name": "glowing-1"}]}, True),
        ({"$nor": [{"state": "finished"}]}, False),
        ({"created_at": {"$gte": "2026-02-01", "$lt": "2026-04-01T00:00:00Z"}}, True),
        ({"config.lr": {"$not": {"$gt": 1}}}, True),
        ({"summary.loss": {"$gt": "text"}}, False),
        ({"config.lr": {"$ne": 0.5}}, True),
    ],
)
def test_filters(query: dict[str, Any], expected: bool) -> None:
    assert compile_filter(query)(RUN) is expected


@pytest.mark.parametrize(
    "query", [{"color": 1}, {"$where": "x"}, {"state": {"$near": 1}}, {"created_at": "soon"}, []]
)
def test_bad_filters_are_refused(query: Any) -> None:
    with pytest.raises(FilterError):
        compile_filter(query)


def test_pinned_state_narrows_the_database_query() -> None:
    assert pinned_state({"state": "running", "config.a": 1}) == "running"
    assert pinned_state({"state": {"$eq": "finished"}}) == "finished"
    assert pinned_state({"$or": [{"state": "running"}]}) is None
