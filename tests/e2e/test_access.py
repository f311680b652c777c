"""Every route but health needs a key; another entity's things are invisible (404)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import UserFactory

ROUTES = [
    ("GET", "/ingest/v1/viewer"),
    ("GET", "/ingest/v1/entities/someone/projects"),
    ("POST", "/ingest/v1/entities/someone/projects/p/runs"),
    ("GET", "/manifest/v1/anything"),
    ("GET", "/storage/v1/anything"),
    ("GET", "/registry/v1/anything"),
    ("GET", "/automations/v1/anything"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("key", [None, "cairn_wrong"])
async def test_a_missing_or_wrong_key_is_401_everywhere(
    http: httpx.AsyncClient, method: str, path: str, key: str | None
) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    response = await http.request(method, path, headers=headers, json={})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_another_entitys_key_gets_404(http: httpx.AsyncClient, new_user: UserFactory) -> None:
    alice, bob = await new_user("alice"), await new_user("bob")
    run = {"run_id": "r1", "name": "first"}
    mine = await http.post(
        f"/ingest/v1/entities/{alice.name}/projects/p/runs", json=run, headers=alice.headers
    )

    theirs = await http.post(
        f"/ingest/v1/entities/{alice.name}/projects/p/runs", json=run, headers=bob.headers
    )
    listing = await http.get(f"/ingest/v1/entities/{alice.name}/projects", headers=bob.headers)
    members = await http.get(f"/ingest/v1/entities/{alice.name}/members", headers=bob.headers)

    assert mine.status_code == 201, mine.text
    assert theirs.status_code == 404
    assert listing.status_code == 404
    assert members.status_code == 404


async def test_roles_in_a_team(http: httpx.AsyncClient, new_user: UserFactory) -> None:
    alice, bob = await new_user("alice"), await new_user("bob")
    team = f"team-{alice.name}"
    created = await http.post("/ingest/v1/teams", json={"name": team}, headers=alice.headers)
    as_viewer = await http.put(
        f"/ingest/v1/entities/{team}/members/{bob.name}",
        json={"role": "viewer"},
        headers=alice.headers,
    )
    assert created.status_code == 201
    assert as_viewer.status_code == 200

    run = {"run_id": "r1"}
    path = f"/ingest/v1/entities/{team}/projects/p/runs"
    # Bob's new role reaches every service within the auth cache's lifetime.
    denied = await http.post(path, json=run, headers=bob.headers)
    allowed = await http.post(path, json=run, headers=alice.headers)

    assert denied.status_code in {403, 404}
    assert allowed.status_code == 201


async def test_bad_input_is_a_clear_400(http: httpx.AsyncClient, new_user: UserFactory) -> None:
    alice = await new_user("alice")
    url = f"/ingest/v1/entities/{alice.name}/projects/p/runs"

    bad_id = await http.post(url, json={"run_id": "../etc"}, headers=alice.headers)
    unknown = await http.post(url, json={"run_id": "r1", "colour": 1}, headers=alice.headers)

    assert bad_id.status_code == 400
    assert "run id" in bad_id.text
    assert unknown.status_code == 400


def test_cli_login_stores_the_key_and_whoami_uses_it(
    base_url: str, admin_key: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CAIRN_API_KEY"}
    env["CAIRN_CONFIG_DIR"] = str(tmp_path)
    env["CAIRN_BASE_URL"] = base_url

    def cairn(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cairn", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    before = cairn("whoami")
    login = cairn("login", admin_key)
    after = cairn("whoami")

    assert before.returncode != 0
    assert "cairn login" in before.stderr
    assert login.returncode == 0, login.stderr
    assert (tmp_path / "credentials.json").stat().st_mode & 0o777 == 0o600
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("admin (server admin)")
