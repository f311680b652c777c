"""Running many blocking-store calls at once, but not too many."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def bounded_map(
    fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, limit: int
) -> list[R]:
    """``fn`` over ``items``, at most ``limit`` at a time, results in order.

    The first error cancels what has not started and is raised as itself (not as an
    ``ExceptionGroup``), so the HTTP layer can map it like any other.
    """
    semaphore = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with semaphore:
            return await fn(item)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in items]
    except ExceptionGroup as errors:
        raise errors.exceptions[0] from None
    return [task.result() for task in tasks]
