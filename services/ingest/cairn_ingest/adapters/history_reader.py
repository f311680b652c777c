"""Reading a run's history: its chunks in order, by ``_id``, a few at a time ahead.

``scan`` returns every row of a step range, a page at a time, with a cursor (chunk number and
row index) that resumes exactly where the page ended. ``sample`` feeds every row of the range
through a ``Sampler``.

Chunks of a run whose steps never went backwards (``summary.ordered``, the normal case: the
SDK refuses decreasing steps as W&B's does) are sorted by step, so a range start is found by
binary search and the walk stops at the range end. Otherwise every chunk is read and rows
come in the order they were logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from cairn_shared.mongo import Document

from cairn_ingest.adapters.history_repository import HistoryRepository
from cairn_ingest.domain.history import (
    GZIP_WBITS,
    STEP,
    Block,
    gzip_codec,
    read_json,
    rows_of,
)
from cairn_ingest.domain.sampling import Sampler
from cairn_ingest.domain.summary import RunSummary

PREFETCH = 8  # chunks fetched ahead while the current one is decoded


@dataclass(frozen=True)
class Cursor:
    chunk: int
    row: int

    def encode(self) -> str:
        return f"{self.chunk}.{self.row}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        chunk, _, row = text.partition(".")
        if not (chunk.isdigit() and row.isdigit()):
            raise ValueError(f"invalid cursor {text!r}: pass back the 'next' of the last page")
        return cls(int(chunk), int(row))


@dataclass
class Page:
    rows: list[dict[str, Any]] = field(default_factory=list)
    finite: bool = True  # no NaN or infinity: orjson can write the rows (see ``read_json``)
    next: Cursor | None = None

    def fill(
        self,
        blocks: list[Block],
        skip: int,
        size: int,
        keys: Sequence[str] | None,
        steps: StepRange | None,
    ) -> int | None:
        """Add a chunk's rows from row ``skip`` on (those holding ``keys``, reduced to them,
        and within ``steps`` when given) until the page has ``size``; the chunk's row number
        where a full page stopped, or None."""
        first = 0  # the chunk's row number of the block's first row
        for block in blocks:
            rows = len(block[STEP])
            at, first = max(skip - first, 0), first + rows
            if at >= rows or (keys and not all(key in block for key in keys)):
                continue
            columns = {STEP: block[STEP], **{key: block[key] for key in keys}} if keys else block
            while at < rows:
                if len(self.rows) == size:
                    return first - rows + at
                end = min(rows, at + size - len(self.rows))
                taken = rows_of([{key: values[at:end] for key, values in columns.items()}])
                if steps is not None:
                    taken = [row for row in taken if steps.holds(row[STEP])]
                self.rows.extend(taken)
                at = end
        return None


@dataclass(frozen=True)
class StepRange:
    low: int = 0
    high: int | None = None  # inclusive

    def holds(self, step: int) -> bool:
        return step >= self.low and (self.high is None or step <= self.high)

    def covers(self, chunk: Document) -> bool:
        return chunk["min_step"] >= self.low and (
            self.high is None or chunk["max_step"] <= self.high
        )

    def past(self, chunk: Document) -> bool:
        return self.high is not None and chunk["min_step"] > self.high


class HistoryReader:
    def __init__(self, repository: HistoryRepository) -> None:
        self._repository = repository

    async def scan(
        self,
        summary: RunSummary,
        *,
        steps: StepRange,
        keys: Sequence[str] | None,
        page_size: int,
        cursor: Cursor | None,
    ) -> Page:
        """Up to ``page_size`` rows and the cursor of the next page (None after the last).

        A chunk's rows become dicts from the cursor on and only as many as the page takes."""
        start = cursor or Cursor(await self._first_chunk(summary, steps.low), 0)
        page = Page()
        # Fetch ahead only about the chunks a page takes: a chunk fetched for nothing costs
        # the database as much as one read.
        ahead = 1 + page_size * summary.chunks // max(summary.rows, 1)
        async with aclosing(self._chunks(summary, start.chunk, steps, ahead)) as chunks:
            async for number, chunk in chunks:
                blocks, finite = stored_blocks(chunk)
                page.finite &= finite
                skip = start.row if number == start.chunk else 0
                within = None if steps.covers(chunk) else steps
                stopped = page.fill(blocks, skip, page_size, keys, within)
                if stopped is not None:
                    page.next = Cursor(number, stopped)
                    return page
        return page

    async def sample(
        self, summary: RunSummary, *, steps: StepRange, keys: Sequence[str] | None, samples: int
    ) -> list[dict[str, Any]]:
        sampler = Sampler(samples, keys)
        first = await self._first_chunk(summary, steps.low)
        async with aclosing(self._chunks(summary, first, steps, PREFETCH)) as chunks:
            async for _, chunk in chunks:
                whole = steps.covers(chunk)
                for block in stored_blocks(chunk)[0]:
                    sampler.add(block if whole else _within(block, steps))
        return sampler.result()

    async def _first_chunk(self, summary: RunSummary, low: int) -> int:
        """The first chunk that may hold ``low``: binary search when chunks are in step order."""
        if low <= 0 or not summary.ordered:
            return 0
        lo, hi = 0, summary.chunks
        while lo < hi:
            middle = (lo + hi) // 2
            chunk = await self._repository.chunk(summary.path, middle, meta_only=True)
            if chunk is not None and chunk["max_step"] < low:
                lo = middle + 1
            else:
                hi = middle
        return lo

    async def _chunks(
        self, summary: RunSummary, first: int, steps: StepRange, ahead: int
    ) -> AsyncGenerator[tuple[int, Document]]:
        """The run's chunks from ``first`` on, fetched up to ``ahead`` (at most ``PREFETCH``)
        at a time."""
        pending: list[asyncio.Task[Document | None]] = []
        number = first
        try:
            while number < summary.chunks or pending:
                while number < summary.chunks and len(pending) < min(ahead, PREFETCH):
                    pending.append(
                        asyncio.ensure_future(self._repository.chunk(summary.path, number))
                    )
                    number += 1
                chunk = await pending.pop(0)
                if chunk is None:  # not written yet: the summary is saved after its chunks
                    continue
                if summary.ordered and steps.past(chunk):
                    return
                yield chunk["n"], chunk
        finally:
            # The lookups still in flight finish rather than being cancelled: PyMongo leaks
            # the socket of a connection it was opening when cancelled (a ResourceWarning).
            await asyncio.gather(*pending, return_exceptions=True)


def stored_blocks(chunk: Document) -> tuple[list[Block], bool]:
    """A chunk's rows as blocks, and whether they are finite (see ``read_json``). A chunk
    stored as NDJSON (before columns) gives a block per row."""
    text = gzip_codec.decompress(chunk["body"], GZIP_WBITS)
    if chunk.get("encoding", "ndjson+gzip") == "columns+gzip":
        return read_json(text)
    rows = [read_json(line) for line in text.split(b"\n") if line and not line.isspace()]
    blocks = [{key: [value] for key, value in row.items()} for row, _ in rows]
    return blocks, all(finite for _, finite in rows)


def _within(block: Block, steps: StepRange) -> Block:
    """The rows of ``block`` whose step is in ``steps``."""
    wanted = [index for index, step in enumerate(block[STEP]) if steps.holds(step)]
    return {key: [column[index] for index in wanted] for key, column in block.items()}
