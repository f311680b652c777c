"""What ingest asks other services before it accepts a submission, on behalf of the caller.

Both answers are advisory and may be stale by the time the event is applied: manifest checks the
type again when it applies ``artifact.logged`` (its consumer is the one writer of a sequence).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import quote

import aiohttp
from aiohttp import web
from cairn_shared.http.errors import ApiError
from cairn_shared.http.service_client import ServiceClient

# A manifest may list many files; storage gets them in chunks of the size its uploads route takes.
CHECK_CHUNK = 10_000


class ArtifactPeers(Protocol):
    async def artifact_type(
        self, request: web.Request, entity: str, project: str, name: str
    ) -> str | None: ...

    async def missing_blobs(
        self, request: web.Request, entity: str, digests: Sequence[str]
    ) -> list[str]: ...


class HttpArtifactPeers:
    """``ArtifactPeers`` over HTTP: manifest for the artifact's type, storage for blobs."""

    def __init__(self, session: aiohttp.ClientSession, *, manifest_url: str, storage_url: str):
        self._manifest = ServiceClient(session, manifest_url)
        self._storage = ServiceClient(session, storage_url)

    async def artifact_type(
        self, request: web.Request, entity: str, project: str, name: str
    ) -> str | None:
        """The type of the artifact ``name``, or None when there is none yet."""
        path = (
            f"/v1/entities/{_seg(entity)}/projects/{_seg(project)}/artifacts/{_seg(name)}"
            "?hint=false"
        )
        try:
            collection = await self._manifest.call(request, "GET", path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return str(collection["type"])

    async def missing_blobs(
        self, request: web.Request, entity: str, digests: Sequence[str]
    ) -> list[str]:
        """The digests among ``digests`` that storage does not hold for ``entity``."""
        path = f"/v1/entities/{_seg(entity)}/blobs/check"
        chunks = [digests[i : i + CHECK_CHUNK] for i in range(0, len(digests), CHECK_CHUNK)]
        answers = await asyncio.gather(
            *(self._storage.call(request, "POST", path, json={"digests": c}) for c in chunks)
        )
        return sorted({str(d) for answer in answers for d in answer["missing"]})


def _seg(value: str) -> str:
    return quote(value, safe="")
