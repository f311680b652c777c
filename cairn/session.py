"""What a run, its artifacts and the public API share: the server connection, the connection
pool for object storage, the caches and who the caller is."""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Protocol

import httpx

from cairn.artifacts.cache import ContentCache
from cairn.artifacts.object_get import ObjectGetter
from cairn.http import USER_AGENT, ApiClient, segment, tls_context
from cairn.names import check_entity_name, check_project_name
from cairn.settings import ClientConfig

DEFAULT_PROJECT = "uncategorized"  # W&B's project when none is given
TRANSFER_CONNECTIONS = 32
TRANSFER_TIMEOUT_S = 120.0  # between two reads of a transfer, not for the whole of it


class _Closeable(Protocol):
    def close(self) -> None: ...


def _close_all(clients: list[_Closeable]) -> None:
    while clients:
        clients.pop().close()


class Session:
    """Lazily opened connections; ``close()`` releases them and a later call reopens them, so
    an artifact stays usable after the run that logged it has finished."""

    def __init__(
        self, config: ClientConfig | None = None, *, timeout_s: float | None = None
    ) -> None:
        self.config = config or ClientConfig.load()
        self.timeout_s = timeout_s or 30.0
        self.cache = ContentCache()
        self._lock = threading.Lock()  # worker threads may ask for the transfer client first
        self._api: ApiClient | None = None
        self._transfer: httpx.Client | None = None
        self._objects: ObjectGetter | None = None
        self._viewer: dict[str, Any] | None = None
        self._projects: set[tuple[str, str]] = set()
        self._open: list[_Closeable] = []
        # Closes what is still open when the session is collected or the interpreter exits.
        weakref.finalize(self, _close_all, self._open)

    @property
    def api(self) -> ApiClient:
        with self._lock:
            if self._api is None:
                self._api = ApiClient(self.config, timeout_s=self.timeout_s)
                self._open.append(self._api)
            return self._api

    @property
    def objects(self) -> ObjectGetter:
        """GETs of presigned object storage URLs: the blob downloads."""
        with self._lock:
            if self._objects is None:
                self._objects = ObjectGetter(
                    tls=tls_context(), timeout_s=TRANSFER_TIMEOUT_S, user_agent=USER_AGENT
                )
                self._open.append(self._objects)
            return self._objects

    @property
    def transfer(self) -> httpx.Client:
        """One pool for presigned object storage PUTs and HTTP references (no Cairn key)."""
        with self._lock:
            if self._transfer is None:
                limits = httpx.Limits(
                    max_connections=TRANSFER_CONNECTIONS,
                    max_keepalive_connections=TRANSFER_CONNECTIONS,
                )
                self._transfer = httpx.Client(
                    timeout=httpx.Timeout(TRANSFER_TIMEOUT_S, connect=15.0),
                    limits=limits,
                    follow_redirects=True,
                    headers={"User-Agent": USER_AGENT},
                    verify=tls_context(),
                )
                self._open.append(self._transfer)
            return self._transfer

    def close(self) -> None:
        with self._lock:
            _close_all(self._open)
            self._api = None
            self._transfer = None
            self._objects = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def viewer(self) -> dict[str, Any]:
        """``GET /ingest/v1/viewer``: the caller, once per session."""
        if self._viewer is None:
            self._viewer = dict(self.api.get("/ingest/v1/viewer"))
        return self._viewer

    def default_entity(self) -> str:
        entity = os.environ.get("CAIRN_ENTITY") or self.viewer().get("default_entity")
        if not entity:
            raise ValueError("no entity given and the server names no default entity for the key")
        return check_entity_name(str(entity))

    @staticmethod
    def default_project() -> str:
        return check_project_name(os.environ.get("CAIRN_PROJECT") or DEFAULT_PROJECT)

    def ensure_project(self, entity: str, project: str) -> None:
        """Create the project if needed (W&B creates projects on first use); idempotent."""
        if (entity, project) in self._projects:
            return
        self.api.post(f"/ingest/v1/entities/{segment(entity)}/projects", {"name": project})
        self._projects.add((entity, project))
