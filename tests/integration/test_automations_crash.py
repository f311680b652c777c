"""The service as a real process, killed with SIGKILL between two attempts of a delivery: the
restarted process resumes the persisted schedule and the webhook arrives, with the same
webhook-id, and the delivery log shows every attempt."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cairn_shared.auth.identity_store import IDENTITY_DATABASE, MongoIdentityStore
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.mongo import Document
from cairn_shared.settings import Settings
from cryptography.fernet import Fernet
from pymongo import AsyncMongoClient
from standardwebhooks import Webhook

from tests.integration.test_automations_harness import (
    PRODUCTION_FILTER,
    Receiver,
    User,
    alias_event,
    make_user,
    publisher,
    receiver,
)

__all__ = ["publisher", "receiver"]  # fixtures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """``python -m cairn_automations`` with the test's topics, database and fast schedule."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.env = {
            **os.environ,
            "CAIRN_HTTP_HOST": "127.0.0.1",
            "CAIRN_HTTP_PORT": str(self.port),
            "CAIRN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "CAIRN_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "CAIRN_KAFKA_PARTITIONS": str(settings.kafka_partitions),
            "CAIRN_MONGO_URL": settings.mongo_url.get_secret_value(),
            "CAIRN_MONGO_DATABASE": settings.database_name,
            "CAIRN_LOG_FORMAT": "json",
            "CAIRN_SECRETS_KEY": Fernet.generate_key().decode(),
            "CAIRN_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
            "CAIRN_WEBHOOK_ALLOW_HTTP": "true",
            "CAIRN_WEBHOOK_RETRY_SCHEDULE_S": "0,2,2,2,2",
            "CAIRN_WEBHOOK_RETRY_JITTER": "0",
            "CAIRN_AUTOMATIONS_SCAN_INTERVAL_S": "0.5",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - starting, not waiting
                [sys.executable, "-m", "cairn_automations"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        async with asyncio.timeout(60), aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(f"{self.base}/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                assert self.proc.poll() is None, self.log.read_text()[-3000:]
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def process(topics: Settings, tmp_path: Path) -> Iterator[Process]:
    proc = Process(topics, tmp_path / "automations.log")
    yield proc
    proc.stop()


@pytest.fixture
async def owner(mongo: AsyncMongoClient[Document], unique: str) -> User:
    return await make_user(MongoIdentityStore(mongo[IDENTITY_DATABASE]), f"au-k-{unique}")


async def call(process: Process, user: User, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{process.base}{path}", json=body, headers=user.headers) as response,
    ):
        answer = await response.json()
        assert response.status < 300, answer
        return answer


async def test_sigkill_between_attempts_resumes_the_schedule(
    process: Process, owner: User, receiver: Receiver, publisher: KafkaEventPublisher
) -> None:
    await process.start()
    entity_url = f"/v1/entities/{owner.name}"
    created = await call(
        process, owner, "POST", f"{entity_url}/integrations", {"name": "ci", "url": receiver.url()}
    )
    automation = {"name": "notify", "event": PRODUCTION_FILTER, "action": {"integration": "ci"}}
    await call(process, owner, "POST", f"{entity_url}/automations", automation)
    receiver.script = [500, 500, 500]
    event = alias_event(owner.name)

    await publisher.publish(event, key=event.subject)
    await receiver.wait_for(2)  # attempts 1 and 2 failed; the third is 2 s away
    process.kill()
    assert len(receiver.received) == 2
    await process.start()

    received = await receiver.wait_for(4, timeout_s=90)
    assert len({r.headers["webhook-id"] for r in received}) == 1
    payload = Webhook(created["signing_secret"]).verify(received[-1].body, received[-1].headers)
    assert payload["id"] == event.id

    async with asyncio.timeout(30):
        while True:
            listed = await call(process, owner, "GET", f"{entity_url}/deliveries?status=delivered")
            if listed["deliveries"]:
                break
            await asyncio.sleep(0.2)
    delivery_id = listed["deliveries"][0]["id"]
    delivery = await call(process, owner, "GET", f"{entity_url}/deliveries/{delivery_id}")
    assert delivery_id == received[0].headers["webhook-id"]
    log = delivery["attempt_log"]
    # One entry per request the receiver got. The attempt the kill cut short (if it did) is
    # logged as interrupted: its request went out, its answer never reached the log.
    assert [a["n"] for a in log] == [1, 2, 3, 4], json.dumps(log, indent=1)
    assert log[-1]["status"] == 200
    assert all(a["status"] == 500 or a["verdict"] == "interrupted" for a in log[:-1]), json.dumps(
        log, indent=1
    )
