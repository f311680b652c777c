"""Polling for readiness: retry a real protocol check until it passes, the process dies, or a
deadline passes; never a fixed sleep. Failures name the log file and show its last lines."""

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from cairn_dev import process
from cairn_dev.errors import CairnDevError


class NotReadyError(Exception):
    """A readiness check did not pass yet; the message says why (shown if the deadline passes)."""


def wait_ready(
    name: str,
    check: Callable[[], None],
    *,
    timeout: float,
    pid: int,
    match: str,
    proc: subprocess.Popen[bytes] | None,
    log_file: Path,
    log_offset: int = 0,
) -> float:
    """Run `check` until it stops raising NotReadyError; returns the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    delay = 0.05
    last = "no answer yet"
    while True:
        try:
            check()
        except NotReadyError as exc:
            last = str(exc) or last
        else:
            return time.monotonic() - started
        code = proc.poll() if proc is not None else None
        if code is not None or not process.is_alive(pid, match):
            status = f"with status {code}" if code is not None else "unexpectedly"
            raise CairnDevError(
                f"{name} exited {status} while starting. Its log {log_file} ends with:\n"
                f"{process.read_from(log_file, log_offset)}"
            )
        if time.monotonic() >= deadline:
            raise CairnDevError(
                f"{name} was not ready after {timeout:.0f}s (last check: {last}). "
                f"Its log {log_file} ends with:\n{process.read_from(log_file, log_offset)}"
            )
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.5)


def check_once(check: Callable[[], None]) -> str | None:
    """None if `check` passes now, else why not (for `status`)."""
    try:
        check()
    except NotReadyError as exc:
        return str(exc) or "not ready"
    return None


def http_get(url: str, *, timeout: float = 2.0) -> tuple[int, bytes]:
    """Status and body of a GET; NotReadyError if nothing answers."""
    request = urllib.request.Request(url, headers={"User-Agent": "cairn-dev"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, urllib.error.URLError) as exc:
        raise NotReadyError(f"GET {url}: {exc}") from exc


def expect_http_200(url: str) -> Callable[[], None]:
    def check() -> None:
        status, body = http_get(url)
        if status != 200:
            raise NotReadyError(f"GET {url} answered {status}: {body[:200]!r}")

    return check
