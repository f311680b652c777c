"""``cairn sync DIR``: upload an offline run, or what an online run had to spool.

In order: start the run on the server (if it never was), send every pending batch by ``seq``
under its original batch id (the server stores a batch id once, so a sync interrupted and run
again, or ``--include-synced``, stores nothing twice), wait until the history is stored, and
mark the run finished if the script finished it. ``run.json`` records each step, and each sent
batch is renamed ``*.acked``, so a repeated sync only sends what is left.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from cairn.errors import CairnError, CommError
from cairn.names import check_entity_name, check_project_name
from cairn.progress import progress_bar
from cairn.runs import transport
from cairn.runs.batch import Batch
from cairn.runs.rundir import RunDir
from cairn.runs.transport import Backoff, Outcome
from cairn.runs.tuning import warn
from cairn.session import Session

RETRY_FOR_S = 120.0  # per batch, before giving up (a later sync resumes)


@dataclass
class SyncResult:
    path: str  # entity/project/run_id
    batches: int = 0
    rows: int = 0
    rejected_rows: int = 0
    started: bool = False  # this sync started the run on the server
    finished: bool = False  # this sync marked it finished
    exit_code: int | None = None


def sync_run_dir(
    directory: str | Path,
    session: Session,
    *,
    entity: str | None = None,
    project: str | None = None,
    include_synced: bool = False,
    retry_for_s: float | None = None,
) -> SyncResult:
    """Upload the run in ``directory``; raises ``CairnError`` if the server refuses it or stays
    unreachable (what was sent stays sent: run it again)."""
    run_dir = RunDir.open(directory)
    info = run_dir.info
    moved = (entity and entity != info.entity) or (project and project != info.project)
    if info.started and moved:
        raise CairnError(f"{info.path} is already on the server; it cannot move")
    info.entity = check_entity_name(entity or info.entity or session.default_entity())
    info.project = check_project_name(project or info.project)
    result = SyncResult(path=info.path, exit_code=info.exit_code)
    if not info.started:
        session.ensure_project(info.entity, info.project)
        body = {
            "run_id": info.run_id,
            "name": info.name,
            "job_type": info.job_type,
            "config": info.config,
        }
        transport.start_run(session.api, info.entity, info.project, body)
        info.started = result.started = True
        run_dir.save()
    spool = run_dir.spool(keep_acked=True)
    batches = spool.pending()
    if include_synced:
        batches = sorted([*spool.acked(), *batches], key=lambda batch: batch.seq)
    uplink = transport.Uplink(session.config, info.entity, info.project, info.run_id)
    last_seq = -1
    try:
        total = sum(batch.rows for batch in batches if batch.kind == "history")
        with progress_bar(total, f"cairn: syncing {info.path}", unit="rows") as bar:
            for batch in batches:
                outcome = _send(uplink, batch, retry_for_s or RETRY_FOR_S)
                if outcome is Outcome.REJECTED:
                    result.rejected_rows += batch.rows
                else:
                    last_seq = max(last_seq, batch.seq)
                    if batch.kind == "history":
                        result.rows += batch.rows
                result.batches += 1
                spool.ack(batch)
                bar.update(batch.rows if batch.kind == "history" else 0)
        if last_seq >= 0 and not uplink.wait_stored(last_seq, 60.0):
            warn(f"{info.path}: the server has every row but is still storing some")
    finally:
        uplink.close()
    if info.exit_code is not None and not info.finish_sent:
        transport.finish_run(session.api, info.entity, info.project, info.run_id, info.exit_code)
        info.finish_sent = result.finished = True
        run_dir.save()
    return result


def _send(uplink: transport.Uplink, batch: Batch, retry_for_s: float) -> Outcome:
    backoff = Backoff()
    deadline = time.monotonic() + retry_for_s
    while True:
        result = uplink.send(batch)
        if result.outcome is Outcome.ACK:
            return Outcome.ACK
        if result.outcome is Outcome.REJECTED:
            warn(f"the server refused batch {batch.seq} ({batch.rows} rows): {result.message}")
            return Outcome.REJECTED
        if result.outcome is Outcome.FATAL or time.monotonic() > deadline:
            raise CommError(
                f"batch {batch.seq} was not sent: {result.message}", status=result.status
            )
        time.sleep(backoff.next(result.retry_after_s))
