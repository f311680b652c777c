"""The background sender: ``run.log`` rows from a deque to the server, in order, never lost.

The caller's thread only appends to ``queue`` (and sets ``wake`` once ``batch_rows`` rows wait).
This daemon thread wakes every ``batch_interval_s`` (or when woken), cuts what waits into
batches, and sends them one at a time in ``seq`` order, retrying with backoff and jitter (a
429's ``Retry-After`` is a floor). Batches live in memory while the server keeps up; when it
has failed for ``spool_after_s``, when it is slow (more than ``max_memory_batches`` wait), or
when its key is refused, they go to the spool on disk, and while the spool holds anything every
new batch goes behind it, so the order never changes. When the spool reaches its bound the
sender warns once and stops taking rows: ``run.log`` then blocks once ``max_queued_rows`` wait,
as W&B's does. Nothing is dropped but a batch the server rejects as invalid, and that is
reported. An offline run's batches all go to its directory.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from cairn.runs.batch import Batch, Kind, Numbering, history_batches, update_batch
from cairn.runs.encoder import Encoder
from cairn.runs.spool import Spool, SpoolFullError
from cairn.runs.transport import Backoff, Outcome, Uplink
from cairn.runs.tuning import Tuning, warn


class Update:
    """A summary or config change, queued between rows so it keeps its place."""

    __slots__ = ("kind", "record")

    def __init__(self, kind: Kind, record: dict[str, Any]) -> None:
        self.kind, self.record = kind, record


class Flush:
    """Set once everything queued before it is acknowledged (or, offline, written)."""

    __slots__ = ("done", "target")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.target = -1


class Sender:
    """One run's sender thread. ``uplink`` None: an offline run (everything to ``spool``)."""

    def __init__(
        self, uplink: Uplink | None, spool: Spool, tuning: Tuning, *, first_seq: int = 0
    ) -> None:
        self.queue: deque[Any] = deque()
        self.wake = threading.Event()
        self.tuning = tuning
        self.spool = spool
        self.acked_rows = 0  # history rows the server acknowledged (or, offline, written)
        self.rejected_rows = 0
        self.last_seq = -1  # of the last acknowledged batch (history, summary or config)
        self.dead = False  # the server refused the key or access: only the spool is left
        self.problem = ""
        self.uplink = uplink
        self._numbering = Numbering(first_seq)
        self._encoder = Encoder(tuning.encoder_process)
        self._memory: deque[Batch] = deque()
        self._flushes: list[Flush] = []
        self._formed = 0  # records taken from the queue
        self._settled = 0  # records acknowledged, rejected or (offline) written
        self._spooling = False
        self._failing_since: float | None = None
        self._next_attempt = 0.0
        self._backoff = Backoff(tuning.backoff_initial_s, tuning.backoff_max_s)
        self._room = threading.Event()
        self._stopping = False
        self._abandoning = False
        self._said: set[str] = set()
        self._thread = threading.Thread(target=self._main, name="cairn-history", daemon=True)
        self._thread.start()

    # The caller's side.

    def wait_for_room(self) -> None:
        """Block ``run.log`` while ``max_queued_rows`` wait (the spool is full, server down)."""
        self.wake.set()
        while len(self.queue) > self.tuning.max_queued_rows and self._thread.is_alive():
            self._room.clear()
            self._room.wait(0.1)

    def flush(self, timeout_s: float, on_progress: Any = None) -> bool:
        """Wait until everything queued so far is acknowledged; False on timeout, or when the
        server cannot take it (refused key)."""
        marker = Flush()
        self.queue.append(marker)
        self.wake.set()
        deadline = time.monotonic() + timeout_s
        while not marker.done.wait(0.1):
            if on_progress is not None:
                on_progress(self.acked_rows)
            if self.dead or not self._thread.is_alive() or time.monotonic() > deadline:
                return False
        if on_progress is not None:
            on_progress(self.acked_rows)
        return not self.dead and self._settled >= marker.target

    def close(self, *, abandon: bool = False, timeout_s: float = 60.0) -> None:
        """Stop the thread; ``abandon`` first writes whatever is unsent to the spool."""
        self._abandoning = abandon
        self._stopping = True
        self.wake.set()
        self._thread.join(timeout_s)
        self._encoder.close()
        if self.uplink is not None:
            self.uplink.close()

    @property
    def pending_rows(self) -> int:
        """Rows not yet acknowledged (queued, in memory or spooled), roughly."""
        return max(0, self._formed - self._settled) + len(self.queue)

    # The thread.

    def _main(self) -> None:
        try:
            while True:
                self.wake.wait(self._timeout())
                self.wake.clear()
                self._collect(force=self._abandoning)
                if self._abandoning:
                    self._spill(force=True)
                    return
                self._pump()
                self._settle_flushes()
                if self._stopping and not self.queue and not self._outstanding():
                    return
        except Exception as exc:  # noqa: BLE001 - keep what can be kept, and say so
            self.problem = f"the history sender failed: {exc!r}"
            warn(self.problem)
            self.dead = True
            try:
                self._collect(force=True)
                self._spill(force=True)
            except Exception as again:  # noqa: BLE001 - reported, nothing else to do
                warn(f"rows still queued could not be spooled: {again!r}")
        finally:
            self._room.set()
            for marker in self._flushes:
                marker.done.set()

    def _timeout(self) -> float:
        if self._stopping:
            return 0.0 if self._abandoning or not self._outstanding() else 0.05
        wait = self.tuning.batch_interval_s
        if self._outstanding() and not self.dead:
            wait = min(wait, max(0.0, self._next_attempt - time.monotonic()))
        return wait

    def _outstanding(self) -> bool:
        return bool(self._memory) or (self.uplink is not None and len(self.spool) > 0)

    def _collect(self, *, force: bool = False) -> None:
        rows: list[dict[str, Any]] = []
        queue, chunk = self.queue, self.tuning.limits.max_rows
        while queue:
            if not force and len(self._memory) >= self.tuning.max_memory_batches:
                self._spill()  # the server is slow or away: the disk takes the excess
                if len(self._memory) >= self.tuning.max_memory_batches:
                    break  # the spool is full: rows stay queued (run.log blocks past a bound)
            item = queue.popleft()
            if type(item) is dict:
                rows.append(item)
                if len(rows) >= chunk:
                    self._form(rows)
                    rows = []
                continue
            self._form(rows)
            rows = []
            if isinstance(item, Update):
                self._formed += 1
                self._add(update_batch(item.kind, item.record, self._numbering))
            elif isinstance(item, Flush):
                item.target = self._formed
                self._flushes.append(item)
        self._form(rows)
        self._room.set()

    def _form(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self._formed += len(rows)
        batches, problems = history_batches(
            rows, self.tuning.limits, self._numbering, self._encoder
        )
        lost = len(rows) - sum(batch.rows for batch in batches)
        if lost:
            self._settled += lost
            self.rejected_rows += lost
            warn(f"{lost} row(s) cannot be stored and were left out: {'; '.join(problems[:3])}")
        for batch in batches:
            self._add(batch)

    def _add(self, batch: Batch) -> None:
        if self.uplink is None:
            try:
                self.spool.put(batch, force=True)
            except OSError as exc:
                self._lost(batch, f"cannot write {self.spool.directory}: {exc}")
                return
            self._done(batch)
            return
        self._memory.append(batch)
        if self._spooling or len(self.spool) or len(self._memory) > self.tuning.max_memory_batches:
            self._spill()

    def _spill(self, *, force: bool = False) -> None:
        """Memory to the spool, oldest first (the spool always holds the oldest batches)."""
        while self._memory:
            try:
                self.spool.put(self._memory[0], force=force)
            except SpoolFullError:
                self._say_once(
                    "full",
                    f"the spool {self.spool.directory} is full ({self.spool.bytes:,} bytes, "
                    "CAIRN_SPOOL_MAX_BYTES): run.log will block until the server takes rows",
                )
                return
            except OSError as exc:
                self._say_once("disk", f"cannot spool to {self.spool.directory}: {exc}")
                return
            self._memory.popleft()

    def _pump(self) -> None:
        while self.uplink is not None and not self.dead and not self._abandoning:
            now = time.monotonic()
            if now < self._next_attempt:
                return
            spooled = len(self.spool) > 0
            batch = self.spool.head() if spooled else (self._memory[0] if self._memory else None)
            if batch is None:
                return
            result = self.uplink.send(batch)
            if result.outcome is Outcome.RETRY:
                self._failing_since = self._failing_since or now
                self._next_attempt = now + self._backoff.next(result.retry_after_s)
                if not self._spooling and now - self._failing_since >= self.tuning.spool_after_s:
                    self._spooling = True
                    warn(
                        f"{result.message}; spooling to {self.spool.directory} and retrying "
                        "(rows are sent once the server is back, or with `cairn sync DIR`)"
                    )
                    self._spill()
                return
            if result.outcome is Outcome.FATAL:
                self.dead, self.problem = True, result.message
                warn(f"{result.message}: rows go to {self.spool.directory} for `cairn sync`")
                self._spooling = True
                self._spill(force=True)
                return
            if result.outcome is Outcome.REJECTED:
                self._lost(batch, result.message)
            else:
                self._done(batch)
            if spooled:
                self.spool.ack(batch)
            else:
                self._memory.popleft()
            self._recovered()

    def _recovered(self) -> None:
        self._failing_since = None
        self._backoff.reset()
        if self._spooling:
            self._spooling = False
            self._said.discard("full")
            warn("the server is reachable again: sending the spooled rows")
        if self._memory and len(self.spool):
            self._spill()  # held back by a full spool: behind what it holds, in order

    def _done(self, batch: Batch) -> None:
        self._settled += batch.rows
        self.last_seq = max(self.last_seq, batch.seq)
        if batch.kind == "history":
            self.acked_rows += batch.rows

    def _lost(self, batch: Batch, reason: str) -> None:
        self._settled += batch.rows
        if batch.kind == "history":
            self.rejected_rows += batch.rows
        warn(f"the server refused a {batch.kind} batch of {batch.rows} record(s): {reason}")

    def _settle_flushes(self) -> None:
        waiting = []
        for marker in self._flushes:
            if self._settled >= marker.target:
                marker.done.set()
            else:
                waiting.append(marker)
        self._flushes = waiting

    def _say_once(self, key: str, message: str) -> None:
        if key not in self._said:
            self._said.add(key)
            warn(message)
