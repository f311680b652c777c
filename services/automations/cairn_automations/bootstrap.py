"""Wires automations: the common app (health, readiness, metrics, auth) and the Kafka publisher."""

from __future__ import annotations

from aiohttp import web
from cairn_shared.http.app import create_app as create_base_app
from cairn_shared.http.app import kafka_probe, publisher_context
from cairn_shared.settings import Settings


def create_app(settings: Settings) -> web.Application:
    return create_base_app(settings, contexts=[publisher_context], probes={"kafka": kafka_probe})
