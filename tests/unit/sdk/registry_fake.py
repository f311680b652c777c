"""A fake of our registry routes (docs/http-api.md, registry), on top of ``FakeCairn``.

Links are applied when their command is polled (after ``command_polls`` pending answers), from
a committed version or the submission creating it; re-linking a version only adds aliases, as
the registry does. ``role`` is the caller's role: a protected alias needs ``admin``.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

import cairn.session
from cairn.http import ApiClient
from tests.unit.sdk.fakes import FakeCairn, error, ok

E = r"/registry/v1/entities/([^/]+)"
Key = tuple[str, str, str]
C = E + r"/registries/([^/]+)/collections/([^/]+)"


@dataclass
class FakeRegistry(FakeCairn):
    role: str = "admin"
    command_polls: int = 0
    reject_link: str | None = None  # the reason every link is rejected with
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)
    filters: list[Any] = field(default_factory=list)  # the ?filter= of each search, decoded
    collections: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    registries: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            name: {
                "name": name,
                "artifact_types": [f"*{name}*"],
                "protected_aliases": ["production"],
                "description": f"The {name} registry",
                "created_at": "2026-01-01T00:00:00+00:00",
                "updated_at": "2026-01-01T00:00:00+00:00",
            }
            for name in ("model", "dataset")
        }
    )

    def _routes(self) -> list[tuple[str, str, Callable[..., httpx.Response]]]:
        return [
            ("POST", r"/ingest/v1/entities/([^/]+)/links", self._reg_link),
            ("GET", E + r"/commands/([^/]+)", self._reg_command),
            ("GET", E + r"/registries", lambda b, q, e: ok({"registries": self._reg_regs(e)})),
            ("POST", E + r"/registries", self._reg_new_registry),
            ("GET", E + r"/registries/([^/]+)", self._reg_registry),
            ("PATCH", E + r"/registries/([^/]+)", self._reg_patch_registry),
            ("GET", E + r"/registries/([^/]+)/collections", self._reg_collections),
            ("GET", C, self._reg_collection),
            ("PATCH", C, self._reg_patch_collection),
            ("GET", C + r"/versions", self._reg_versions),
            ("GET", C + r"/versions/([^/]+)", self._reg_version),
            ("DELETE", C + r"/versions/([^/]+)", self._reg_unlink),
            ("PUT", C + r"/aliases/([^/]+)", self._reg_put_alias),
            ("DELETE", C + r"/aliases/([^/]+)", self._reg_delete_alias),
            ("GET", C + r"/history", self._reg_history),
            *super()._routes(),
        ]

    # -- links -----------------------------------------------------------------------------------

    def _reg_link(self, body: Any, query: dict[str, str], entity: str) -> httpx.Response:
        uuid.UUID(body["client_id"])
        parts = body["target"].split("/")
        registry = "model" if parts[-2] == "model-registry" else parts[-2][len("wandb-registry-") :]
        command_id = str(uuid.uuid5(uuid.NAMESPACE_URL, body["client_id"]))
        self.commands[command_id] = {"body": body, "key": (entity, registry, parts[-1]), "polls": 0}
        return ok(
            {"command_id": command_id, "collection_id": "/".join(self.commands[command_id]["key"])},
            202,
        )

    def _reg_command(
        self, body: Any, query: dict[str, str], entity: str, cid: str
    ) -> httpx.Response:
        command = self.commands.get(cid)
        if command is None or command["polls"] < self.command_polls:
            if command is not None:
                command["polls"] += 1
            return ok({"command_id": cid, "status": "pending"})
        if self.reject_link is not None:
            return ok(
                {"status": "rejected", "code": "type_not_accepted", "reason": self.reject_link}
            )
        if "index" not in command:
            command["index"] = self._reg_apply_link(command["key"], command["body"])
        return ok(
            {"status": "done", "link_index": command["index"], "version": f"v{command['index']}"}
        )

    def _reg_apply_link(self, key: tuple[str, str, str], body: dict[str, Any]) -> int:
        sequence = tuple(body["source"].split("/"))
        if body.get("source_submission_id"):
            index = int(self.submissions[body["source_submission_id"]]["index"])
        else:
            index = int(body["source_version_index"])
        source = self.versions[sequence][index]
        col = self.collections.setdefault(key, self._reg_new_collection(key))
        found = [
            link
            for link in col["links"]
            if link["source"]["version_index"] == index
            and link["source"]["sequence"] == "/".join(sequence)
        ]
        if found:
            link_index = found[0]["link_index"]
        else:
            link_index = len(col["links"])
            col["links"].append(
                {
                    "link_index": link_index,
                    "source": {
                        "sequence": "/".join(sequence),
                        "version_index": index,
                        "version_id": source["id"],
                        "type": source["type"],
                        "manifest_digest": source["manifest_digest"],
                        "size": source["size"],
                        "metadata": source["metadata"],
                    },
                    "linked_by": self.user,
                    "linked_at": "2026-01-02T00:00:00+00:00",
                    "run_id": body.get("run_id", ""),
                }
            )
            col["aliases"]["latest"] = link_index
            col["history"].append({"action": "linked", "version": f"v{link_index}"})
        for alias in body["aliases"]:
            col["aliases"][alias] = link_index
        return int(link_index)

    def _reg_new_collection(self, key: tuple[str, str, str]) -> dict[str, Any]:
        return {"description": "", "tags": [], "links": [], "aliases": {}, "history": []}

    # -- registries and collections --------------------------------------------------------------

    def _reg_regs(self, entity: str) -> list[dict[str, Any]]:
        return [{"entity": entity, **r} for r in self.registries.values()]

    def _reg_registry(self, body: Any, query: dict[str, str], e: str, name: str) -> httpx.Response:
        if name not in self.registries:
            return error(404, "not_found", f"entity {e!r} has no registry {name!r}")
        return ok({"entity": e, **self.registries[name]})

    def _reg_new_registry(self, body: Any, query: dict[str, str], e: str) -> httpx.Response:
        self.registries[body["name"]] = {"protected_aliases": ["production"], **body}
        return ok({"entity": e, **self.registries[body["name"]]}, 201)

    def _reg_patch_registry(
        self, body: Any, query: dict[str, str], e: str, name: str
    ) -> httpx.Response:
        self.registries[name].update(body)
        return ok({"entity": e, **self.registries[name]})

    def _reg_view(self, key: tuple[str, str, str], aliases: bool = True) -> dict[str, Any]:
        col = self.collections[key]
        view = {
            "id": "/".join(key),
            "entity": key[0],
            "registry": key[1],
            "name": key[2],
            "description": col["description"],
            "tags": col["tags"],
            "version_count": len(col["links"]),
            "created_at": "2026-01-02T00:00:00+00:00",
            "updated_at": "2026-01-02T00:00:00+00:00",
        }
        if aliases:
            view["aliases"] = {a: f"v{i}" for a, i in sorted(col["aliases"].items())}
        return view

    def _reg_collections(self, body: Any, query: dict[str, str], e: str, r: str) -> httpx.Response:
        self.filters.append(json.loads(query["filter"]) if query.get("filter") else None)
        found = [
            self._reg_view(k, aliases=False) for k in sorted(self.collections) if k[:2] == (e, r)
        ]
        return ok({"collections": found, "next": None})

    def _reg_collection(self, body: Any, query: dict[str, str], *path: str) -> httpx.Response:
        key = _key(path)
        if key not in self.collections:
            return error(404, "collection_not_found", f"no collection {'/'.join(key)!r}")
        return ok(self._reg_view(key))

    def _reg_patch_collection(self, body: Any, query: dict[str, str], *path: str) -> httpx.Response:
        col = self.collections[_key(path)]
        col.update(body)
        col["history"].append({"action": "collection_updated"})
        return ok({"command_id": "c1", "status": "done"})

    def _reg_link_view(self, key: tuple[str, str, str], link: dict[str, Any]) -> dict[str, Any]:
        aliases = sorted(
            a for a, i in self.collections[key]["aliases"].items() if i == link["link_index"]
        )
        return {
            "version": f"v{link['link_index']}",
            "collection_id": "/".join(key),
            "aliases": aliases,
            **link,
        }

    def _reg_versions(self, body: Any, query: dict[str, str], *path: str) -> httpx.Response:
        key = _key(path)
        col = self.collections[key]
        wanted = json.loads(query["filter"]) if query.get("filter") else {}
        self.filters.append(wanted or None)
        links = [self._reg_link_view(key, x) for x in reversed(col["links"])]
        if "alias" in wanted:
            links = [x for x in links if wanted["alias"] in x["aliases"]]
        return ok({"versions": links, "next": None})

    def _reg_version(self, body: Any, query: dict[str, str], *path: str) -> httpx.Response:
        key, ref = _key(path), path[3]
        col = self.collections.get(key)
        if col is None:
            return error(404, "collection_not_found", f"no collection {'/'.join(key)!r}")
        index = int(ref[1:]) if ref[1:].isdigit() and ref[0] == "v" else col["aliases"].get(ref)
        if index is None or index >= len(col["links"]):
            return error(
                404, "version_not_found", f"{'/'.join(key)} has no version or alias {ref!r}"
            )
        return ok(self._reg_link_view(key, col["links"][index]))

    def _reg_unlink(self, body: Any, query: dict[str, str], *path: str) -> httpx.Response:
        self.collections[_key(path)]["history"].append({"action": "unlinked", "version": path[3]})
        return ok({"status": "done"})

    def _reg_guard(self, alias: str) -> httpx.Response | None:
        if alias == "production" and self.role != "admin":
            return error(
                403,
                "alias_protected",
                "only an admin may move the protected alias(es) production in the 'model' registry",
            )
        return None

    def _reg_put_alias(self, body: Any, query: dict[str, str], *path: str) -> httpx.Response:
        key, alias = _key(path), path[3]
        refused = self._reg_guard(alias)
        if refused is not None:
            return refused
        self.collections[key]["aliases"][alias] = int(body["version"][1:])
        self.collections[key]["history"].append({"action": "alias_added", "alias": alias})
        # Still pending after the route's wait: the SDK polls the command, which is done.
        command_id = str(uuid.uuid4())
        self.commands[command_id] = {"polls": self.command_polls, "index": int(body["version"][1:])}
        return ok({"command_id": command_id, "status": "pending"}, 202)

    def _reg_delete_alias(self, body: Any, query: dict[str, str], *path: str) -> httpx.Response:
        key, alias = _key(path), path[3]
        refused = self._reg_guard(alias)
        if refused is not None:
            return refused
        self.collections[key]["aliases"].pop(alias)
        self.collections[key]["history"].append({"action": "alias_removed", "alias": alias})
        return ok({"status": "done"})

    def _reg_history(self, body: Any, query: dict[str, str], *path: str) -> httpx.Response:
        col = self.collections[_key(path)]
        if "at" in query:
            held = col["aliases"].get(query["alias"])
            at = query["at"]
            return ok(
                {
                    "alias": query["alias"],
                    "at": at,
                    "version": None if at < "2026" or held is None else f"v{held}",
                }
            )
        entries = [
            {"seq": n + 1, "at": "2026-01-02T00:00:00+00:00", "actor": self.user, **entry}
            for n, entry in enumerate(col["history"])
            if "alias" not in query or entry.get("alias") == query["alias"]
        ]
        return ok({"entries": entries, "next": None})


def _key(path: tuple[str, ...]) -> Key:
    """The (entity, registry, collection) that a route's path groups start with."""
    entity, registry, collection = path[:3]
    return entity, registry, collection


def install(api: FakeCairn, monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve ``api`` to every client the SDK opens; polls and retries do not wait."""
    monkeypatch.setattr("cairn.http.time.sleep", lambda s: None)
    monkeypatch.setattr("cairn.registry.remote.time.sleep", lambda s: None)
    monkeypatch.setattr(
        cairn.session, "ApiClient", functools.partial(ApiClient, transport=api.transport)
    )
