"""Waiting for a dependency at start-up, with backoff and a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")


async def until_available(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    retry_on: tuple[type[BaseException], ...],
    deadline_s: float = 60.0,
) -> T:
    """Call ``attempt`` until it succeeds; re-raise its error once ``deadline_s`` has passed."""
    give_up = time.monotonic() + deadline_s
    delay = 0.25
    while True:
        try:
            return await attempt()
        except retry_on as exc:
            if time.monotonic() + delay > give_up:
                raise
            log.warning("dependency.waiting", dependency=what, error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
