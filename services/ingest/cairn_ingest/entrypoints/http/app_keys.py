from __future__ import annotations

from aiohttp import web

from cairn_ingest.adapters.run_repository import RunRepository

RUNS = web.AppKey("runs", RunRepository)
