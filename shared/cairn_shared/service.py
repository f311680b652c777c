"""Running a service process: settings from the environment, logging, then the app until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import structlog
from aiohttp import web

from cairn_shared.kafka.consumer import ConsumerRunner
from cairn_shared.logging import configure_logging
from cairn_shared.settings import Settings

log = structlog.get_logger(__name__)


def serve(service: str, build: Callable[[Settings], web.Application]) -> None:
    """The ``main()`` of every service. SIGTERM stops accepting connections, lets in-flight
    requests finish, then runs each ``cleanup_ctx`` in reverse (consumers commit and stop)."""
    settings = Settings(service=service)  # everything else from CAIRN_* variables
    configure_logging(settings)
    app = build(settings)
    log.info("service.starting", port=settings.http_port)
    web.run_app(
        app,
        host=settings.http_host,
        port=settings.http_port,
        shutdown_timeout=settings.shutdown_timeout_s,
        access_log=None,
        print=None,
    )


def consumer_context(
    make: Callable[[web.Application], ConsumerRunner],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` that runs a consumer group member beside the HTTP server.

    If the consumer loop dies, the process exits so that its supervisor restarts it: a silent,
    half-alive service would stop handling events while still answering health checks.
    """

    async def context(app: web.Application) -> AsyncIterator[None]:
        runner = make(app)
        task = asyncio.create_task(runner.run(), name="consumer")
        task.add_done_callback(_exit_if_crashed)
        yield
        task.remove_done_callback(_exit_if_crashed)
        runner.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context


def _exit_if_crashed(task: asyncio.Task[None]) -> None:
    if task.cancelled() or task.exception() is None:
        return
    log.error("consumer.crashed", error=repr(task.exception()))
    raise SystemExit(70)  # EX_SOFTWARE
