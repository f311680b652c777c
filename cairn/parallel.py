"""Running work in threads, stopping early: the first failure (or Ctrl-C) cancels what has not
started instead of waiting for a long queue of uploads or downloads to drain."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    work: Callable[[T], R], items: Sequence[T], *, workers: int, name: str = "cairn"
) -> list[R]:
    """``[work(item) for item in items]`` in up to ``workers`` threads; raises the first error."""
    if not items:
        return []
    pool = ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix=name)
    futures: list[Future[R]] = []
    try:
        futures = [pool.submit(work, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:
                raise error
        return [future.result() for future in futures]
    finally:
        # Threads already sending finish their request; nothing new starts.
        pool.shutdown(wait=True, cancel_futures=True)
