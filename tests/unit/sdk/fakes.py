"""Fakes for the SDK's unit tests.

``FakeCairn`` fakes our own HTTP API (docs/http-api.md) behind ``httpx.MockTransport``: storage
holds every blob (so nothing is PUT), manifest commits submissions at once (or after a few
polls, or rejects them). ``FileServer`` is a plain static HTTP server on loopback: the target of
download URLs and of ``http://`` references (no S3 semantics are imitated).
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import httpx


class LoopbackServer:
    """An HTTP server on 127.0.0.1, in a thread of its own, answering with ``_handler()``;
    HTTPS with ``tls`` (a server-side context)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.scheme = "http" if tls is None else "https"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError


class FileServer(LoopbackServer):
    """Serves ``files[path]`` over HTTP with an ETag; ``corrupt`` paths serve other bytes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.etags: dict[str, str] = {}
        self.corrupt: set[str] = set()
        self.gets: list[str] = []
        super().__init__()

    def put(self, path: str, data: bytes, etag: str | None = None) -> str:
        self.files[path] = data
        self.etags[path] = etag or hashlib.md5(data, usedforsecurity=False).hexdigest()
        return f"{self.url}{path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _head(self) -> bytes | None:
                path = urlparse(self.path).path
                data = server.files.get(path)
                if data is None:
                    self.send_error(404)
                    return None
                if path in server.corrupt:
                    data = bytes(reversed(data)) + b"!"
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", f'"{server.etags[path]}"')
                self.end_headers()
                return data

            def do_HEAD(self) -> None:
                self._head()

            def do_GET(self) -> None:
                server.gets.append(urlparse(self.path).path)
                data = self._head()
                if data is not None:
                    self.wfile.write(data)

        return Handler


@dataclass
class FakeCairn:
    """Our API, in memory. ``requests`` records every call as ``(method, path, body)``."""

    files: FileServer
    user: str = "alice"
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    versions: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    aliases: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)
    submissions: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending_polls: int = 0
    reject_reason: str | None = None
    failures: dict[str, list[httpx.Response]] = field(default_factory=dict)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def calls(self, method: str, pattern: str) -> list[Any]:
        """Bodies of the calls whose path matches ``pattern`` (a regex)."""
        return [b for m, p, b in self.requests if m == method and re.search(pattern, p)]

    def fail(self, suffix: str, *responses: httpx.Response) -> None:
        """Answer the next calls whose path ends with ``suffix`` with ``responses`` first."""
        self.failures.setdefault(suffix, []).extend(responses)

    def hold(self, data: bytes) -> str:
        """Store a blob (as if uploaded earlier); returns its digest."""
        digest = hashlib.sha256(data).hexdigest()
        self.files.put(f"/blobs/{digest}", data)
        return digest

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path)
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, path, body))
        for suffix, queued in self.failures.items():
            if path.endswith(suffix) and queued:
                return queued.pop(0)
        for method, pattern, route in self._routes():
            match = re.fullmatch(pattern, path)
            if match and method == request.method:
                query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
                return route(body, query, *match.groups())
        return error(404, "not_found", f"no route {request.method} {path}")

    def _routes(self) -> list[tuple[str, str, Callable[..., httpx.Response]]]:
        p = r"/v1/entities/([^/]+)/projects/([^/]+)"
        return [
            ("GET", "/ingest/v1/viewer", self._viewer),
            ("POST", r"/ingest/v1/entities/([^/]+)/projects", self._project),
            ("POST", f"/ingest{p}/runs", lambda b, q, e, pr: ok({"path": f"{e}/{pr}"}, 201)),
            ("POST", f"/ingest{p}/runs/([^/]+)/finish", lambda b, q, e, pr, r: ok({}, 202)),
            ("GET", f"/ingest{p}/runs/([^/]+)", self._run),
            ("POST", f"/ingest{p}/artifacts", self._submit),
            ("POST", f"/ingest{p}/artifacts/used", lambda b, q, e, pr: ok({}, 202)),
            ("POST", r"/storage/v1/entities/([^/]+)/uploads", self._uploads),
            ("POST", r"/storage/v1/entities/([^/]+)/downloads", self._downloads),
            ("GET", f"/manifest{p}/submissions/([^/]+)", self._submission),
            ("GET", f"/manifest{p}/artifacts", self._collections),
            ("GET", f"/manifest{p}/artifacts/([^/]+)", self._collection),
            ("GET", f"/manifest{p}/artifacts/([^/]+)/versions", self._versions),
            ("GET", f"/manifest{p}/artifacts/([^/]+)/versions/([^/]+)", self._version),
        ]

    def _run(self, body: Any, query: dict[str, str], e: str, p: str, r: str) -> httpx.Response:
        finished = self.calls("POST", rf"/{e}/projects/{p}/runs/{r}/finish$")
        return ok({"path": f"{e}/{p}/{r}", "id": r, "state": "finished" if finished else "running"})

    def _viewer(self, body: Any, query: dict[str, str]) -> httpx.Response:
        viewer = {"user": self.user, "admin": False, "default_entity": self.user}
        return ok({**viewer, "entities": {self.user: "admin"}})

    def _project(self, body: Any, query: dict[str, str], entity: str) -> httpx.Response:
        return ok({"entity": entity, "project": body["name"], "created": True}, 201)

    def _uploads(self, body: Any, query: dict[str, str], entity: str) -> httpx.Response:
        return ok({"present": [b["digest"] for b in body["blobs"]], "uploads": []})

    def _downloads(self, body: Any, query: dict[str, str], entity: str) -> httpx.Response:
        missing = [d for d in body["digests"] if f"/blobs/{d}" not in self.files.files]
        if missing:
            return error(404, "missing_blobs", "not stored", {"missing": missing})
        return ok({"urls": {d: f"{self.files.url}/blobs/{d}" for d in body["digests"]}})

    def _submit(
        self, body: Any, query: dict[str, str], entity: str, project: str
    ) -> httpx.Response:
        raw = body["manifest_json"].encode()
        assert hashlib.sha256(raw).hexdigest() == body["manifest_digest"]
        self.hold(raw)
        key = (entity, project, body["name"])
        versions = self.versions.setdefault(key, [])
        found = [v for v in versions if v["manifest_digest"] == body["manifest_digest"]]
        if found:
            version = found[0]
        else:
            contents = json.loads(raw)["contents"]
            version = {
                "id": str(uuid.uuid4()),
                "sequence": "/".join(key),
                "name": body["name"],
                "type": body["type"],
                "version_index": len(versions),
                "version": f"v{len(versions)}",
                "manifest_digest": body["manifest_digest"],
                "size": sum(e["size"] for e in contents.values()),
                "file_count": len(contents),
                "description": body["description"],
                "metadata": body["metadata"],
                "created_at": "2026-01-01T00:00:00+00:00",
                "logged_by": None,
                "used_by": [],
            }
            versions.append(version)
        held = self.aliases.setdefault(key, {})
        for alias in ["latest", *body["aliases"]]:
            held[alias] = version["version_index"]
        submission_id = str(uuid.uuid5(uuid.NAMESPACE_URL, body["client_id"]))
        self.submissions[submission_id] = {
            "key": key,
            "index": version["version_index"],
            "polls": 0,
        }
        return ok({"submission_id": submission_id, "sequence": "/".join(key)}, 202)

    def _described(self, key: tuple[str, str, str], index: int) -> dict[str, Any]:
        version = dict(self.versions[key][index])
        version["aliases"] = sorted(a for a, i in self.aliases[key].items() if i == index)
        return version

    def _submission(
        self, body: Any, query: dict[str, str], e: str, p: str, sid: str
    ) -> httpx.Response:
        submission = self.submissions.get(sid)
        if submission is None or submission["polls"] < self.pending_polls:
            if submission is not None:
                submission["polls"] += 1
            return ok({"status": "pending"})
        if self.reject_reason is not None:
            return ok({"status": "rejected", "reason": self.reject_reason})
        version = self._described(submission["key"], submission["index"])
        return ok({"status": "committed", "version": version})

    def _collections(self, body: Any, query: dict[str, str], e: str, p: str) -> httpx.Response:
        items = [
            {
                "name": k[2],
                "type": v[0]["type"],
                "version_count": len(v),
                "aliases": self.aliases[k],
            }
            for k, v in self.versions.items()
            if k[:2] == (e, p) and (not query.get("type") or v[0]["type"] == query["type"])
        ]
        return ok({"artifacts": items})

    def _collection(
        self, body: Any, query: dict[str, str], e: str, p: str, name: str
    ) -> httpx.Response:
        versions = self.versions.get((e, p, name))
        if not versions:
            return error(404, "not_found", f"no artifact {name!r} in {e}/{p}")
        key = (e, p, name)
        return ok(
            {
                "name": name,
                "type": versions[0]["type"],
                "version_count": len(versions),
                "aliases": self.aliases[key],
            }
        )

    def _versions(
        self, body: Any, query: dict[str, str], e: str, p: str, name: str
    ) -> httpx.Response:
        key = (e, p, name)
        if key not in self.versions:
            return error(404, "not_found", f"no artifact {name!r} in {e}/{p}")
        limit, after = int(query.get("limit", 50)), int(query.get("after", -1))
        page = [v for v in self.versions[key] if v["version_index"] > after][:limit]
        more = any(v["version_index"] > after + limit for v in self.versions[key])
        return ok(
            {
                "versions": [self._described(key, v["version_index"]) for v in page],
                "next": str(page[-1]["version_index"]) if more else None,
            }
        )

    def _version(self, body: Any, query: dict[str, str], *path: str) -> httpx.Response:
        e, p, name, ref = path
        key = (e, p, name)
        if key not in self.versions:
            return error(404, "not_found", f"no artifact {name!r} in {e}/{p}")
        index = int(ref[1:]) if re.fullmatch(r"v\d+", ref) else self.aliases[key].get(ref)
        if index is None or index >= len(self.versions[key]):
            return error(404, "not_found", f"artifact {name!r} has no version {ref!r}")
        return ok(self._described(key, index))


def ok(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def error(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "message": message, "request_id": "req-1"}
    if details:
        body["details"] = details
    return httpx.Response(status, json={"error": body})
