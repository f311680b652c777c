"""Finding a collection by name, and a helpful 404 when the name is not one.

W&B users often pass a file's name where an artifact's name belongs (``use_artifact
("training_dataset:latest")`` after ``add_file(..., name="training_dataset")``); the 404 then
says which artifact holds that file. Only the latest version of the most recent collections is
searched, so a miss costs a bounded number of manifest reads.
"""

from __future__ import annotations

import asyncio
import json

import structlog
from aiohttp import web
from cairn_shared.http.errors import ApiError, not_found
from cairn_shared.manifests import blob_key
from cairn_shared.mongo import Document
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from cairn_manifest.adapters.artifact_repository import version_key
from cairn_manifest.domain.versioning import LATEST
from cairn_manifest.entrypoints.http.app_keys import ARTIFACTS, BLOBS

log = structlog.get_logger(__name__)

SEARCHED_COLLECTIONS = 50
PARALLEL_READS = 8
# A hint must not make a 404 slow: an S3 outage (minio-py retries for minutes) gives none.
HINT_TIMEOUT_S = 3.0


async def collection_or_404(
    app: web.Application, entity: str, project: str, name: str, *, hint: bool = True
) -> Document:
    """The sequence document of ``name``, or a 404 that names the artifact holding a file
    of that name, if there is one (``hint=False`` skips that search: a service asking
    whether a name is taken wants a fast answer, not advice)."""
    sequence = await app[ARTIFACTS].sequence(f"{entity}/{project}/{name}")
    if sequence is not None:
        return sequence
    message = f"no artifact {name!r} in {entity}/{project}"
    holder = await artifact_with_file(app, entity, project, name) if hint else None
    if holder is None:
        raise not_found(message)
    raise ApiError(
        404,
        "not_found",
        f"{message}; {name!r} is a file in artifact {holder!r}",
        details={"file_of": holder},
    )


async def artifact_with_file(
    app: web.Application, entity: str, project: str, path: str
) -> str | None:
    """The most recent collection whose latest version has a file at ``path``."""
    artifacts = app[ARTIFACTS]
    sequences = await artifacts.sequences(entity, project, limit=SEARCHED_COLLECTIONS)
    held = await artifacts.aliases([s["_id"] for s in sequences])
    keys = [version_key(s, a[LATEST]) for s, a in held.items() if LATEST in a]
    latest = {v["sequence"]: v for v in await artifacts.versions_by_key(keys)}
    candidates = [(s["name"], latest[s["_id"]]) for s in sequences if s["_id"] in latest]
    gate = asyncio.Semaphore(PARALLEL_READS)

    async def has_file(version: Document) -> bool:
        async with gate:
            return await _has_entry(app, entity, version["manifest_digest"], path)

    try:
        async with asyncio.timeout(HINT_TIMEOUT_S):
            found = await asyncio.gather(*(has_file(v) for _, v in candidates))
    except TimeoutError:
        log.warning("manifest.hint_timed_out", entity=entity, project=project)
        return None
    return next((name for (name, _), hit in zip(candidates, found, strict=True) if hit), None)


async def _has_entry(app: web.Application, entity: str, digest: str, path: str) -> bool:
    """Whether a manifest lists ``path``; an unreadable one does not (this is only a hint)."""
    try:
        document = json.loads(await app[BLOBS].get_bytes(blob_key(entity, digest)))
        return path in document["contents"]
    except (S3Error, HTTPError, OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("manifest.unreadable", digest=digest, error=repr(exc))
        return False
