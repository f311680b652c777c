"""A run's summary: what its history writer knows of the run after each stored batch.

Per key the last value and, for numbers, the min and max; the row count, the last step, the
client's highest batch number, and the bookkeeping that makes the writer exactly-once: how
many chunks (stored batches) the run has, which are numbered 0..chunks-1 so that readers find
them by ``_id`` alone, and the Kafka position of the last batch applied.

Each chunk carries its batch's ``BatchStats`` and Kafka position, so a summary saved a few
batches ago is brought up to date by applying the chunks stored after it, in order.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import bson
from bson import Binary
from cairn_shared.events.runs import RunConfigUpdated, RunHistoryLogged, RunSummaryUpdated
from cairn_shared.mongo import Document, decode_mapping, encode_mapping


@dataclass(frozen=True)
class BatchStats:
    """What one stored batch adds to its run's summary."""

    rows: int
    min_step: int
    max_step: int
    seq: int
    ordered: bool
    last: dict[str, Any]
    min: dict[str, int | float]
    max: dict[str, int | float]

    @classmethod
    def of(cls, event: RunHistoryLogged) -> BatchStats:
        return cls(
            rows=event.rows,
            min_step=event.min_step,
            max_step=event.max_step,
            seq=event.seq,
            ordered=event.ordered,
            last=event.last,
            min=event.min,
            max=event.max,
        )


@dataclass
class RunSummary:
    path: str
    entity: str
    project: str
    last: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # set after init, over the start's
    minimum: dict[str, int | float] = field(default_factory=dict)
    maximum: dict[str, int | float] = field(default_factory=dict)
    rows: int = 0
    chunks: int = 0
    last_step: int = -1
    seq: int = -1  # the highest client batch number stored
    ordered: bool = True  # every chunk's steps start at or after the previous chunk's end
    partition: int = -1  # the Kafka position of the last applied batch of this run
    offset: int = -1
    updated_at: datetime | None = None

    def applied(self, partition: int, offset: int) -> bool:
        """Whether the batch at this position is already in the summary (a redelivery)."""
        return partition == self.partition and offset <= self.offset

    def apply(self, stats: BatchStats, *, partition: int, offset: int, at: datetime) -> int:
        """Add a newly stored batch; returns the chunk number its rows are stored under."""
        chunk = self.chunks
        self.chunks += 1
        if stats.min_step < self.last_step or not stats.ordered:
            self.ordered = False
        # A batch the client numbered below one already stored arrived late: its values are
        # older, so they fill in new keys but never replace what a later batch said.
        late = stats.seq < self.seq
        for key, value in stats.last.items():
            if not late or key not in self.last:
                self.last[key] = value
        for key, low in stats.min.items():
            current = self.minimum.get(key)
            self.minimum[key] = low if current is None else min(current, low)
        for key, high in stats.max.items():
            current = self.maximum.get(key)
            self.maximum[key] = high if current is None else max(current, high)
        self.rows += stats.rows
        self.last_step = max(self.last_step, stats.max_step)
        self.seq = max(self.seq, stats.seq)
        self.skip(partition=partition, offset=offset, at=at)
        return chunk

    def set_values(
        self,
        event: RunSummaryUpdated | RunConfigUpdated,
        *,
        partition: int,
        offset: int,
        at: datetime,
    ) -> None:
        """Apply keys the script set (or deleted) in the summary or the config."""
        target = self.last if isinstance(event, RunSummaryUpdated) else self.config
        target.update(event.update)
        for key in event.remove:
            target.pop(key, None)
        self.seq = max(self.seq, event.seq)
        self.skip(partition=partition, offset=offset, at=at)

    def skip(self, *, partition: int, offset: int, at: datetime) -> None:
        """Move past a batch that needs no change (a client's retry of a stored batch)."""
        self.partition, self.offset, self.updated_at = partition, offset, at

    def copy(self) -> RunSummary:
        return copy.deepcopy(self)

    def public(self) -> dict[str, Any]:
        """The summary as W&B shows it: the last value of every key."""
        return dict(self.last)

    def to_document(self) -> Document:
        """The run's fields, and its per-key values as one BSON blob (``state``).

        FerretDB decodes a stored document field by field on every read and on every
        replace: a summary of a dozen keys cost 1.7 ms to replace and 1.0 ms to read with its
        values as subdocuments, 0.6 and 0.15 ms as one blob. Nothing filters on them inside
        the database (run filters apply in Python), so they need not be fields.
        """
        state = {
            "last": encode_mapping(self.last),
            "config": encode_mapping(self.config),
            "stats": encode_extremes(self.minimum, self.maximum),
        }
        return {
            "_id": self.path,
            "entity": self.entity,
            "project": self.project,
            "state": Binary(bson.encode(state)),
            "history_rows": self.rows,
            "chunks": self.chunks,
            "last_step": self.last_step,
            "seq": self.seq,
            "ordered": self.ordered,
            "kafka": {"partition": self.partition, "offset": self.offset},
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_document(cls, doc: Document) -> RunSummary:
        # Summaries stored before the blob kept these fields in the document itself.
        state = bson.decode(doc["state"]) if "state" in doc else doc
        minimum, maximum = decode_extremes(state.get("stats", []))
        return cls(
            path=doc["_id"],
            entity=doc["entity"],
            project=doc["project"],
            last=decode_mapping(state.get("last", [])),
            config=decode_mapping(state.get("config", [])),
            minimum=minimum,
            maximum=maximum,
            rows=doc.get("history_rows", 0),
            chunks=doc.get("chunks", 0),
            last_step=doc.get("last_step", -1),
            seq=doc.get("seq", -1),
            ordered=doc.get("ordered", True),
            partition=doc.get("kafka", {}).get("partition", -1),
            offset=doc.get("kafka", {}).get("offset", -1),
            updated_at=doc.get("updated_at"),
        )


def encode_extremes(
    minimum: Mapping[str, int | float], maximum: Mapping[str, int | float]
) -> list[Document]:
    """Per-key min and max as ``[{"k": key, "min": low, "max": high}]`` (keys stay data)."""
    return [
        {"k": key, "min": low, "max": maximum[key]}
        for key, low in minimum.items()
        if key in maximum
    ]


def decode_extremes(
    items: Iterable[Mapping[str, Any]],
) -> tuple[dict[str, int | float], dict[str, int | float]]:
    minimum: dict[str, int | float] = {}
    maximum: dict[str, int | float] = {}
    for item in items:
        minimum[item["k"]], maximum[item["k"]] = item["min"], item["max"]
    return minimum, maximum
