"""Every service answers through the one gateway; readiness follows the database."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.e2e.conftest import cairn_dev

SERVICES = ("ingest", "manifest", "storage", "registry", "automations")


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("probe", ["healthz", "readyz"])
async def test_each_service_is_healthy_and_ready_through_the_gateway(
    http: httpx.AsyncClient, service: str, probe: str
) -> None:
    response = await http.get(f"/{service}/{probe}")

    assert response.status_code == 200, response.text


async def test_metrics_are_exposed_for_prometheus(http: httpx.AsyncClient) -> None:
    response = await http.get("/ingest/metrics")

    assert response.status_code == 200
    assert "cairn_http_request_duration_seconds" in response.text


async def wait_for_status(
    http: httpx.AsyncClient, status: int, deadline_s: float
) -> dict[str, float]:
    """Polls every service's /readyz until each answers ``status``; returns when each did."""
    started = time.monotonic()
    reached: dict[str, float] = {}
    while len(reached) < len(SERVICES) and time.monotonic() - started < deadline_s:
        for service in SERVICES:
            if service not in reached:
                response = await http.get(f"/{service}/readyz")
                if response.status_code == status:
                    reached[service] = time.monotonic() - started
        await asyncio.sleep(0.1)
    return reached


async def test_readiness_turns_503_while_the_database_is_down_and_recovers(
    http: httpx.AsyncClient,
) -> None:
    cairn_dev("down", "mongo")
    try:
        down = await wait_for_status(http, 503, deadline_s=10)
        body = (await http.get("/manifest/readyz")).json()
    finally:
        cairn_dev("up", "mongo")
    up = await wait_for_status(http, 200, deadline_s=60)

    assert set(down) == set(SERVICES), f"still ready: {set(SERVICES) - set(down)}"
    assert max(down.values()) <= 5.0, down
    assert body["checks"]["mongodb"]["ok"] is False
    assert set(up) == set(SERVICES), f"not ready again: {set(SERVICES) - set(up)}"
    assert (await http.get("/healthz")).status_code == 200  # the gateway itself
