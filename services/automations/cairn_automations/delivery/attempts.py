"""One delivery attempt: build the signed request, send it, log it, decide what comes next.

Runs only in the member that owns the delivery's partition, so it is the delivery's one writer.
Writes, in order: the attempt (insert-only, id derived from the delivery and its number), then
the delivery's new state. After a crash between the two, the logged attempts are counted when
the delivery is resumed, so the next attempt gets the next number. A first attempt answered
at once is stored with its delivery instead: the delivery (already in its new state), then the
attempt.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from cachetools import LRUCache
from cairn_shared.ids import derive_id
from prometheus_client import CollectorRegistry, Counter, Histogram

from cairn_automations.adapters.config_cache import ConfigCache
from cairn_automations.adapters.config_repository import ConfigRepository
from cairn_automations.adapters.delivery_repository import DeliveryRepository
from cairn_automations.adapters.secret_box import SecretBox, SecretUnreadableError
from cairn_automations.adapters.webhook_sender import WebhookResponse, WebhookSender
from cairn_automations.delivery.requests import EntitySecrets, prepare_request
from cairn_automations.domain.deliveries import Delivery, Status
from cairn_automations.domain.records import EntityConfig
from cairn_automations.domain.schedule import AttemptResult, Outcome, Verdict, judge
from cairn_automations.domain.templates import MissingSecretError

log = structlog.get_logger(__name__)

IN_FLIGHT = "in_flight"  # the verdict of an attempt being made; "interrupted" if it never ended


@dataclass(frozen=True)
class DeliveryMetrics:
    attempts: Counter
    latency: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> DeliveryMetrics:
        return cls(
            attempts=Counter(
                "cairn_webhook_attempts",
                "Webhook attempts by verdict",
                ["verdict"],
                registry=registry,
            ),
            latency=Histogram(
                "cairn_webhook_attempt_duration_seconds",
                "Time from sending a webhook to its answer",
                registry=registry,
            ),
        )


SENT_FIRST_MEMORY = 100_000
# How long a first attempt's answer may hold back the insert of its delivery (see attempt_first).
FOLD_S = 0.05


@dataclass(frozen=True)
class Judged:
    """An attempt's answer, judged: its log entry and the delivery's state after it."""

    delivery_id: str
    number: int
    response: WebhookResponse
    outcome: Outcome
    at: datetime
    result: dict[str, Any]
    attempt: dict[str, Any]  # the whole log entry
    after: Delivery


class AttemptRunner:
    def __init__(
        self,
        *,
        deliveries: DeliveryRepository,
        config: ConfigRepository,
        cache: ConfigCache,
        box: SecretBox,
        sender: WebhookSender,
        metrics: DeliveryMetrics,
        jitter: float,
        now: Callable[[], datetime],
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._deliveries = deliveries
        self._config = config
        self._cache = cache
        self._box = box
        self._sender = sender
        self._metrics = metrics
        self._jitter = jitter
        self._now = now
        self._rand = rand
        # First attempts this process already sent: a redelivered event (the same event twice
        # in Kafka, or again after a rebalance) must not POST again. The answer to one whose
        # insert failed waits here to be recorded once the delivery is stored, by the retried
        # event or by a scan, instead of being sent again. Across a crash a repeat is still
        # possible; it carries the same webhook-id.
        self._sent_first: LRUCache[str, WebhookResponse | None] = LRUCache(SENT_FIRST_MEMORY)

    async def attempt(self, delivery: Delivery) -> Delivery:
        """Make attempt ``delivery.attempts + 1`` and return the delivery's new state."""
        config = await self._cache.get(delivery.entity)
        unrecorded = self._sent_first.get(delivery.id) if delivery.attempts == 0 else None
        if unrecorded is not None:
            self._sent_first[delivery.id] = None
            return await self._record(delivery, unrecorded, config)
        stop = _why_stop(delivery, config)
        if stop:
            return await self._stop(delivery, stop)
        # Logged before it is sent, so an attempt cut short by a crash still shows in the log.
        started = _started_document(delivery, delivery.attempts + 1, self._now())
        await self._deliveries.start_attempt(started)
        response = await self._send(delivery, config)
        return await self._record(delivery, response, config, started=started)

    async def attempt_first(
        self, delivery: Delivery, stored: asyncio.Future[bool]
    ) -> Delivery | None:
        """The first attempt of a new delivery, which this also stores; ``stored`` is settled
        once the delivery is durable (True if it was new), and the consumer commits the event
        after that.

        The webhook goes out before anything is written (latency). When the receiver answers
        within ``FOLD_S``, the delivery is stored once, as it is after the attempt, with the
        attempt's log entry: two inserts, where storing it pending would add a schedule entry,
        an update and the entry's deletion. A slower receiver's delivery is stored pending
        while the attempt goes on, so a crash cannot lose it. If the delivery existed already
        (a redelivered event), this extra send, with the same ``webhook-id``, is logged against
        the stored delivery; if storing failed, the consumer retries the event.
        """
        try:
            return await self._first(delivery, stored)
        finally:
            if not stored.done():  # never leave the consumer waiting
                stored.set_exception(RuntimeError(f"delivery {delivery.id} was not stored"))

    async def _first(self, delivery: Delivery, stored: asyncio.Future[bool]) -> Delivery | None:
        if delivery.id in self._sent_first:
            created = await self._store(delivery, stored)
            return None if created is None else await self._record_unrecorded(delivery)
        self._sent_first[delivery.id] = None
        config = await self._cache.get(delivery.entity)
        stop = _why_stop(delivery, config)
        if stop:
            ended = self._ended(delivery, stop)
            if await self._store(ended, stored):
                log.info("delivery.stopped", delivery_id=delivery.id, reason=stop)
            return None
        sending = asyncio.ensure_future(self._send(delivery, config))
        try:
            done, _ = await asyncio.wait({sending}, timeout=FOLD_S)
        except asyncio.CancelledError:
            sending.cancel()
            raise
        if done:
            response = sending.result()
            judged = self._judge(delivery, response)
            created = await self._store(judged.after, stored, attempt=judged.attempt)
            if created:
                return await self._finish(delivery, judged, config)
        else:
            created = await self._store(delivery, stored)
            response = await sending
        if created is None:  # the consumer retries the event; the answer waits to be recorded
            if delivery.id in self._sent_first:
                self._sent_first[delivery.id] = response
            return None
        current = delivery if created else await self.stored(delivery.id)
        return None if current is None else await self._record(current, response, config)

    async def _store(
        self,
        delivery: Delivery,
        stored: asyncio.Future[bool],
        *,
        attempt: dict[str, Any] | None = None,
    ) -> bool | None:
        """Insert ``delivery`` and settle ``stored``: whether it was new, None if it failed."""
        try:
            created = await self._deliveries.insert(delivery, attempt=attempt)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which retries
            log.warning("delivery.insert_failed", delivery_id=delivery.id, error=repr(exc))
            if not stored.done():
                stored.set_exception(exc)
            return None
        if not stored.done():
            stored.set_result(created)
        return created

    async def _record_unrecorded(self, delivery: Delivery) -> Delivery | None:
        """A first attempt sent already: its answer is recorded if an insert failed before."""
        if self._sent_first.get(delivery.id) is None:
            return None
        current = await self.stored(delivery.id)
        if current is None or current.attempts > 0:
            return None
        return await self.attempt(current)  # records the remembered answer, sends nothing

    async def stored(self, delivery_id: str) -> Delivery | None:
        """The stored delivery, its attempt count taken from the log: after a crash between
        logging an attempt and saving the state, the next attempt still gets a new number."""
        delivery = await self._deliveries.get(delivery_id)
        if delivery is None:
            return None
        await self._deliveries.interrupt_attempts(delivery_id, at=self._now())
        logged = await self._deliveries.count_attempts(delivery_id)
        return replace(delivery, attempts=logged) if logged > delivery.attempts else delivery

    async def _stop(self, delivery: Delivery, reason: str) -> Delivery:
        """Nothing is sent: not an attempt, but the end of the delivery."""
        dead = self._ended(delivery, reason)
        await self._deliveries.save_state(dead)
        log.info("delivery.stopped", delivery_id=delivery.id, reason=reason)
        return dead

    def _ended(self, delivery: Delivery, reason: str) -> Delivery:
        return replace(
            delivery,
            status=Status.DEAD,
            dead_reason=reason,
            next_attempt_at=None,
            updated_at=self._now(),
        )

    async def _record(
        self,
        delivery: Delivery,
        response: WebhookResponse,
        config: EntityConfig,
        *,
        started: dict[str, Any] | None = None,
    ) -> Delivery:
        """Log the attempt's answer, then save the delivery's new state."""
        judged = self._judge(delivery, response, started_at=started["at"] if started else None)
        if started is None:  # the first attempt: logged once its delivery is stored
            await self._deliveries.add_attempt(judged.attempt)
        else:
            await self._deliveries.finish_attempt(started["_id"], judged.result)
        if delivery.status is not Status.PENDING:
            self._report(judged)
            return delivery  # a duplicate send of a finished delivery: logged, state kept
        await self._deliveries.save_state(judged.after)
        return await self._finish(delivery, judged, config)

    async def _finish(self, delivery: Delivery, judged: Judged, config: EntityConfig) -> Delivery:
        self._report(judged)
        if judged.outcome.verdict is Verdict.GONE:
            await self._disable_integration(delivery, config, judged.at)
        return judged.after

    def _report(self, judged: Judged) -> None:
        """Once per attempt recorded: its log line and metrics."""
        response, verdict = judged.response, judged.outcome.verdict
        self._metrics.attempts.labels(verdict.value).inc()
        if response.status is not None:
            self._metrics.latency.observe(response.latency_ms / 1000)
        log.info(
            "delivery.attempted",
            delivery_id=judged.delivery_id,
            attempt=judged.number,
            status=response.status,
            latency_ms=response.latency_ms,
            verdict=verdict.value,
            error=response.error or None,
        )

    def _judge(
        self, delivery: Delivery, response: WebhookResponse, *, started_at: datetime | None = None
    ) -> Judged:
        """Attempt ``delivery.attempts + 1``'s verdict, log entry and the delivery after it."""
        number = delivery.attempts + 1
        now = self._now()
        outcome = judge(
            AttemptResult(response.status, response.retry_after, response.error),
            attempts_in_round=delivery.attempts_in_round + 1,
            schedule=delivery.schedule,
            now=now,
            jitter=self._jitter,
            rand=self._rand,
        )
        result = _result(response, outcome, now)
        at = started_at or response.started_at or now
        return Judged(
            delivery_id=delivery.id,
            number=number,
            response=response,
            outcome=outcome,
            at=now,
            result=result,
            attempt=_started_document(delivery, number, at) | result,
            after=_after(delivery, number, response, outcome, now),
        )

    async def _send(self, delivery: Delivery, config: EntityConfig) -> WebhookResponse:
        integration = config.integrations[delivery.integration_id]
        secrets = EntitySecrets(config.secrets, self._box)
        try:
            body = delivery.body(secrets)
            request = prepare_request(
                integration,
                msg_id=delivery.id,
                body=body,
                content_type=delivery.content_type,
                now=self._now(),
                secrets=secrets,
                box=self._box,
            )
        except (MissingSecretError, SecretUnreadableError, ValueError) as exc:
            return WebhookResponse(status=None, latency_ms=0.0, error=f"not sent: {exc}")
        return await self._sender.send(request.url, request.headers, request.body.encode())

    async def _disable_integration(
        self, delivery: Delivery, config: EntityConfig, now: datetime
    ) -> None:
        integration = config.integrations[delivery.integration_id]
        reason = f"the receiver answered 410 Gone to delivery {delivery.id} at {now.isoformat()}"
        await self._config.disable_integration(
            integration.id, integration.revision, reason=reason, at=now
        )
        self._cache.invalidate(delivery.entity)
        log.warning("integration.disabled", integration=integration.name, reason=reason)


def _why_stop(delivery: Delivery, config: EntityConfig) -> str:
    automation = config.automation(delivery.automation_id)
    if automation is None:
        return "automation_deleted"
    if not automation.enabled:
        return "automation_disabled"
    integration = config.integrations.get(delivery.integration_id)
    if integration is None:
        return "integration_deleted"
    if not integration.active:
        return "integration_disabled"
    return ""


def _after(
    delivery: Delivery, number: int, response: WebhookResponse, outcome: Outcome, now: datetime
) -> Delivery:
    status = {
        Verdict.DELIVERED: Status.DELIVERED,
        Verdict.RETRY: Status.PENDING,
        Verdict.DEAD: Status.DEAD,
        Verdict.GONE: Status.DEAD,
    }[outcome.verdict]
    return replace(
        delivery,
        status=status,
        attempts=number,
        next_attempt_at=outcome.next_attempt_at,
        updated_at=now,
        delivered_at=now if status is Status.DELIVERED else delivery.delivered_at,
        last_status=response.status,
        last_error=response.error,
        dead_reason=outcome.reason if status is Status.DEAD else "",
    )


def _started_document(delivery: Delivery, number: int, at: datetime) -> dict[str, Any]:
    return {
        "_id": derive_id(delivery.id, "attempt", str(number)),
        "delivery_id": delivery.id,
        "entity": delivery.entity,
        "n": number,
        "round": delivery.round,
        "at": at,
        "verdict": IN_FLIGHT,
    }


def _result(response: WebhookResponse, outcome: Outcome, now: datetime) -> dict[str, Any]:
    return {
        "finished_at": now,
        "status": response.status,
        "latency_ms": response.latency_ms,
        "response_excerpt": response.excerpt,
        "error": response.error,
        "verdict": outcome.verdict.value,
        "next_attempt_at": outcome.next_attempt_at,
    }
