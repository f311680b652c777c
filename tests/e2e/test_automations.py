"""Automations end to end: a W&B automation script with only the imports changed, fired by
moving `production` in the registry; one signed POST that `standardwebhooks` verifies, and
nothing for an alias that does not match."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path
from urllib.parse import quote

import httpx
from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks import Webhook

from tests.e2e.conftest import UserFactory
from tests.e2e.seeds import run_script
from tests.e2e.test_seed_artifacts import sdk_env

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # base64 of 24 bytes, a test secret

# Written as a W&B user writes it (wandb.automations, wandb.Api); only the imports differ.
AUTOMATION_SCRIPT = """
import cairn as wandb
from cairn.automations import ArtifactEvent, OnAddArtifactAlias, SendWebhook

api = wandb.Api()
integration = api.create_webhook_integration(name="deployer", url="{url}", secret="{secret}")
collection = api.artifact_collection(type_name="model", name="model-registry/Digits")
event = OnAddArtifactAlias(scope=collection, filter=ArtifactEvent.alias.eq("production"))
action = SendWebhook.from_integration(
    integration,
    payload={{"alias": "${{alias}}", "model": "${{artifact_collection_name}}",
              "version": "${{artifact_version_string}}", "by": "${{event_author}}"}},
)
api.create_automation(event >> action, name="deploy-on-production", description="ship it")
"""

TWO_VERSIONS = """
import cairn as wandb
for n in range(2):
    with wandb.init(project="digits") as run:
        model = wandb.Artifact("digits-cnn", type="model")
        with model.new_file("weights.txt") as f:
            f.write(f"weights {n}")
        run.log_artifact(model)
        run.link_artifact(model, "model-registry/Digits")
"""


async def test_moving_production_fires_one_signed_webhook_and_staging_none(
    http: httpx.AsyncClient, new_user: UserFactory, base_url: str, tmp_path: Path
) -> None:
    user = await new_user("auto")
    env = sdk_env(user, base_url, tmp_path)
    received: list[tuple[bytes, dict[str, str]]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((await request.read(), dict(request.headers)))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    async with TestServer(app, host="127.0.0.1") as server:
        url = str(server.make_url("/hook"))
        linked = run_script(textwrap.dedent(TWO_VERSIONS), tmp_path, env)
        assert linked.returncode == 0, linked.stderr
        script = textwrap.dedent(AUTOMATION_SCRIPT).format(url=url, secret=SECRET)
        created = run_script(script, tmp_path, env)
        assert created.returncode == 0, created.stderr

        aliases = (
            f"/registry/v1/entities/{user.name}/registries/model/collections/"
            f"{quote('Digits', safe='')}/aliases"
        )
        staging = await http.put(f"{aliases}/staging", json={"version": "v0"}, headers=user.headers)
        production = await http.put(
            f"{aliases}/production", json={"version": "v1"}, headers=user.headers
        )
        assert staging.status_code == 200, staging.text
        assert production.status_code == 200, production.text
        for _ in range(300):
            if received:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # a second (wrong) POST would arrive by now

    assert len(received) == 1
    body, headers = received[0]
    Webhook(SECRET).verify(body, headers)
    payload = json.loads(body)
    assert payload == {
        "alias": "production",
        "model": "Digits",
        "version": f"{user.name}/model-registry/Digits:v1",  # W&B: entity/project/name:vN
        "by": user.name,
    }
