"""Liveness and readiness.

``/healthz`` says the process serves HTTP. ``/readyz`` says its dependencies answer: a
background loop probes each one every ``interval`` seconds with a short timeout, so an outage
shows within a few seconds and a probe never makes a request wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

Probe = Callable[[], Awaitable[object]]


@dataclass
class CheckState:
    ok: bool = False
    error: str = "not checked yet"
    checked_at: float = 0.0


class Readiness:
    def __init__(self, *, interval_s: float = 1.0, timeout_s: float = 2.0) -> None:
        self._probes: dict[str, Probe] = {}
        self._state: dict[str, CheckState] = {}
        self._interval = interval_s
        self._timeout = timeout_s

    def add(self, name: str, probe: Probe) -> None:
        self._probes[name] = probe
        self._state[name] = CheckState()

    @property
    def ready(self) -> bool:
        return all(state.ok for state in self._state.values())

    def report(self) -> dict[str, dict[str, object]]:
        return {
            name: {"ok": s.ok, **({"error": s.error} if not s.ok else {})}
            for name, s in self._state.items()
        }

    async def check_all(self) -> None:
        await asyncio.gather(*(self._check(name, probe) for name, probe in self._probes.items()))

    async def _check(self, name: str, probe: Probe) -> None:
        state = self._state[name]
        try:
            await asyncio.wait_for(probe(), self._timeout)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
            if state.ok or state.checked_at == 0.0:
                log.warning("dependency.down", dependency=name, error=repr(exc))
            state.ok, state.error = False, f"{type(exc).__name__}: {exc}"[:300]
        else:
            if not state.ok and state.checked_at:
                log.info("dependency.up", dependency=name)
            state.ok, state.error = True, ""
        state.checked_at = time.monotonic()

    async def run(self) -> None:
        while True:
            await self.check_all()
            await asyncio.sleep(self._interval)

    async def context(self, _app: web.Application) -> AsyncIterator[None]:
        """A ``cleanup_ctx`` that runs the probe loop for the app's lifetime."""
        await self.check_all()
        task = asyncio.create_task(self.run(), name="readiness")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def readyz_handler(readiness: Readiness) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def readyz(_request: web.Request) -> web.Response:
        ready = readiness.ready
        return web.json_response(
            {"status": "ready" if ready else "unavailable", "checks": readiness.report()},
            status=200 if ready else 503,
        )

    return readyz
