"""A producer that a broker restart left dead is replaced once, and the next send goes out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber
from cairn_shared.events.envelope import Cause, Envelope
from cairn_shared.events.runs import RunStarted
from cairn_shared.kafka import publisher as publisher_module
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.settings import Settings


class FakeProducer:
    """Stands in for aiokafka's producer: the first one made is broken, as after a restart."""

    made: ClassVar[list[FakeProducer]] = []

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.broken = not FakeProducer.made
        self.started = self.stopped = False
        self.sent: list[bytes] = []
        FakeProducer.made.append(self)

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, **message: Any) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.broken:  # the answer comes later, so concurrent sends all meet the broken one
            asyncio.get_running_loop().call_later(
                0.01, done.set_exception, OutOfOrderSequenceNumber()
            )
        else:
            self.sent.append(message["value"])
            done.set_result(None)
        return done


@pytest.fixture
def producers(monkeypatch: pytest.MonkeyPatch) -> list[FakeProducer]:
    FakeProducer.made = []
    monkeypatch.setattr(publisher_module, "AIOKafkaProducer", FakeProducer)
    return FakeProducer.made


def event() -> Envelope:
    return Envelope.wrap(
        RunStarted(run_id="r1", started_at=datetime.now(UTC)),
        id="event-1",
        source="/test",
        subject="e/p/r1",
        cause=Cause("alice"),
        entity="e",
        project="p",
    )


async def test_a_dead_producer_is_replaced_and_the_retry_goes_out(
    producers: list[FakeProducer],
) -> None:
    publisher = KafkaEventPublisher(Settings(service="test"))
    await publisher.start()

    # Concurrent sends all see the broken producer: one replacement, every caller an error.
    results = await asyncio.gather(
        *(publisher.publish(event(), key="e/p/r1") for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, OutOfOrderSequenceNumber) for r in results)
    assert len(producers) == 2
    broken, fresh = producers
    assert broken.stopped
    assert fresh.started
    assert fresh.options == broken.options  # same settings, batch size included
    assert fresh.options["max_batch_size"] == 1_000_000

    await publisher.publish(event(), key="e/p/r1")  # the caller's retry
    assert len(fresh.sent) == 1
