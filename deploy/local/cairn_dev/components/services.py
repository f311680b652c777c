"""The Cairn services, each a `python -m cairn_<name>` process of the workspace venv, and the
workers (instances.WORKERS): ingest's history writer, a process of its own so that it can fail or
scale apart from ingest's HTTP API. Both kinds start, stop and scale alike; only the gateway
tells them apart (it routes to the services alone).

A service may run as several replicas (`manifest`, `manifest.2`, ...): the same program on its own
port, with its own log and pid file, in the same Kafka consumer groups, so they split the
partitions between them.
"""

import sys
from pathlib import Path

from cairn_dev import instances
from cairn_dev.components.base import Component
from cairn_dev.instances import SERVICES
from cairn_dev.readiness import NotReadyError, http_get
from cairn_dev.settings import Settings

__all__ = ["MODULES", "SERVICES", "Service", "module"]

# Where a service's program is not `cairn_<service>` (the image's entrypoint,
# deploy/docker/cairn-service, maps the same names: tests/deploy checks it).
MODULES = {"history-writer": "cairn_ingest.history_writer"}


def module(service: str) -> str:
    """The module that `python -m` runs for a service or worker: `cairn_manifest`, ..."""
    return MODULES.get(service, f"cairn_{service}")


class Service(Component):
    tier = 1
    ready_timeout = 45.0

    def __init__(self, settings: Settings, service: str, replica: int = 1) -> None:
        super().__init__(settings)
        self.service = service
        self.replica = replica
        self.name = instances.instance(service, replica)

    @property
    def module(self) -> str:
        return module(self.service)

    @property
    def backend(self) -> str:
        return f"python -m {self.module}"

    @property
    def match(self) -> str:
        return f"-m {self.module}"

    @property
    def cwd(self) -> Path:
        return self.settings.repo

    def prepare(self) -> None:
        """Nothing to write: a service keeps its state in Kafka, MongoDB and S3."""

    def command(self) -> list[str]:
        # sys.executable is the workspace venv's python that runs cairn-dev itself.
        return [sys.executable, "-m", self.module]

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.settings.service_env(self.name), "PYTHONUNBUFFERED": "1"}

    def check_ready(self) -> None:
        # /healthz, not /readyz: readyz may rightly answer 503 while a dependency is down.
        url = f"http://127.0.0.1:{self.port}/healthz"
        status, body = http_get(url)
        if status != 200:
            raise NotReadyError(f"GET {url} answered {status}: {body[:200]!r}")
