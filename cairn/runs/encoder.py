"""Encoding rows off the training process's GIL.

Turning a row into JSON costs the sender thread about ten times what ``run.log`` itself costs
(formatting floats dominates), and a thread holding the GIL for that slows a training loop that
runs Python. So the sender hands each batch of rows to a helper process, ``python -P
cairn/runs/batch.py`` (stdlib only, started on first use, ended at EOF), as ``marshal`` bytes
(C speed, about 0.5 µs a row) and gets the gzip bodies back. Rows marshal cannot carry
(numpy, torch values...), small batches, a missing interpreter or a failed helper fall back to
encoding in the thread: the bytes are the same either way.
"""

from __future__ import annotations

import marshal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import astuple
from typing import IO, Any

from cairn.runs import batch
from cairn.runs.batch import Limits, Packed, pack
from cairn.runs.tuning import warn

MIN_ROWS = 64  # below this, the round trip costs more than encoding here


class Encoder:
    """``pack`` through the helper process when it pays, in this thread otherwise."""

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled and bool(sys.executable)
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def __call__(self, rows: Sequence[dict[str, Any]], limits: Limits) -> Packed:
        if not self._enabled or len(rows) < MIN_ROWS:
            return pack(rows, limits)
        try:
            payload = marshal.dumps((list(rows), astuple(limits)))
        except ValueError:  # a value marshal cannot carry: encode here (same bytes)
            return pack(rows, limits)
        try:
            with self._lock:
                answer = self._exchange(payload)
        except (OSError, EOFError, ValueError) as exc:
            self._give_up(f"the encoder process failed ({exc!r}); encoding in this process")
            return pack(rows, limits)
        if len(answer) == 2 and answer[0] == "error":
            return pack(rows, limits)  # the helper could not: neither side loses the rows
        bodies, problems = answer
        return [(bytes(body), int(count)) for body, count in bodies], list(problems)

    def _exchange(self, payload: bytes) -> Any:
        process = self._start()
        stdin, stdout = _pipe(process.stdin), _pipe(process.stdout)
        stdin.write(len(payload).to_bytes(8, "big") + payload)
        stdin.flush()
        header = stdout.read(8)
        if len(header) < 8:
            raise EOFError("the encoder process ended")
        size = int.from_bytes(header, "big")
        body = stdout.read(size)
        if len(body) < size:
            raise EOFError("the encoder process ended mid-answer")
        return marshal.loads(body)  # noqa: S302 - from our own child process

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-P", batch.__file__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        return self._process

    def _give_up(self, message: str) -> None:
        if self._enabled:
            warn(message)
        self._enabled = False
        self.close()

    def close(self) -> None:
        """End the helper process (it also ends by itself when this process does)."""
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    if stream is None:  # pragma: no cover - both pipes are always requested
        raise OSError("the encoder process has no pipe")
    return stream
