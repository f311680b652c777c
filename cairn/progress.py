"""Progress bars for long operations: bytes, on stderr, silent when stderr is not a terminal."""

from __future__ import annotations

import os
import sys
import threading
from types import TracebackType

from tqdm import tqdm


class Progress:
    """A tqdm bar that worker threads may update concurrently.

    ``CAIRN_SILENT=1`` turns every bar off; otherwise a bar shows only on a terminal.
    """

    def __init__(self, total: int | None, desc: str, *, unit: str = "B") -> None:
        silent = os.environ.get("CAIRN_SILENT", "").lower() in {"1", "true", "yes"}
        self._lock = threading.Lock()
        self._bar = tqdm(
            total=total,
            desc=desc,
            unit=unit,
            unit_scale=unit == "B",
            unit_divisor=1024,
            file=sys.stderr,
            disable=True if silent else None,  # None: off when stderr is not a TTY
            leave=False,
            dynamic_ncols=True,
        )

    def update(self, n: int) -> None:
        # tqdm's counter is a plain `+=`: concurrent updates from threads could lose counts.
        with self._lock:
            self._bar.update(n)

    def add_total(self, n: int) -> None:
        """Grow the total as more work becomes known (batch after batch)."""
        with self._lock:
            self._bar.total = (self._bar.total or 0) + n
            self._bar.refresh()

    def set_description(self, desc: str) -> None:
        with self._lock:
            self._bar.set_description(desc)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def progress_bar(total: int | None, desc: str, *, unit: str = "B") -> Progress:
    return Progress(total, desc, unit=unit)
