"""The sender's knobs, from the environment, and how it warns."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from cairn.runs.batch import Limits

GIB = 1024**3


def warn(message: str) -> None:
    """A warning on stderr, as W&B's ``termwarn`` (training logs are where users look)."""
    print(f"cairn: WARNING {message}", file=sys.stderr, flush=True)  # noqa: T201


def _env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        warn(f"{name}={raw!r} is not a number; using {default}")
        return default


@dataclass(frozen=True)
class Tuning:
    """Knobs; ``from_env`` reads ``CAIRN_BATCH_INTERVAL_S`` (5), ``CAIRN_SPOOL_MAX_BYTES``
    (1 GiB), ``CAIRN_SPOOL_AFTER_S`` (5), ``CAIRN_FINISH_TIMEOUT_S`` (600) and
    ``CAIRN_ENCODER_PROCESS`` (1; 0 encodes rows in the sender thread).

    A batch goes when ``batch_rows`` wait or ``batch_interval_s`` has passed; ``finish`` sends
    at once. Five seconds keeps charts live (W&B's client posts every 15 s), and the stack
    spends about 2 ms of CPU on a request besides its rows: 600 workers sending every second
    saturated the local stack (60,000 rows/s, acknowledgements p99 1.9 s); sending every 5 s,
    it acknowledged within 180 ms (p99).
    """

    batch_rows: int = 1_000
    batch_interval_s: float = 5.0
    max_queued_rows: int = 200_000
    max_memory_batches: int = 32
    spool_after_s: float = 5.0
    spool_max_bytes: int = GIB
    finish_timeout_s: float = 600.0
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 10.0
    encoder_process: bool = True  # encode rows in a helper process (cairn.runs.encoder)
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_env(cls) -> Tuning:
        return cls(
            batch_interval_s=_env("CAIRN_BATCH_INTERVAL_S", 5.0),
            spool_max_bytes=int(_env("CAIRN_SPOOL_MAX_BYTES", GIB)),
            spool_after_s=_env("CAIRN_SPOOL_AFTER_S", 5.0),
            finish_timeout_s=_env("CAIRN_FINISH_TIMEOUT_S", 600.0),
            encoder_process=os.environ.get("CAIRN_ENCODER_PROCESS", "1") not in {"0", "false"},
        )
