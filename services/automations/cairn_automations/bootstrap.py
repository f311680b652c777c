"""Wires automations: the HTTP API, the consumer that turns events into deliveries, and the
scheduler that runs their attempts.

Consumer group ``automations`` on ``cairn.artifacts`` and ``cairn.registry``. A delivery
records the partition of its event; the member that owns that partition is the delivery's one
writer and runs its attempts, so after a rebalance or a restart its new owner resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import structlog
from aiohttp import web
from cairn_shared.events.topics import Topic
from cairn_shared.http.app import create_app as create_base_app
from cairn_shared.http.app import kafka_probe, publisher_context
from cairn_shared.http.keys import MONGO, PUBLISHER, SETTINGS
from cairn_shared.http.metrics import METRICS
from cairn_shared.kafka.consumer import ConsumerRunner
from cairn_shared.service import consumer_context
from cairn_shared.settings import Settings

from cairn_automations.adapters.config_cache import ConfigCache
from cairn_automations.adapters.config_repository import ConfigRepository
from cairn_automations.adapters.consumer import PartitionAwareRunner
from cairn_automations.adapters.delivery_repository import DeliveryRepository
from cairn_automations.adapters.secret_box import SecretBox
from cairn_automations.adapters.webhook_sender import WebhookSender
from cairn_automations.delivery.attempts import AttemptRunner, DeliveryMetrics
from cairn_automations.delivery.scheduler import DeliveryScheduler
from cairn_automations.domain.address_policy import AddressPolicy
from cairn_automations.entrypoints.http import automations, calls, deliveries, integrations, secrets
from cairn_automations.entrypoints.http.app_keys import (
    BOX,
    CACHE,
    CONFIG,
    DELIVERIES,
    SCHEDULER,
    SENDER,
)
from cairn_automations.handlers.triggers import trigger_handlers

log = structlog.get_logger(__name__)
GROUP = "automations"


def create_app(settings: Settings) -> web.Application:
    # Fail at start, not at the first webhook, on a malformed allowlist.
    AddressPolicy.of(settings.webhook_allow_networks, allow_http=settings.webhook_allow_http)
    return create_base_app(
        settings,
        routes=[
            *automations.routes,
            *calls.routes,
            *integrations.routes,
            *secrets.routes,
            *deliveries.routes,
        ],
        contexts=[
            publisher_context,
            services_context,
            consumer_context(trigger_consumer),
            scheduler_context,
        ],
        probes={"kafka": kafka_probe},
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


async def services_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    db = app[MONGO][settings.database_name]
    config, delivery_repo = ConfigRepository(db), DeliveryRepository(db)
    cache = ConfigCache(config.load, ttl_s=settings.automations_cache_ttl_s)
    box = SecretBox.from_settings(settings)
    policy = AddressPolicy.of(
        settings.webhook_allow_networks, allow_http=settings.webhook_allow_http
    )
    sender = WebhookSender(
        policy,
        timeout_s=settings.webhook_timeout_s,
        per_target=settings.webhook_max_concurrency_per_target,
    )
    await sender.start()
    attempts = AttemptRunner(
        deliveries=delivery_repo,
        config=config,
        cache=cache,
        box=box,
        sender=sender,
        metrics=DeliveryMetrics.create(app[METRICS].registry),
        jitter=settings.webhook_retry_jitter,
        now=utcnow,
        rand=random.random,
    )
    app[CONFIG], app[DELIVERIES], app[CACHE], app[BOX], app[SENDER] = (
        config,
        delivery_repo,
        cache,
        box,
        sender,
    )
    app[SCHEDULER] = DeliveryScheduler(
        deliveries=delivery_repo,
        attempts=attempts,
        schedule=settings.webhook_retry_schedule_s,
        scan_interval_s=settings.automations_scan_interval_s,
        now=utcnow,
    )
    yield
    await sender.close()


def trigger_consumer(app: web.Application) -> ConsumerRunner:
    settings = app[SETTINGS]
    config, delivery_repo, scheduler = app[CONFIG], app[DELIVERIES], app[SCHEDULER]

    async def setup() -> None:
        await config.setup()
        await delivery_repo.setup()

    runner = PartitionAwareRunner(
        settings,
        group_id=GROUP,  # the runner adds the topic prefix (empty in a deployment)
        topics=[Topic.ARTIFACTS, Topic.REGISTRY],
        handlers={},
        batch_handlers=trigger_handlers(
            cache=app[CACHE],
            deliveries=delivery_repo,
            scheduler=scheduler,
            schedule=settings.webhook_retry_schedule_s,
            topic_prefix=settings.kafka_topic_prefix,
            now=utcnow,
        ),
        dead_letters=app[PUBLISHER],
        on_start=setup,
        on_assigned=scheduler.poke,  # load the new partitions' deliveries at once
    )
    scheduler.attach(runner)
    return runner


async def scheduler_context(app: web.Application) -> AsyncIterator[None]:
    """Runs the scheduler; stops it (and lets in-flight attempts finish) before the consumer."""
    scheduler = app[SCHEDULER]
    task = asyncio.create_task(scheduler.run(), name="delivery-scheduler")
    task.add_done_callback(_exit_if_crashed)
    yield
    task.remove_done_callback(_exit_if_crashed)
    await scheduler.stop()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _exit_if_crashed(task: asyncio.Task[None]) -> None:
    if task.cancelled() or task.exception() is None:
        return
    log.error("scheduler.crashed", error=repr(task.exception()))
    raise SystemExit(70)  # EX_SOFTWARE, as the consumer: the supervisor restarts the service
