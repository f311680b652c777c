"""The JSON shapes of collections and versions (docs/http-api.md, "manifest")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from cairn_shared.mongo import Document, decode_mapping

from cairn_manifest.domain.versioning import version_label
from cairn_manifest.entrypoints.http.app_keys import ARTIFACTS, SUBMISSIONS


async def describe_collections(
    app: web.Application, sequences: Sequence[Document]
) -> list[dict[str, Any]]:
    """Collections with their version counts and aliases: two queries for the lot."""
    ids = [s["_id"] for s in sequences]
    counts = await app[ARTIFACTS].version_counts(ids)
    aliases = await app[ARTIFACTS].aliases(ids)
    return [collection_json(s, counts.get(s["_id"], 0), aliases[s["_id"]]) for s in sequences]


def collection_json(
    sequence: Document, version_count: int, aliases: Mapping[str, int]
) -> dict[str, Any]:
    return {
        "name": sequence["name"],
        "type": sequence["type"],
        "version_count": version_count,
        "aliases": dict(sorted(aliases.items())),
    }


def version_json(version: Document, aliases: list[str], used_by: list[str]) -> dict[str, Any]:
    index = int(version["version_index"])
    return {
        "id": version["version_id"],
        "sequence": version["sequence"],
        "name": version["name"],
        "type": version["type"],
        "version_index": index,
        "version": version_label(index),
        "aliases": aliases,
        "manifest_digest": version["manifest_digest"],
        "size": version["size"],
        "file_count": version["file_count"],
        "description": version["description"],
        "metadata": decode_mapping(version["metadata"]),
        "created_at": version["created_at"].isoformat(),
        "logged_by": version["logged_by"],
        "used_by": used_by,
    }


async def describe_versions(
    app: web.Application, sequence: str, versions: Sequence[Document]
) -> list[dict[str, Any]]:
    """``versions`` of one sequence with their aliases and users: two queries for the lot."""
    indexes = [int(v["version_index"]) for v in versions]
    if not indexes:
        return []
    held = (await app[ARTIFACTS].aliases([sequence]))[sequence]
    used_by = await app[SUBMISSIONS].used_by(sequence, indexes)
    return [
        version_json(
            v,
            sorted(a for a, i in held.items() if i == v["version_index"]),
            used_by[v["version_index"]],
        )
        for v in versions
    ]
