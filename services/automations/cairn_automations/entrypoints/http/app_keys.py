"""Typed keys for what the automations app carries."""

from __future__ import annotations

from aiohttp import web

from cairn_automations.adapters.config_cache import ConfigCache
from cairn_automations.adapters.config_repository import ConfigRepository
from cairn_automations.adapters.delivery_repository import DeliveryRepository
from cairn_automations.adapters.secret_box import SecretBox
from cairn_automations.adapters.webhook_sender import WebhookSender
from cairn_automations.delivery.scheduler import DeliveryScheduler

CONFIG = web.AppKey("config", ConfigRepository)
DELIVERIES = web.AppKey("deliveries", DeliveryRepository)
CACHE = web.AppKey("cache", ConfigCache)
BOX = web.AppKey("secret_box", SecretBox)
SENDER = web.AppKey("sender", WebhookSender)
SCHEDULER = web.AppKey("scheduler", DeliveryScheduler)
