from __future__ import annotations

from aiohttp import web

from cairn_registry.adapters.collections import CollectionStore
from cairn_registry.adapters.reads import CollectionReads
from cairn_registry.adapters.registries import RegistryStore
from cairn_registry.entrypoints.http.waiter import CommandWaiter

COLLECTIONS = web.AppKey("collections", CollectionStore)
READS = web.AppKey("reads", CollectionReads)
REGISTRIES = web.AppKey("registries", RegistryStore)
WAITER = web.AppKey("waiter", CommandWaiter)
