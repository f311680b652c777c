"""The app factory every service builds on.

``create_app`` gives each service the same skeleton: middlewares (request id and canonical
log line, JSON errors, API-key authentication), ``/healthz``, ``/readyz`` and ``/metrics``,
the MongoDB client and the identity store, then the service's own resources, each opened and
closed in its own ``cleanup_ctx``, and last the readiness loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence

import structlog
from aiohttp import web
from aiokafka.errors import KafkaError

from cairn_shared.auth.identity_store import IDENTITY_DATABASE, MongoIdentityStore
from cairn_shared.http.auth_cache import AUTH_CACHE, AuthCache
from cairn_shared.http.health import Readiness, healthz, readyz_handler
from cairn_shared.http.keys import IDENTITY, MONGO, PUBLISHER, READINESS, SETTINGS
from cairn_shared.http.metrics import METRICS, HttpMetrics
from cairn_shared.http.middlewares import authenticate, json_errors, request_context
from cairn_shared.kafka.admin import ensure_topics
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.mongo import create_client, ping
from cairn_shared.retry import until_available
from cairn_shared.settings import Settings

log = structlog.get_logger(__name__)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]
AppProbe = Callable[[web.Application], Awaitable[object]]


def create_app(
    settings: Settings,
    *,
    routes: Iterable[web.AbstractRouteDef] = (),
    contexts: Sequence[CleanupCtx] = (),
    probes: Mapping[str, AppProbe] | None = None,
) -> web.Application:
    app = base_app(settings, routes=routes)
    readiness = app[READINESS]
    readiness.add("mongodb", lambda: ping(app[MONGO]))
    for name, probe in (probes or {}).items():
        readiness.add(name, _bind(probe, app))
    app.cleanup_ctx.append(mongo_context)
    app.cleanup_ctx.extend(contexts)
    app.cleanup_ctx.append(readiness.context)
    return app


def base_app(settings: Settings, *, routes: Iterable[web.AbstractRouteDef] = ()) -> web.Application:
    """The HTTP skeleton without resources: middlewares, health, metrics and ``routes``.

    Authentication needs ``AUTH_CACHE``, which ``mongo_context`` provides (or a test does).
    """
    app = web.Application(
        middlewares=[request_context, json_errors, authenticate],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = HttpMetrics.create(settings.service)
    app[READINESS] = Readiness(interval_s=settings.readiness_interval_s)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz_handler(app[READINESS]))
    app.router.add_get("/metrics", app[METRICS].handler)
    app.router.add_routes(list(routes))
    return app


def _bind(probe: AppProbe, app: web.Application) -> Callable[[], Awaitable[object]]:
    return lambda: probe(app)


async def mongo_context(app: web.Application) -> AsyncIterator[None]:
    """The MongoDB client and the identity store; the first admin key is ensured at start."""
    settings = app[SETTINGS]
    client = create_client(settings)
    app[MONGO] = client
    identity = MongoIdentityStore(client[IDENTITY_DATABASE])
    app[IDENTITY] = identity
    app[AUTH_CACHE] = AuthCache(identity)
    bootstrap = asyncio.create_task(_bootstrap_identity(identity, settings))
    yield
    bootstrap.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await bootstrap
    await client.close()


async def _bootstrap_identity(identity: MongoIdentityStore, settings: Settings) -> None:
    """Retried in the background: a service must start (and say "not ready") while the
    database is down, rather than crash-loop."""
    key = settings.admin_api_key.get_secret_value()
    delay = 0.5
    while True:
        try:
            await identity.setup()
            if key:
                await identity.ensure_admin_key(key)
        except Exception as exc:  # noqa: BLE001 - retried until the database answers
            log.warning("identity.bootstrap_retry", error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        else:
            return


async def publisher_context(app: web.Application) -> AsyncIterator[None]:
    """The idempotent Kafka producer, after making sure the topics exist."""
    settings = app[SETTINGS]
    await until_available("kafka", lambda: ensure_topics(settings), retry_on=(KafkaError,))
    publisher = KafkaEventPublisher(settings)
    await until_available("kafka", publisher.start, retry_on=(KafkaError,))
    app[PUBLISHER] = publisher
    yield
    await publisher.stop()


async def kafka_probe(app: web.Application) -> None:
    await app[PUBLISHER].ping()
