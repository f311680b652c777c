"""The components of the stack, in start order: infrastructure first, then the services (those
the gateway routes, then the workers without public routes)."""

from cairn_dev import instances
from cairn_dev.components.base import Component
from cairn_dev.components.gateway import Gateway
from cairn_dev.components.kafka import Kafka
from cairn_dev.components.mongo import Mongo
from cairn_dev.components.s3 import S3
from cairn_dev.components.services import Service
from cairn_dev.instances import ALL, GATEWAY_SERVICES, INFRA, SERVICES, WORKERS
from cairn_dev.settings import Settings

__all__ = [
    "ALL",
    "GATEWAY_SERVICES",
    "INFRA",
    "SERVICES",
    "WORKERS",
    "Component",
    "create",
]


def create(name: str, settings: Settings) -> Component:
    """The component for an instance name: `kafka`, `manifest`, `manifest.2`, ..."""
    base, replica = instances.split(name)  # ValueError for an unknown name
    match base:
        case "kafka":
            return Kafka(settings)
        case "mongo":
            return Mongo(settings)
        case "s3":
            return S3(settings)
        case "gateway":
            return Gateway(settings)
    return Service(settings, base, replica)
