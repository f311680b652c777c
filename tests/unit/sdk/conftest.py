"""Every SDK unit test gets its own cache and config dirs, silent progress bars and no active
run left over; ``fake`` serves our API from memory to every client the SDK opens."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

import cairn.session
from cairn.http import ApiClient
from cairn.sdk import state
from tests.unit.sdk.fakes import FakeCairn, FileServer


@pytest.fixture(autouse=True)
def sdk_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CAIRN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CAIRN_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CAIRN_BASE_URL", "http://cairn.test")
    monkeypatch.setenv("CAIRN_API_KEY", "test-key")
    monkeypatch.setenv("CAIRN_SILENT", "1")
    for name in ("CAIRN_PROJECT", "CAIRN_ENTITY", "CAIRN_CACHE_SIZE", "CAIRN_ARTIFACT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    run = state.active_run()
    if run is not None:
        state.clear_active(run)


@pytest.fixture
def files() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()


@pytest.fixture
def fake(files: FileServer, monkeypatch: pytest.MonkeyPatch) -> FakeCairn:
    api = FakeCairn(files)
    # Retries back off for real; the fake answers at once, so no need to wait between tries.
    monkeypatch.setattr("cairn.http.time.sleep", lambda s: None)
    monkeypatch.setattr(
        cairn.session, "ApiClient", functools.partial(ApiClient, transport=api.transport)
    )
    return api
