"""When the history writer saves a run's summary: on the run's first batch, then once
SAVE_AFTER_CHUNKS chunks or SAVE_EVERY_S seconds passed, whether or not the run logs again."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence

import pytest
from cairn_ingest.domain.summary import RunSummary
from cairn_ingest.handlers import history_writer
from cairn_ingest.handlers.history_writer import SAVE_AFTER_CHUNKS, History, HistoryWriter
from cairn_shared.events.envelope import Cause, Envelope
from cairn_shared.events.runs import RunHistoryLogged
from cairn_shared.kafka.consumer import Delivery
from cairn_shared.mongo import Document


class FakeHistory:
    """The repository port, in memory: what the writer stored and each summary save."""

    def __init__(self) -> None:
        self.markers: dict[str, Document] = {}
        self.chunks: list[Document] = []
        self.saves: list[tuple[str, int]] = []  # (run path, chunks) per summary saved

    async def claim_batches(self, markers: Sequence[Document]) -> set[str]:
        before = {m["_id"] for m in markers if m["_id"] in self.markers}
        self.markers.update({m["_id"]: m for m in markers})
        return before

    async def batch_positions(self, ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        return {i: (self.markers[i]["partition"], self.markers[i]["offset"]) for i in ids}

    async def insert_chunks(self, chunks: Sequence[Document]) -> None:
        self.chunks.extend(chunks)

    async def save_summaries(self, summaries: Sequence[RunSummary]) -> None:
        self.saves.extend((s.path, s.chunks) for s in summaries)

    async def summaries(self, paths: Iterable[str]) -> dict[str, RunSummary]:
        return {}  # every run is new here


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(history_writer.time, "monotonic", clock)
    return clock


def batch(run: str, seq: int, offset: int) -> History:
    event = RunHistoryLogged(
        run_id=run,
        batch_id=f"{run}-{seq}",
        seq=seq,
        rows=1,
        min_step=seq,
        max_step=seq,
        keys=["_step"],
        last={"_step": seq},
        body=RunHistoryLogged.encode_body(gzip.compress(b'{"_step":%d}\n' % seq)),
    )
    path = f"e/p/{run}"
    envelope = Envelope.wrap(
        event, id=f"{path}/{seq}", source="/test", subject=path, cause=Cause("u"), entity="e"
    )
    return Delivery(envelope, event, 0, offset)


class Runs:
    """Sends batches of several runs through one writer, numbering their Kafka offsets."""

    def __init__(self, writer: HistoryWriter) -> None:
        self.writer = writer
        self.seq: dict[str, int] = {}
        self.offset = 0

    async def log(self, *runs: str) -> None:
        deliveries = []
        for run in runs:
            seq = self.seq.get(run, -1) + 1
            self.seq[run] = seq
            deliveries.append(batch(run, seq, self.offset))
            self.offset += 1
        await self.writer.handle(deliveries)


async def test_a_logging_run_is_saved_first_then_every_few_chunks(clock: Clock) -> None:
    store = FakeHistory()
    runs = Runs(HistoryWriter(store))
    for _ in range(2 * SAVE_AFTER_CHUNKS + 1):
        await runs.log("a")
        clock.now += 1.0
    saved_at = [1, 1 + SAVE_AFTER_CHUNKS, 1 + 2 * SAVE_AFTER_CHUNKS]
    assert store.saves == [("e/p/a", chunks) for chunks in saved_at]
    assert len(store.chunks) == 2 * SAVE_AFTER_CHUNKS + 1


async def test_a_run_is_saved_after_the_interval_even_when_it_stopped_logging(
    clock: Clock,
) -> None:
    store = FakeHistory()
    writer = HistoryWriter(store)
    runs = Runs(writer)
    await runs.log("a", "b")
    await runs.log("a", "b")  # two chunks each, one saved
    assert sorted(store.saves) == [("e/p/a", 1), ("e/p/b", 1)]

    clock.now += history_writer.SAVE_EVERY_S - 1
    await runs.log("b")  # "a" is not due yet, "b" not either
    await writer.save_idle()
    assert len(store.saves) == 2

    clock.now += 2
    await runs.log("b")  # due: "b" as it logs, "a" with it though it sent nothing
    assert sorted(store.saves[2:]) == [("e/p/a", 2), ("e/p/b", 4)]

    await runs.log("a")
    clock.now += history_writer.SAVE_EVERY_S
    await writer.save_idle()  # nothing fetched: the idle hook saves what waits
    assert store.saves[4:] == [("e/p/a", 3)]
    await writer.save_idle()
    assert len(store.saves) == 5  # nothing left to save


async def test_forgetting_the_partitions_drops_what_waited_unsaved(clock: Clock) -> None:
    store = FakeHistory()
    writer = HistoryWriter(store)
    runs = Runs(writer)
    await runs.log("a")
    await runs.log("a")
    writer.forget()  # the partitions went to another member: it is theirs to save now
    clock.now += history_writer.SAVE_EVERY_S
    await writer.save_idle()
    assert store.saves == [("e/p/a", 1)]
