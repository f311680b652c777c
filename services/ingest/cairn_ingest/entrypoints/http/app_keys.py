from __future__ import annotations

from aiohttp import web
from cairn_shared.kafka.publisher import EventPublisher

from cairn_ingest.adapters.history_repository import HistoryRepository
from cairn_ingest.adapters.peers import ArtifactPeers
from cairn_ingest.adapters.run_repository import RunRepository
from cairn_ingest.domain.admission import Admission

RUNS = web.AppKey("runs", RunRepository)
HISTORY = web.AppKey("history", HistoryRepository)
# Ports, so unit tests can put fakes here.
PEERS: web.AppKey[ArtifactPeers] = web.AppKey("peers")
HISTORY_PUBLISHER: web.AppKey[EventPublisher] = web.AppKey("history_publisher")
ADMISSION = web.AppKey("history_admission", Admission)
