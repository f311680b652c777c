from __future__ import annotations

from aiohttp import web

from cairn_ingest.adapters.peers import ArtifactPeers
from cairn_ingest.adapters.run_repository import RunRepository

RUNS = web.AppKey("runs", RunRepository)
# A port, so unit tests can put a fake of the other services here.
PEERS: web.AppKey[ArtifactPeers] = web.AppKey("peers")
