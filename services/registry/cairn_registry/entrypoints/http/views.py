"""JSON shapes of registries, collections, linked versions and history entries, and the
documents search filters look at (what a filter may name, see ``domain/filters.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cairn_shared.mongo import decode_mapping

from cairn_registry.domain.filters import Fields
from cairn_registry.domain.registries import RegistrySettings

COLLECTION_FIELDS = Fields(
    ["name", "description", "tags", "tag"], dates=["created_at", "updated_at"]
)
VERSION_FIELDS = Fields(
    ["alias", "aliases", "tag", "tags", "version", "type", "run_id", "linked_by"],
    dates=["created_at", "linked_at"],
    dictionaries=["metadata"],
)


def registry_view(s: RegistrySettings) -> dict[str, Any]:
    return {
        "entity": s.entity,
        "name": s.name,
        "artifact_types": list(s.artifact_types),
        "protected_aliases": list(s.protected_aliases),
        "description": s.description,
        "revision": s.revision,
        "created_at": _iso(s.created_at),
        "updated_at": _iso(s.updated_at),
        "updated_by": s.updated_by,
    }


def collection_view(
    doc: Mapping[str, Any], aliases: Mapping[str, int] | None = None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": doc["_id"],
        "entity": doc["entity"],
        "registry": doc["registry"],
        "name": doc["name"],
        "description": doc.get("description", ""),
        "tags": list(doc.get("tags", [])),
        "version_count": doc.get("version_count", 0),
        "created_at": _iso(doc.get("created_at")),
        "created_by": doc.get("created_by", ""),
        "updated_at": _iso(doc.get("updated_at")),
    }
    if aliases is not None:
        view["aliases"] = {alias: f"v{index}" for alias, index in sorted(aliases.items())}
    return view


def collection_searchable(doc: Mapping[str, Any]) -> dict[str, Any]:
    tags = list(doc.get("tags", []))
    return {
        "name": doc["name"],
        "description": doc.get("description", ""),
        "tags": tags,
        "tag": tags,
        "created_at": doc.get("created_at"),
        "updated_at": doc.get("updated_at"),
    }


def version_view(link: Mapping[str, Any], aliases: list[str]) -> dict[str, Any]:
    source = link["source"]
    return {
        "version": f"v{link['link_index']}",
        "link_index": link["link_index"],
        "collection_id": link["collection_id"],
        "aliases": aliases,
        "source": {
            "sequence": source["sequence"],
            "version_index": source["version_index"],
            "version_id": source["version_id"],
            "type": source["type"],
            "manifest_digest": source["manifest_digest"],
            "size": source["size"],
            "metadata": decode_mapping(source.get("metadata", [])),
        },
        "linked_by": link.get("linked_by", ""),
        "linked_at": _iso(link.get("linked_at")),
        "run_id": link.get("run_id", ""),
    }


def version_searchable(link: Mapping[str, Any], aliases: list[str]) -> dict[str, Any]:
    source = link["source"]
    return {
        "alias": aliases,
        "aliases": aliases,
        # Artifact tags do not travel in artifact.committed yet: a version has none to match.
        "tag": [],
        "tags": [],
        "version": f"v{link['link_index']}",
        "type": source["type"],
        "run_id": link.get("run_id", ""),
        "linked_by": link.get("linked_by", ""),
        "created_at": link.get("linked_at"),
        "linked_at": link.get("linked_at"),
        "metadata": decode_mapping(source.get("metadata", [])),
    }


def history_view(entry: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "seq": entry["seq"],
        "at": _iso(entry["at"]),
        "action": entry["action"],
        "actor": entry["actor"],
        "version": entry.get("version"),
        "link_index": entry.get("link_index"),
        "run_id": entry.get("run_id", ""),
        "command_id": entry.get("command_id", ""),
    }
    if entry.get("alias"):
        view["alias"] = entry["alias"]
    if entry.get("details"):
        view["details"] = dict(entry["details"])
    return view


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
