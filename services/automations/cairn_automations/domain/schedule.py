"""The retry schedule and the verdict on each attempt (Standard Webhooks' recommendations).

``schedule[i]`` is the delay before attempt ``i + 1`` of a round, counted from the previous
attempt: the default is now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. A round ends
with the delivery delivered, or dead after its last attempt; a redelivery starts a new round.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"  # every attempt of the round failed
    GONE = "gone"  # 410: the receiver asks us to stop; its integration gets disabled


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    next_attempt_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt got: an HTTP status, or an error before or instead of one."""

    status: int | None
    retry_after: str | None = None  # the Retry-After header, as sent
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


MAX_RETRY_AFTER_S = 24 * 3600.0


def judge(
    result: AttemptResult,
    *,
    attempts_in_round: int,
    schedule: Sequence[float],
    now: datetime,
    jitter: float = 0.0,
    rand: Callable[[], float] = lambda: 0.5,
) -> Outcome:
    """The verdict after attempt number ``attempts_in_round`` (1-based) of the round."""
    if result.succeeded:
        return Outcome(Verdict.DELIVERED)
    if result.status == 410:
        return Outcome(Verdict.GONE, reason="the receiver answered 410 Gone")
    if attempts_in_round >= len(schedule):
        return Outcome(Verdict.DEAD, reason=f"all {len(schedule)} attempts failed")
    delay = jittered(schedule[attempts_in_round], jitter, rand)
    if result.status is not None and (result.status == 429 or result.status >= 500):
        delay = max(delay, parse_retry_after(result.retry_after, now) or 0.0)
    return Outcome(Verdict.RETRY, next_attempt_at=now + timedelta(seconds=delay))


def jittered(delay: float, jitter: float, rand: Callable[[], float]) -> float:
    """``delay`` spread by ±``jitter`` (a fraction), so retries of many deliveries spread out."""
    if delay <= 0 or jitter <= 0:
        return max(delay, 0.0)
    return delay * (1 + jitter * (2 * rand() - 1))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta-seconds or HTTP-date), capped at a day."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)
