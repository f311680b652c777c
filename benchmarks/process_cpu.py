"""CPU seconds of the local stack's processes, read from /proc: on a small machine the
benchmark, the services, Kafka, FerretDB and MinIO share the same cores, so the benchmarks
report what each one spent beside their timings."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

TICKS_S = os.sysconf("SC_CLK_TCK")


def stack_pids(home: Path, extra: Sequence[str] = ()) -> dict[str, int]:
    """The stack's processes by name (cairn-dev's pid files), plus ``NAME=PID`` items."""
    pids: dict[str, int] = {}
    for pid_file in sorted((home / "run").glob("*.pid")):
        pids[pid_file.stem] = int(pid_file.read_text().split()[0])
    for item in extra:
        name, _, pid = item.partition("=")
        pids[name] = int(pid)
    return pids


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """utime + stime of each process and its live descendants (nginx's workers do the
    gateway's work), plus the children each has reaped so far."""
    out: dict[str, float] = {}
    for name, pid in pids.items():
        total = [_cpu_ticks(p) for p in _process_tree(pid)]
        if total and total[0] is not None:
            out[name] = sum(t for t in total if t is not None) / TICKS_S
    return out


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None  # gone
    return sum(int(v) for v in fields[11:15])


def _process_tree(pid: int) -> list[int]:
    """``pid`` first, then its live descendants."""
    tree, index = [pid], 0
    while index < len(tree):
        for task in Path(f"/proc/{tree[index]}/task").glob("*/children"):
            try:
                tree.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
        index += 1
    return tree
