"""The caller's side of ``run.log``: W&B's step and commit rules, the summary, config changes,
and ``finish`` (flush, wait until stored, mark finished, or leave the run for ``cairn sync``).

Rules, as W&B's ``run.log(data, step=None, commit=None)``:

- without ``step``, ``commit`` defaults to True: the row (with what earlier ``commit=False``
  calls accumulated) is committed at the current ``_step``, which then goes up by one;
- ``step`` above the current one commits the open row (if any) and moves to ``step``; the data
  stays open there until a later call commits it (``commit=True``, a higher step, ``finish``);
- ``step`` below the current one is ignored with a warning;
- a committed row gets ``_step``, ``_timestamp`` (Unix seconds) and ``_runtime`` (seconds
  since ``init``) and updates ``run.summary``.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cairn.errors import CairnError
from cairn.names import check_entity_name
from cairn.progress import progress_bar
from cairn.runs import transport
from cairn.runs.batch import MAX_KEY_CHARS, MAX_KEYS
from cairn.runs.rundir import RunDir, RunInfo, now_iso
from cairn.runs.sender import Sender, Update
from cairn.runs.summary import Summary
from cairn.runs.tuning import Tuning, warn
from cairn.session import Session

if TYPE_CHECKING:
    from cairn.sdk.run import Run

MODES = ("online", "offline")
STORED_WAIT_S = 60.0
SLOW_FLUSH_S = 3.0  # a finish that waits longer says so on stderr
_COPY = frozenset({dict, list})  # values a script may mutate after logging them
_STR = frozenset({str})


def _check_row(data: Mapping[str, Any]) -> bool:
    """W&B's checks of a logged dict; whether it holds values to copy (dicts, lists).

    C-level passes (``map``, ``set``, ``max``): a Python loop over the keys would cost more
    than everything else ``run.log`` does.
    """
    if type(data) is not dict and not isinstance(data, Mapping):
        raise ValueError("run.log takes a dict of values, e.g. run.log({'loss': 0.5})")
    if not data:
        return False
    if len(data) > MAX_KEYS:
        raise ValueError(f"run.log takes at most {MAX_KEYS} keys per row, not {len(data)}")
    if not _STR.issuperset(map(type, data)) or "" in data or max(map(len, data)) > MAX_KEY_CHARS:
        bad = [k for k in data if type(k) is not str or not 0 < len(k) <= MAX_KEY_CHARS]
        raise ValueError(
            f"run.log keys must be strings of 1 to {MAX_KEY_CHARS} characters: {bad[0]!r}"
        )
    return not _COPY.isdisjoint(map(type, data.values()))


def resolve_mode(mode: str | None) -> str:
    """``mode`` or ``CAIRN_MODE`` (``online`` by default)."""
    value = (mode or os.environ.get("CAIRN_MODE") or "online").strip().lower()
    if value not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {value!r}")
    return value


class RunHistory:
    """One run's history: the step counter, the open row, ``summary``, and the sender."""

    def __init__(self, sender: Sender, run_dir: RunDir, session: Session | None) -> None:
        self.summary = Summary(self._summary_changed)
        self._sender = sender
        self._queue = sender.queue
        self._wake = sender.wake
        self._batch_rows = sender.tuning.batch_rows
        self._max_queued = sender.tuning.max_queued_rows
        self._dir = run_dir
        self._session = session  # None: offline
        self._lock = threading.Lock()
        self._summary_values = self.summary._values
        self._step = 0
        self._row: dict[str, Any] | None = None
        self._start = time.time()
        self._finished = False

    @property
    def step(self) -> int:
        """The step the next committed row gets."""
        return self._step

    @property
    def directory(self) -> RunDir:
        return self._dir

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        mutable = _check_row(data)
        with self._lock:
            if self._finished:
                raise CairnError("the run has finished; start another with cairn.init()")
            if step is not None:
                if step < self._step:
                    warn(
                        f"step {step} is below the current step {self._step}: steps must "
                        f"only increase, so this data is ignored: {dict(data)!r:.200}"
                    )
                    return
                if step > self._step:
                    if self._row is not None:
                        self._commit(self._row)
                    self._step = int(step)
            elif commit is None:
                commit = True
            row = self._row
            if row is None:
                row = dict(data)
            else:
                row.update(data)
            if mutable:
                row = copy.deepcopy(row)
            if commit:
                self._commit(row)
            else:
                self._row = row

    def _commit(self, row: dict[str, Any]) -> None:
        now = time.time()
        row["_step"] = self._step
        if "_timestamp" not in row:
            row["_timestamp"] = now
        if "_runtime" not in row:
            row["_runtime"] = now - self._start
        self._row = None
        self._step += 1
        self._summary_values.update(row)
        queue = self._queue
        queue.append(row)
        if len(queue) >= self._batch_rows:
            if not self._wake.is_set():
                self._wake.set()
            if len(queue) > self._max_queued:
                self._sender.wait_for_room()

    def _summary_changed(self, record: dict[str, Any]) -> None:
        self._queue.append(Update("summary", record))

    def config_changed(self, record: dict[str, Any]) -> None:
        """``run.config`` changed after ``init``: ``{"update": {...}}`` or ``{"remove": [...]}``."""
        self._queue.append(Update("config", record))

    def finish(self, exit_code: int) -> None:
        """Commit the open row, send everything, wait until it is stored, mark the run
        finished. Never raises for the server's sake: what it could not take stays in the
        run directory for ``cairn sync``."""
        with self._lock:
            if self._finished:
                return
            if self._row is not None:
                self._commit(self._row)
            self._finished = True
        info = self._dir.info
        info.exit_code, info.finished_at = exit_code, now_iso()
        if self._session is None:
            self._finish_offline()
            return
        sender = self._sender
        try:
            flushed = self._flush_with_progress()
        except KeyboardInterrupt:
            self._leave("interrupted while sending history")
            raise
        if not flushed:
            reason = sender.problem or "the server did not take every row in time"
            self._leave(reason)
            return
        stored = True  # the writer applies rows and updates in seq order: wait for the last
        if sender.last_seq >= 0 and sender.uplink is not None:
            stored = sender.uplink.wait_stored(sender.last_seq, STORED_WAIT_S)
        sender.close()
        if not stored:
            warn("the server has every row but is still storing some: reads may lag a moment")
        try:
            transport.finish_run(
                self._session.api, _entity(info), info.project, info.run_id, exit_code
            )
        except CairnError as exc:
            self._leave(f"cannot mark the run finished ({exc})")
            return
        info.finish_sent = True
        if self._dir.path.exists() and len(sender.spool) == 0:
            shutil.rmtree(self._dir.path, ignore_errors=True)  # a drained spool: nothing to keep

    def _flush_with_progress(self) -> bool:
        """Flush with a progress bar (on a terminal), and one plain line on stderr if it takes
        a while (job logs are files)."""
        sender = self._sender
        total = sender.acked_rows + sender.pending_rows
        bar = progress_bar(total, f"cairn: sending {total:,} rows of history", unit="rows")
        shown = [sender.acked_rows]
        say_at = [time.monotonic() + SLOW_FLUSH_S]  # 0 once said

        def progress(acked: int) -> None:
            if acked > shown[0]:
                bar.update(acked - shown[0])
                shown[0] = acked
            if say_at[0] and time.monotonic() > say_at[0]:
                say_at[0] = 0.0
                print(  # noqa: T201 - the one line a job log shows
                    f"cairn: waiting for the server to take {max(0, total - acked):,} more rows "
                    f"(up to {sender.tuning.finish_timeout_s:.0f} s; Ctrl-C keeps them in "
                    f"{self._dir.path} for `cairn sync`)",
                    file=sys.stderr,
                    flush=True,
                )

        with bar:
            return sender.flush(sender.tuning.finish_timeout_s, progress)

    def _leave(self, reason: str) -> None:
        """Keep what the server lacks in the run directory, with how the run finished."""
        self._sender.close(abandon=True)
        self._dir.save()
        pending = self._sender.spool.pending_rows()
        warn(
            f"{reason}: {pending:,} record(s) and the finish are kept in {self._dir.path}; "
            f"upload them with `cairn sync {self._dir.path}`"
        )

    def _finish_offline(self) -> None:
        flushed = self._sender.flush(self._sender.tuning.finish_timeout_s)
        self._sender.close(abandon=not flushed)
        self._dir.save()
        print(  # noqa: T201 - W&B prints the same hint
            f"cairn: offline run saved in {self._dir.path}; "
            f"upload it with `cairn sync {self._dir.path}`",
            file=sys.stderr,
        )


def _entity(info: RunInfo) -> str:
    if not info.entity:  # pragma: no cover - online runs always know their entity
        raise CairnError("the run has no entity")
    return info.entity


def run_entity(session: Session, entity: str | None, mode: str) -> str:
    """``entity``, else ``CAIRN_ENTITY``, else the key's default entity; an offline run asks
    no server and may have none yet (``cairn sync`` then uses the key's default)."""
    if entity:
        return check_entity_name(entity)
    if mode == "offline":
        return (
            check_entity_name(os.environ["CAIRN_ENTITY"]) if os.environ.get("CAIRN_ENTITY") else ""
        )
    return session.default_entity()


def open_history(
    session: Session, run: Run, mode: str, config: dict[str, Any], *, tuning: Tuning | None = None
) -> RunHistory:
    """Start the sender of a run that ``init`` just started (online) or created (offline)."""
    info = RunInfo(
        run_id=run.id,
        project=run.project,
        entity=run.entity or None,
        name=run.name if run.name != run.id else "",
        job_type=run.job_type,
        config=config,
        mode=mode,
        started_at=now_iso(),
        started=mode == "online",
    )
    tuning = tuning or Tuning.from_env()
    run_dir = RunDir.new(info)
    if mode == "offline":
        run_dir.save()
        spool = run_dir.spool(keep_acked=True)
        return RunHistory(Sender(None, spool, tuning), run_dir, None)
    spool = run_dir.spool(max_bytes=tuning.spool_max_bytes)
    uplink = transport.Uplink(session.config, run.entity, run.project, run.id)
    return RunHistory(Sender(uplink, spool, tuning), run_dir, session)
