"""A run's local directory, as W&B's ``wandb/run-...`` and ``wandb/offline-run-...``.

``<CAIRN_DIR or .>/cairn/offline-run-<YYYYmmdd_HHMMSS>-<run id>/`` holds an offline run;
``.../run-<time>-<id>/`` an online run's spool, made only when the server could not take
its batches. Either is uploaded by ``cairn sync DIR``::

    run.json      who the run is, whether the server knows it, how it finished
    batches/      the spool: one file per batch (see ``cairn.runs.spool``)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cairn.runs.spool import Spool, write_atomically

INFO = "run.json"
BATCHES = "batches"
FORMAT = 1


@dataclass
class RunInfo:
    """``run.json``. ``entity`` is None for an offline run started without one: ``cairn sync``
    takes the key's default entity and records it."""

    run_id: str
    project: str
    entity: str | None = None
    name: str = ""
    job_type: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    mode: str = "offline"
    started_at: str = ""
    started: bool = False  # the server has the run (its start was acknowledged)
    exit_code: int | None = None  # set by run.finish()
    finished_at: str | None = None
    finish_sent: bool = False  # the server has the finish
    format: int = FORMAT

    @property
    def path(self) -> str:
        return f"{self.entity or '?'}/{self.project}/{self.run_id}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def runs_root() -> Path:
    """``$CAIRN_DIR/cairn`` (default ``./cairn``); created only when something is written."""
    return Path(os.environ.get("CAIRN_DIR") or ".") / "cairn"


def dir_name(mode: str, run_id: str, when: datetime | None = None) -> str:
    stamp = (when or datetime.now()).strftime("%Y%m%d_%H%M%S")  # local time, as W&B's
    prefix = "offline-run" if mode == "offline" else "run"
    return f"{prefix}-{stamp}-{run_id}"


class RunDir:
    """A run directory: its ``run.json`` and its spool."""

    def __init__(self, path: Path, info: RunInfo) -> None:
        self.path = path
        self.info = info

    @classmethod
    def new(cls, info: RunInfo) -> RunDir:
        """Name a directory for a run (created by ``save`` or the spool's first write)."""
        return cls(runs_root() / dir_name(info.mode, info.run_id), info)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDir:
        """An existing run directory; ``ValueError`` when ``path`` is not one."""
        root = Path(path)
        try:
            raw = json.loads((root / INFO).read_text())
        except FileNotFoundError:
            raise ValueError(f"{root} is not a Cairn run directory (no {INFO})") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{root / INFO} is damaged: {exc}") from None
        known = set(RunInfo.__dataclass_fields__)
        info = RunInfo(**{k: v for k, v in raw.items() if k in known})
        return cls(root, info)

    def save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        text = json.dumps(asdict(self.info), indent=2, sort_keys=True, default=str)
        write_atomically(self.path / INFO, text.encode())

    def spool(self, *, max_bytes: int | None = None, keep_acked: bool = False) -> Spool:
        """The batches; the first write also saves ``run.json`` if it is not there yet."""

        def prepare() -> None:
            if not (self.path / INFO).exists():
                self.save()

        return Spool(
            self.path / BATCHES, max_bytes=max_bytes, keep_acked=keep_acked, prepare=prepare
        )
