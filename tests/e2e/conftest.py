"""End-to-end tests: the SDK, the CLI and plain HTTP against the running stack, through the
gateway, as a user would. Users are created with unique names so tests can share the stack."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import stack_env


@dataclass(frozen=True)
class User:
    name: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def base_url() -> str:
    return stack_env("CAIRN_BASE_URL")


@pytest.fixture
def admin_key() -> str:
    return stack_env("CAIRN_API_KEY")


@pytest.fixture
async def http(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture
async def new_user(http: httpx.AsyncClient, admin_key: str, unique: str) -> UserFactory:
    return UserFactory(http, admin_key, unique)


class UserFactory:
    def __init__(self, http: httpx.AsyncClient, admin_key: str, unique: str) -> None:
        self._http, self._admin, self._unique = http, admin_key, unique

    async def __call__(self, prefix: str) -> User:
        name = f"{prefix}-{self._unique}"
        response = await self._http.post(
            "/ingest/v1/users",
            json={"name": name},
            headers={"Authorization": f"Bearer {self._admin}"},
        )
        assert response.status_code == 201, response.text
        return User(name=name, key=response.json()["api_key"])


def cairn_dev(*args: str) -> str:
    """Drive the local stack (stop, start or kill a component) as an operator would."""
    done = subprocess.run(
        [sys.executable, "-m", "cairn_dev", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"cairn-dev {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout
