"""state.json: what each running component was started with (pid, ports, backend).

Written only under the stack lock, atomically (temp file + rename), so a reader never sees half.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Record:
    pid: int
    match: str  # a substring of /proc/<pid>/cmdline that proves the pid is still ours
    backend: str
    ports: dict[str, int] = field(default_factory=dict)
    started_at: str = ""


def load(path: Path) -> dict[str, Record]:
    try:
        raw: Any = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # a damaged state only loses sticky ports: pid files still find the processes
    records: dict[str, Record] = {}
    for name, item in (raw.get("components") or {}).items():
        try:
            records[name] = Record(
                pid=int(item["pid"]),
                match=str(item["match"]),
                backend=str(item.get("backend", "")),
                ports={str(k): int(v) for k, v in (item.get("ports") or {}).items()},
                started_at=str(item.get("started_at", "")),
            )
        except (KeyError, TypeError, ValueError):
            continue
    return records


def save(path: Path, records: dict[str, Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = {"components": {name: asdict(rec) for name, rec in sorted(records.items())}}
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
