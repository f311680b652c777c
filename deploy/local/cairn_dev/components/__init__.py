"""The components of the stack, in start order: infrastructure first, then the services."""

from cairn_dev.components.base import Component
from cairn_dev.components.gateway import Gateway
from cairn_dev.components.kafka import Kafka
from cairn_dev.components.mongo import Mongo
from cairn_dev.components.s3 import S3
from cairn_dev.components.services import SERVICES, Service
from cairn_dev.settings import Settings

INFRA = ("kafka", "mongo", "s3", "gateway")
ALL = INFRA + SERVICES

__all__ = ["ALL", "INFRA", "SERVICES", "Component", "create"]


def create(name: str, settings: Settings) -> Component:
    match name:
        case "kafka":
            return Kafka(settings)
        case "mongo":
            return Mongo(settings)
        case "s3":
            return S3(settings)
        case "gateway":
            return Gateway(settings)
        case _ if name in SERVICES:
            return Service(settings, name)
    raise ValueError(f"unknown component {name!r}; expected one of {', '.join(ALL)}")
