"""The active run, W&B's ``wandb.run``: the one run a script's top-level calls refer to."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cairn.sdk.run import Run

_lock = threading.Lock()
_active: list[Run] = []  # at most one; a list so this module never rebinds a global


def active_run() -> Run | None:
    with _lock:
        return _active[0] if _active else None


def set_active(run: Run) -> None:
    with _lock:
        _active[:] = [run]


def clear_active(run: Run) -> None:
    with _lock:
        if _active and _active[0] is run:
            _active.clear()
