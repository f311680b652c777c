"""The spool: batches on disk, one file per batch, written atomically, read back in order.

A file is ``<seq>-<kind>-<rows>-<batch id>.json.gz`` in the spool directory and holds the
exact request body. Acknowledged files are deleted, or renamed ``*.acked`` when the spool keeps
them (an offline run's directory is the run's record; ``cairn sync --include-synced`` sends
them again under the same batch ids, which the server stores once). Earlier SDKs wrote history
as NDJSON (``.ndjson.gz``): such a file is read as the same rows in columns, under the same
batch id, so ``cairn sync`` still sends it, and once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import zlib
from collections.abc import Callable
from pathlib import Path

from cairn.runs.batch import GZIP_WBITS, KINDS, Batch, Kind, history_body

SUFFIX = ".json.gz"
ACKED = ".acked"
_NAME = re.compile(
    r"^(?P<seq>\d{10})-(?P<kind>[a-z]+)-(?P<rows>\d+)-(?P<batch_id>[0-9a-f-]{36})"
    r"\.(?P<ndjson>nd)?json\.gz(?P<acked>\.acked)?$"
)


def file_name(batch: Batch) -> str:
    return f"{batch.seq:010d}-{batch.kind}-{batch.rows}-{batch.batch_id}{SUFFIX}"


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary name, fsync, then rename: a crash leaves the old file or the new."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


class SpoolFullError(Exception):
    """The spool reached its size bound."""


class Spool:
    """Pending batches in ``directory``, oldest (lowest ``seq``) first.

    ``max_bytes`` bounds the pending bytes (None: unbounded); ``prepare`` runs before the
    first write, so an online run's directory exists only once something had to be spooled.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int | None = None,
        keep_acked: bool = False,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.keep_acked = keep_acked
        self._prepare = prepare
        self._pending: dict[int, str] = {}  # seq -> file name
        self._sizes: dict[int, int] = {}
        self._acked: dict[int, str] = {}
        self._head: Batch | None = None
        self.bytes = 0
        self._scan()

    def _scan(self) -> None:
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if match is None:
                continue
            seq = int(match["seq"])
            if match["acked"]:
                self._acked[seq] = path.name
            else:
                self._pending[seq] = path.name
                self._sizes[seq] = path.stat().st_size
                self.bytes += self._sizes[seq]

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def next_seq(self) -> int:
        """The seq after every batch this spool has seen (pending or acknowledged)."""
        return max([*self._pending, *self._acked], default=-1) + 1

    def acked_seqs(self) -> set[int]:
        return set(self._acked)

    def pending_rows(self) -> int:
        """Records in the pending batches (from their file names)."""
        return sum(_rows(name) for name in self._pending.values())

    def put(self, batch: Batch, *, force: bool = False) -> None:
        """Write ``batch``; raises ``SpoolFullError`` when it would pass the bound (unless
        ``force``: what is unsent at exit is always written)."""
        size = len(batch.body)
        if (
            not force
            and self.max_bytes is not None
            and self._pending
            and self.bytes + size > self.max_bytes
        ):
            raise SpoolFullError
        if self._prepare is not None:
            self._prepare()
            self._prepare = None
        self.directory.mkdir(parents=True, exist_ok=True)
        name = file_name(batch)
        write_atomically(self.directory / name, batch.body)
        self._pending[batch.seq] = name
        self._sizes[batch.seq] = size
        self.bytes += size

    def head(self) -> Batch | None:
        """The oldest pending batch, read from disk (and kept until acknowledged)."""
        if not self._pending:
            return None
        seq = min(self._pending)
        if self._head is None or self._head.seq != seq:
            self._head = self._load(self._pending[seq])
        return self._head

    def pending(self) -> list[Batch]:
        """Every pending batch, in order (``cairn sync``)."""
        return [self._load(self._pending[seq]) for seq in sorted(self._pending)]

    def acked(self) -> list[Batch]:
        return [self._load(self._acked[seq]) for seq in sorted(self._acked)]

    def ack(self, batch: Batch) -> None:
        """The server has ``batch``: delete its file, or mark it ``.acked``."""
        name = self._pending.pop(batch.seq, None)
        if name is None:
            return
        self.bytes -= self._sizes.pop(batch.seq)
        if self._head is not None and self._head.seq == batch.seq:
            self._head = None
        path = self.directory / name
        if self.keep_acked:
            path.replace(path.with_name(name + ACKED))
            self._acked[batch.seq] = name + ACKED
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _load(self, name: str) -> Batch:
        match = _NAME.match(name)
        if match is None:  # pragma: no cover - only matching names are indexed
            raise ValueError(f"not a spool file: {name}")
        kind = match["kind"]
        if kind not in KINDS:
            raise ValueError(f"unknown batch kind {kind!r} in {self.directory / name}")
        body = (self.directory / name).read_bytes()
        if match["ndjson"] and kind == "history":
            text = zlib.decompress(body, GZIP_WBITS)
            body = history_body([json.loads(line) for line in text.splitlines() if line.strip()])
        rows = int(match["rows"])
        return Batch(_kind(kind), int(match["seq"]), match["batch_id"], body, rows)


def _rows(name: str) -> int:
    match = _NAME.match(name)
    return int(match["rows"]) if match else 0


def _kind(text: str) -> Kind:
    for kind in KINDS:
        if kind == text:
            return kind
    raise ValueError(text)  # pragma: no cover
