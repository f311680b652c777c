"""Typed keys for what the app and each request carry."""

from __future__ import annotations

from aiohttp import web
from pymongo import AsyncMongoClient

from cairn_shared.auth.identity_store import MongoIdentityStore
from cairn_shared.auth.principal import Principal
from cairn_shared.http.health import Readiness
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.mongo import Document
from cairn_shared.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
MONGO = web.AppKey("mongo", AsyncMongoClient[Document])
IDENTITY = web.AppKey("identity", MongoIdentityStore)
PUBLISHER = web.AppKey("publisher", KafkaEventPublisher)
READINESS = web.AppKey("readiness", Readiness)

PRINCIPAL = web.RequestKey("principal", Principal)
REQUEST_ID = web.RequestKey("request_id", str)


def principal(request: web.Request) -> Principal:
    """The authenticated caller; the auth middleware sets it on every non-public route."""
    return request[PRINCIPAL]
