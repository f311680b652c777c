"""Prometheus metrics: one registry per app, so tests can build many apps in one process."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest


@dataclass(frozen=True)
class HttpMetrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram

    @classmethod
    def create(cls, service: str) -> HttpMetrics:
        registry = CollectorRegistry()
        labels = ["method", "route", "status"]
        return cls(
            registry=registry,
            requests=Counter(
                "cairn_http_requests",
                "HTTP requests served",
                labels,
                registry=registry,
                namespace="",
            ),
            latency=Histogram(
                "cairn_http_request_duration_seconds",
                f"Latency of HTTP requests served by {service}",
                ["method", "route"],
                registry=registry,
            ),
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    async def handler(self, _request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


METRICS = web.AppKey("metrics", HttpMetrics)
