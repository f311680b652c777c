"""The history writer: stores ``run.history`` batches and keeps each run's summary.

It gets a fetch's worth of events (of all its partitions) at once and writes them in three
round trips, whatever their number: the batch markers, the chunks, the summaries due. It is
exactly once per batch although Kafka delivers at least once and clients retry:

- a batch at or before the summary's Kafka position was applied before: skipped;
- a batch id already claimed at another position is a client's retry: skipped;
- a batch id claimed at this very position is this writer's own unfinished attempt: it is
  redone with the same chunk number (chunk numbers follow from the summary, which moves only
  after the chunks are stored), so the inserts find their own documents.

The runner commits the offsets only after ``handle`` returned, that is after all three writes.
Summary and config updates (``run.summary[k] = v`` after ``init``) come through the same
sequence and change only the summary document.

A run's summary is saved when it is new, when the script set values in it, and otherwise once
``SAVE_AFTER_CHUNKS`` chunks or ``SAVE_EVERY_S`` seconds passed since its last save, whether a
batch of the run came or not (a run that stopped logging is saved with the next fetch, or when
the runner finds nothing to fetch). Each chunk carries what its batch adds to the summary, and
the repository applies the chunks stored since the last save whenever it reads a summary: one
round trip for up to ``PROBE`` of them, but FerretDB reads each chunk whole, rows included, so
a summary left behind costs every reader about a millisecond per chunk.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog
from cachetools import LRUCache
from cairn_shared.events.envelope import EventData
from cairn_shared.events.runs import RunConfigUpdated, RunHistoryLogged, RunSummaryUpdated
from cairn_shared.kafka.consumer import Delivery
from cairn_shared.laps import Laps
from cairn_shared.mongo import Document

from cairn_ingest.adapters.history_repository import PROBE, HistoryRepository, chunk_document
from cairn_ingest.domain.summary import BatchStats, RunSummary

log = structlog.get_logger(__name__)

# A replace is FerretDB's costliest write: saving each run's summary after every batch took a
# quarter of its CPU at 1,000 runs. A reader catches up on PROBE chunks in one round trip.
SAVE_AFTER_CHUNKS = PROBE
SAVE_EVERY_S = 15.0
# Looking for runs that stopped logging walks every unsaved run (about 1 ms per 1,000): once a
# second, not on every fetch. Against a 15 s rule a second late changes nothing.
STALE_SCAN_EVERY_S = 1.0
History = Delivery[EventData]  # RunHistoryLogged, RunSummaryUpdated or RunConfigUpdated
HANDLED: tuple[type[EventData], ...] = (RunHistoryLogged, RunSummaryUpdated, RunConfigUpdated)


class HistoryWriter:
    def __init__(self, repository: HistoryRepository, *, cache_size: int = 50_000) -> None:
        self._repository = repository
        # Summaries of the runs this member writes. Only valid while it owns their partitions:
        # the runner calls ``forget`` on every reassignment.
        self._cache: LRUCache[str, RunSummary] = LRUCache(maxsize=cache_size)
        # When each run's summary was last saved (monotonic) and its chunk count then.
        self._saved: LRUCache[str, tuple[float, int]] = LRUCache(maxsize=cache_size)
        self._unsaved: dict[str, None] = {}  # runs whose cached summary is ahead of the saved
        self._scanned_at = -math.inf  # monotonic, of the last look for stale summaries
        self.rows_stored = 0
        self.batches_stored = 0
        self.duplicates = 0

    def forget(self) -> None:
        self._cache.clear()
        self._saved.clear()
        self._unsaved.clear()

    async def handle(self, deliveries: Sequence[History]) -> None:
        now = datetime.now(UTC)
        timer = Laps()
        # Work on copies: if a write fails, the cache must not run ahead of the database.
        summaries = {path: s.copy() for path, s in (await self._summaries(deliveries)).items()}
        fresh = [
            d
            for d in deliveries
            if not summaries[d.envelope.subject].applied(d.partition, d.offset)
        ]
        first: dict[str, History] = {}
        for delivery in fresh:
            first.setdefault(delivery.envelope.id, delivery)
        claimed_before = await self._repository.claim_batches(
            [
                {"_id": d.envelope.id, "run": d.envelope.subject, "partition": d.partition}
                | {"offset": d.offset}
                for d in first.values()
            ]
        )
        timer.lap("claim")
        positions = await self._repository.batch_positions(claimed_before)
        chunks: list[Document] = []
        values_set: set[str] = set()
        for delivery in fresh:
            summary = summaries[delivery.envelope.subject]
            event_id, here = delivery.envelope.id, (delivery.partition, delivery.offset)
            owner = positions.get(event_id, here) if event_id in claimed_before else here
            event = delivery.event
            if first[event_id] is not delivery or owner != here:
                self.duplicates += 1
                summary.skip(partition=delivery.partition, offset=delivery.offset, at=now)
            elif isinstance(event, RunHistoryLogged):
                chunks.append(self._chunk(summary, delivery, event, now))
            elif isinstance(event, RunSummaryUpdated | RunConfigUpdated):
                summary.set_values(
                    event, partition=delivery.partition, offset=delivery.offset, at=now
                )
                values_set.add(summary.path)  # not in any chunk: saved this round
        timer.lap("positions")
        await self._repository.insert_chunks(chunks)
        timer.lap("chunks")
        touched = {d.envelope.subject for d in fresh}
        due = [
            summaries[path]
            for path in touched
            if path in values_set or self._save_due(summaries[path])
        ]
        due += self._stale(besides=touched)
        await self._repository.save_summaries(due)
        timer.lap("summaries")
        log.info(
            "history.stored",
            events=len(deliveries),
            chunks=len(chunks),
            runs=len(touched),
            saved=len(due),
            duplicates=len(fresh) - len(first),
            **timer.laps,
        )
        for path in touched:
            self._remember(summaries[path])
            self._unsaved[path] = None
        self._mark_saved(due)
        self.batches_stored += len(chunks)
        self.rows_stored += sum(chunk["rows"] for chunk in chunks)

    def _chunk(
        self, summary: RunSummary, delivery: History, event: RunHistoryLogged, now: datetime
    ) -> Document:
        stats = BatchStats.of(event)
        partition, offset = delivery.partition, delivery.offset
        number = summary.apply(stats, partition=partition, offset=offset, at=now)
        return chunk_document(
            path=summary.path,
            number=number,
            event_id=delivery.envelope.id,
            batch_id=event.batch_id,
            keys=event.keys,
            stats=stats,
            partition=partition,
            offset=offset,
            at=now,
            encoding=event.encoding,
            body=event.rows_gzip(),
        )

    async def _summaries(self, deliveries: Sequence[History]) -> dict[str, RunSummary]:
        wanted = {d.envelope.subject: d.envelope for d in deliveries}
        missing = [path for path in wanted if path not in self._cache]
        loaded = await self._repository.summaries(missing) if missing else {}
        loaded_at = time.monotonic()
        for path, stored in loaded.items():
            # Saved before; what came since is in its chunks, which count from here.
            self._saved[path] = (loaded_at, stored.chunks)
        found: dict[str, RunSummary] = {}
        for path, envelope in wanted.items():
            summary = self._cache.get(path) or loaded.get(path)
            if summary is None:
                summary = RunSummary(path=path, entity=envelope.entity, project=envelope.project)
            found[path] = summary
        return found

    async def save_idle(self) -> None:
        """The runner's idle hook: save the summaries due of runs no batch came for."""
        stale = self._stale(besides=set())
        if stale:
            await self._repository.save_summaries(stale)
            self._mark_saved(stale)

    def _stale(self, *, besides: set[str]) -> list[RunSummary]:
        """Cached summaries, other than ``besides``, that wait unsaved for longer than due."""
        now = time.monotonic()
        if now - self._scanned_at < STALE_SCAN_EVERY_S:
            return []
        self._scanned_at = now
        stale = []
        for path in list(self._unsaved):
            summary = self._cache.get(path)
            if summary is None:
                del self._unsaved[path]  # evicted: its readers catch up from the chunks
            elif path not in besides and self._save_due(summary):
                stale.append(summary)
        return stale

    def _mark_saved(self, summaries: Sequence[RunSummary]) -> None:
        saved_at = time.monotonic()
        for summary in summaries:
            self._saved[summary.path] = (saved_at, summary.chunks)
            self._unsaved.pop(summary.path, None)

    def _save_due(self, summary: RunSummary) -> bool:
        """A run never saved (new here) at once; otherwise after SAVE_AFTER_CHUNKS chunks or
        SAVE_EVERY_S seconds, whichever comes first."""
        saved = self._saved.get(summary.path)
        if saved is None:
            return True
        saved_at, chunks = saved
        return (
            summary.chunks - chunks >= SAVE_AFTER_CHUNKS
            or time.monotonic() - saved_at >= SAVE_EVERY_S
        )

    def _remember(self, summary: RunSummary) -> None:
        self._cache[summary.path] = summary
