"""Detached server processes: start in their own session, find them again, stop their group.

Only the stdlib: a pid is trusted only while /proc/<pid>/cmdline still contains the program we
started (pids get reused) and the process is not a zombie (a container's init may never reap).
"""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

_PROC = Path("/proc")
# A log this large when its component starts moves aside to ``<name>.1`` (replacing the one
# before): a day of load tests wrote 250 MB to ingest's alone, and `down --purge` keeps logs.
ROTATE_LOG_BYTES = 64 * 1024 * 1024


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def write_pid(pid_file: Path, pid: int) -> None:
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = pid_file.with_name(f".{pid_file.name}.tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(pid_file)


def _state_and_pgrp(pid: int) -> tuple[str, int] | None:
    """(state letter, process group) from /proc/<pid>/stat, or None if the pid is gone."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0], int(fields[2])


def cmdline(pid: int) -> str:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def is_alive(pid: int, match: str) -> bool:
    """True if `pid` runs and is still the program whose cmdline contains `match`."""
    info = _state_and_pgrp(pid)
    if info is None or info[0] in {"Z", "X"}:
        return False
    return match in cmdline(pid)


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    members = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        info = _state_and_pgrp(int(entry.name))
        if info is not None and info[1] == pgid and info[0] not in {"Z", "X"}:
            members.append(int(entry.name))
    return members


def spawn(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_file: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """Start `argv` in a new session with output appended to `log_file`.

    Returns the process and the log offset where this run's output begins (to show on failure).
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    rotate(log_file)
    with log_file.open("ab") as log:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        log.write(f"\n----- cairn-dev {stamp}: {' '.join(argv)}\n".encode())
        log.flush()
        offset = log.tell()
        # A new session: Ctrl-C in the terminal does not reach it, and `down` can signal the
        # whole group (nginx workers, a JVM's helpers) through the leader's pid.
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, offset


def rotate(log_file: Path, limit: int = ROTATE_LOG_BYTES) -> None:
    """Move ``log_file`` to ``<name>.1`` if it holds ``limit`` bytes or more."""
    with contextlib.suppress(FileNotFoundError):
        if log_file.stat().st_size >= limit:
            log_file.replace(log_file.with_name(f"{log_file.name}.1"))


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if _state_and_pgrp(pid) is not None and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our own child (otherwise init does it)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _wait_gone(pid: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        _reap(pid)
        if not _group_members(pid) and not is_alive(pid, ""):
            return True
        time.sleep(0.05)
    return False


def stop(pid: int, *, timeout: float = 20.0) -> str:
    """SIGTERM the process group, wait up to `timeout`, then SIGKILL. Returns how it ended."""
    _signal_group(pid, signal.SIGTERM)
    if _wait_gone(pid, time.monotonic() + timeout):
        return "stopped"
    _signal_group(pid, signal.SIGKILL)
    for member in _group_members(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(member, signal.SIGKILL)
    _wait_gone(pid, time.monotonic() + 5.0)
    return f"killed (did not exit {timeout:.0f}s after SIGTERM)"


def kill(pid: int, *, timeout: float = 5.0) -> bool:
    """SIGKILL the process group at once (a crash, for tests); True once it is gone."""
    _signal_group(pid, signal.SIGKILL)
    return _wait_gone(pid, time.monotonic() + timeout)


def read_from(log_file: Path, offset: int, max_lines: int = 30) -> str:
    """The last `max_lines` lines written to `log_file` after `offset`."""
    try:
        with log_file.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log file)"
    return "\n".join(text.splitlines()[-max_lines:]) or "(nothing: the log is empty)"
