"""Alias move → webhook received, over the running stack (issue 6's benchmark).

    eval "$(./cairn-dev env)"; .venv/bin/python -m benchmarks.webhook_latency --moves 200

Moves `production` between two linked versions of a registered model through the registry's
HTTP API (which answers once the move is applied) and times each move from the request to the
signed POST arriving at a local receiver. Prints one JSON object.

By default each move starts as soon as the previous one's webhook arrived, while the services
still write what follows it (the delivery's log, the command's result); ``--gap-ms 100`` leaves
that much time between moves, as moves made by people or CI jobs are.

The timed moves follow ``--warmup`` moves made the same way, whose figures are given apart:
right after ``cairn-dev up`` the first few seconds of moves are slower (the broker's compiler
and everyone's caches are cold), which is a fact about starting a stack, not about moving an
alias on one that runs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import statistics
import time
import uuid
from typing import Any

import httpx
from aiohttp import web

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def setup(url: str) -> None:
    """Two linked versions and the automation, through the SDK (run in a worker thread)."""
    import cairn  # noqa: PLC0415 - imported once CAIRN_API_KEY names the benchmark's user
    from cairn.automations import ArtifactEvent, OnAddArtifactAlias, SendWebhook  # noqa: PLC0415

    for n in range(2):
        with cairn.init(project="bench-hooks") as run:
            model = cairn.Artifact("bench-model", type="model")
            with model.new_file("weights.txt") as f:
                f.write(f"weights {n}")
            run.log_artifact(model)
            run.link_artifact(model, "model-registry/Bench")
    api = cairn.Api()
    integration = api.create_webhook_integration(name="bench", url=url, secret=SECRET)
    collection = api.artifact_collection(type_name="model", name="model-registry/Bench")
    event = OnAddArtifactAlias(scope=collection, filter=ArtifactEvent.alias.eq("production"))
    api.create_automation(event >> SendWebhook.from_integration(integration), name="bench")


def percentile(ordered: list[float], q: float) -> float:
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 1)


async def main(moves: int, gap_ms: float, warmup: int) -> dict[str, Any]:
    base_url, admin_key = os.environ["CAIRN_BASE_URL"], os.environ["CAIRN_API_KEY"]
    user = f"hooks-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        created = await http.post(
            "/ingest/v1/users",
            json={"name": user},
            headers={"Authorization": f"Bearer {admin_key}"},
        )
        created.raise_for_status()
        key = created.json()["api_key"]
        os.environ["CAIRN_API_KEY"] = key
        arrivals: asyncio.Queue[float] = asyncio.Queue()

        async def receive(request: web.Request) -> web.Response:
            await request.read()
            arrivals.put_nowait(time.perf_counter())
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", receive)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        await asyncio.to_thread(setup, f"http://127.0.0.1:{port}/hook")

        url = f"/registry/v1/entities/{user}/registries/model/collections/Bench/aliases/production"
        headers = {"Authorization": f"Bearer {key}"}
        end_to_end, put_ms = [], []
        for n in range(warmup + moves):
            started = time.perf_counter()
            response = await http.put(url, json={"version": f"v{n % 2}"}, headers=headers)
            response.raise_for_status()
            put_ms.append((time.perf_counter() - started) * 1000)
            arrived = await asyncio.wait_for(arrivals.get(), timeout=60)
            end_to_end.append((arrived - started) * 1000)
            await asyncio.sleep(gap_ms / 1000)
        await runner.cleanup()
    timed, puts = sorted(end_to_end[warmup:]), sorted(put_ms[warmup:])
    result: dict[str, Any] = {
        "moves": moves,
        "gap_ms": gap_ms,
        "move_to_webhook_ms": {
            "p50": round(statistics.median(timed), 1),
            "p95": percentile(timed, 0.95),
            "p99": percentile(timed, 0.99),
            "max": round(timed[-1], 1),
        },
        "alias_put_ms": {"p50": round(statistics.median(puts), 1), "p99": percentile(puts, 0.99)},
        "targets_ms": {"p50": 25, "p99": 100},
    }
    if warmup:
        early = sorted(end_to_end[:warmup])
        result["warmup"] = {
            "moves": warmup,
            "move_to_webhook_ms": {
                "p50": round(statistics.median(early), 1),
                "p99": percentile(early, 0.99),
            },
        }
    result["load_average"] = os.getloadavg()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=0)
    parser.add_argument("--warmup", type=int, default=100, help="untimed moves made first")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.moves, args.gap_ms, args.warmup)), indent=2))
